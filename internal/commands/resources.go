package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// listLimit caps the rows list shows.
const listLimit = 50

// historyLimit caps the events status shows.
const historyLimit = 12

// list shows the resources the actor may see.
func (r *Router) list(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) > 0 {
		return r.fail(ctx, invalidf("list takes no arguments, only options: --team T, --env E, --state S, --mine, --all, --pending (got %s).", quoteInput(a.pos[0], 32)))
	}
	if a.has("pending") {
		return r.pending(ctx, req, a)
	}
	org := r.engine.Org()
	opts := platform.ListOptions{Team: a.flags["team"], Environment: a.flags["env"], Mine: a.has("mine"), All: a.has("all"), Limit: listLimit + 1}
	var state platform.State
	if a.has("state") {
		var err error
		if state, err = parseState(a.flags["state"]); err != nil {
			return r.fail(ctx, err)
		}
	}
	if t := opts.Team; t != "" {
		if _, ok := org.Team(t); !ok {
			return r.fail(ctx, notFoundWithHint("team", t, org.TeamNames()))
		}
	}
	if e := opts.Environment; e != "" {
		if _, ok := org.Environment(e); !ok {
			return r.fail(ctx, notFoundWithHint("environment", e, org.EnvironmentNames()))
		}
	}
	var rs []*platform.Resource
	var err error
	if state != "" {
		rs, err = r.engine.ListIn(ctx, req.Actor, opts, state)
	} else {
		rs, err = r.engine.List(ctx, req.Actor, opts)
	}
	if err != nil {
		return r.fail(ctx, err)
	}
	scope := "your teams"
	if opts.Team != "" {
		scope = "team " + opts.Team
	} else if org.IsAdmin(req.Actor) || org.IsApprover(req.Actor) {
		scope = "all teams"
	}
	if opts.Mine {
		scope += ", requested by you"
	}
	if opts.Environment != "" {
		scope += ", in " + opts.Environment
	}
	if state != "" {
		scope += ", " + string(state)
	}
	if len(rs) == 0 {
		hint := " Request one with /idp create <service>."
		if !opts.All && state == "" {
			hint = " Add --all to include deleted ones, or request one with /idp create <service>."
		}
		return Reply{Title: fmt.Sprintf("No resources of %s.%s", scope, hint), Ephemeral: true}
	}
	more := len(rs) > listLimit
	if more {
		rs = rs[:listLimit]
	}
	rows := [][]string{{"ID", "NAME", "SERVICE", "TEAM/ENV", "STATE", "AGE"}}
	now := r.now()
	for _, res := range rs {
		rows = append(rows, []string{res.Ref(), res.Name, res.Service, res.Team + "/" + res.Environment, string(res.State), age(now, res.CreatedAt)})
	}
	reply := Reply{Title: fmt.Sprintf("%s of %s:", plural(len(rs), "resource"), scope), Ephemeral: true}
	reply.Sections = append(reply.Sections, Section{Text: table(rows)})
	if more {
		reply.Sections = append(reply.Sections, Section{Text: fmt.Sprintf("Showing the newest %d; narrow with --team, --env or --mine.", listLimit)})
	}
	return reply
}

func notFoundWithHint(what, value string, options []string) error {
	msg := fmt.Sprintf("There is no %s %s.", what, quoteInput(value, 40))
	if c := platform.Closest(value, options); c != "" {
		msg += fmt.Sprintf(" Did you mean %s?", c)
	} else {
		msg += fmt.Sprintf(" Known: %s.", strings.Join(options, ", "))
	}
	return platform.Errorf(platform.NotFound, "%s", msg)
}

// table aligns rows in columns separated by two spaces.
func table(rows [][]string) string {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			line.WriteString(c)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// oneResource returns the single resource reference a verb takes.
func oneResource(verb string, a args) (string, error) {
	switch len(a.pos) {
	case 0:
		return "", invalidf("Which resource? Use /idp %s <name> or /idp %s #<id>; /idp list shows them.", verb, verb)
	case 1:
		return a.pos[0], nil
	}
	return "", invalidf("%s takes one resource, got %d. Use the #id when names are ambiguous.", verb, len(a.pos))
}

// status shows one resource in detail.
func (r *Router) status(ctx context.Context, req Request, a args) Reply {
	ref, err := oneResource("status", a)
	if err != nil {
		return r.fail(ctx, err)
	}
	res, err := r.engine.Find(ctx, req.Actor, ref)
	if err != nil {
		return r.fail(ctx, err)
	}
	evs, err := r.engine.Events(ctx, req.Actor, res)
	if err != nil {
		return r.fail(ctx, err)
	}
	svc, _ := r.engine.Catalog().Lookup(res.Service)
	reply := Reply{Title: fmt.Sprintf("%s %s: %s", res.Name, res.Ref(), res.State), Ephemeral: true}
	fields := []KV{
		{Key: "Service", Value: fmt.Sprintf("%s (%s)", res.Service, res.ServiceType)},
		{Key: "Team", Value: res.Team},
		{Key: "Environment", Value: res.Environment},
		{Key: "State", Value: string(res.State)},
	}
	if res.Reason != "" {
		fields = append(fields, KV{Key: "Reason", Value: res.Reason})
	}
	requester := res.Requester.Display()
	if !res.SelfService {
		requester += " (on behalf of the team)"
	}
	fields = append(fields,
		KV{Key: "Requested by", Value: requester},
		KV{Key: "Created", Value: r.when(res.CreatedAt)},
	)
	switch {
	case !res.ReadyAt.IsZero():
		fields = append(fields,
			KV{Key: "Ready", Value: r.when(res.ReadyAt)},
			KV{Key: "Time to provision", Value: humanDuration(res.ProvisionDuration())},
		)
	case res.State == platform.Pending || res.State == platform.Provisioning:
		fields = append(fields, KV{Key: "Waiting for", Value: humanDuration(r.now().Sub(res.CreatedAt))})
	}
	if !res.ExpiresAt.IsZero() && res.State.Active() {
		fields = append(fields, KV{Key: "Expires", Value: r.when(res.ExpiresAt)})
	}
	reply.Sections = append(reply.Sections, Section{Fields: fields})
	if res.State.Live() {
		reply.Sections = append(reply.Sections, r.liveSection(ctx, req.Actor, res))
	}
	if len(res.Parameters) > 0 {
		var params []KV
		seen := map[string]bool{}
		if svc != nil {
			for _, f := range svc.Fields {
				if v, ok := res.Parameters[f.Name]; ok {
					params = append(params, KV{Key: f.Name, Value: platform.FormatValue(v)})
					seen[f.Name] = true
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(res.Parameters)) {
			if !seen[k] {
				params = append(params, KV{Key: k, Value: platform.FormatValue(res.Parameters[k])})
			}
		}
		reply.Sections = append(reply.Sections, Section{Heading: "Parameters", Fields: params})
	}
	if len(res.Outputs) > 0 {
		var outs []KV
		for _, k := range slices.Sorted(maps.Keys(res.Outputs)) {
			outs = append(outs, KV{Key: k, Value: res.Outputs[k]})
		}
		reply.Sections = append(reply.Sections, Section{Heading: "Outputs", Fields: outs})
	}
	if len(evs) > 0 {
		var lines []string
		if len(evs) > historyLimit {
			lines = append(lines, fmt.Sprintf("(%d earlier events not shown)", len(evs)-historyLimit))
			evs = evs[len(evs)-historyLimit:]
		}
		for _, ev := range evs {
			lines = append(lines, r.eventLine(res, ev))
		}
		reply.Sections = append(reply.Sections, Section{Heading: "History", Text: strings.Join(lines, "\n")})
	}
	return reply
}

// eventLine renders one history event: time, what, message.
func (r *Router) eventLine(res *platform.Resource, ev platform.Event) string {
	label, msg := string(ev.Kind), ev.Message
	switch ev.Kind {
	case platform.EventTransition:
		label = string(ev.To)
	case platform.EventVerdict:
		label = "policy"
	case platform.EventSecret:
		label, msg = "private", "connection details sent to "+res.Requester.Display()+" privately"
	}
	return strings.TrimRight(fmt.Sprintf("%s  %-13s %s", ev.At.In(r.loc).Format("15:04:05"), label, msg), " ")
}

// delete starts deleting a resource, after confirmation unless --yes.
func (r *Router) delete(ctx context.Context, req Request, a args) Reply {
	ref, err := oneResource("delete", a)
	if err != nil {
		return r.fail(ctx, err)
	}
	res, err := r.engine.Find(ctx, req.Actor, ref)
	if err != nil {
		return r.fail(ctx, err)
	}
	if !a.has("yes") {
		if err := r.deletable(ctx, req.Actor, res); err != nil {
			return r.fail(ctx, err)
		}
		return Reply{
			Title:     fmt.Sprintf("Confirm deletion of %s %s", res.Name, res.Ref()),
			Ephemeral: true,
			Confirm: &Confirm{
				Prompt: fmt.Sprintf("Delete %s %s (%s of team %s in %s)? What it provisioned is removed for good.", res.Name, res.Ref(), res.Service, res.Team, res.Environment),
				Yes:    "delete " + res.Ref() + " --yes",
			},
		}
	}
	res, err = r.engine.Delete(ctx, req.Actor, res.Ref())
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "deletion requested", "request_id", res.ID, "service", res.Service, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID)
	return Reply{
		Title:    fmt.Sprintf("Deleting %s %s (%s of team %s in %s).", res.Name, res.Ref(), res.Service, res.Team, res.Environment),
		Resource: res,
		Sections: []Section{{Text: "Progress follows in this thread."}},
	}
}

// deletable says why actor may not delete res now, so that nobody is asked
// to confirm a deletion that would be refused.
func (r *Router) deletable(ctx context.Context, actor platform.Actor, res *platform.Resource) error {
	return r.engine.Deletable(ctx, actor, res)
}
