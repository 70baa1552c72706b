package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// listPage is how many resources a page of list shows. Twenty table rows
// stay within what every adapter shows of one text: a Discord embed
// description (4096 characters) with names of typical length, and one or
// two Slack sections of a 50-block message.
const listPage = 20

// historyLimit caps the events status shows.
const historyLimit = 12

// list shows the resources the actor may see, a page at a time.
func (r *Router) list(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) > 0 {
		return r.fail(ctx, invalidf("list takes no arguments, only options: --team T, --env E, --state S, --mine, --all, --pending, --after #id, --before #id (got %s).", quoteInput(a.pos[0], 32)))
	}
	cursor, err := pageCursor(a)
	if err != nil {
		return r.fail(ctx, err)
	}
	if a.has("pending") {
		return r.pending(ctx, req, a, cursor)
	}
	org := r.engine.Org()
	opts := platform.ListOptions{Team: a.flags["team"], Environment: a.flags["env"], Mine: a.has("mine"), All: a.has("all"), Limit: listPage}
	var state platform.State
	if a.has("state") {
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
	var states []platform.State
	if state != "" {
		states = []platform.State{state}
	}
	page, err := r.engine.ListPage(ctx, req.Actor, opts, cursor, states...)
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
	if page.Total == 0 {
		hint := " Request one with /idp create <service>."
		if !opts.All && state == "" {
			hint = " Add --all to include deleted ones, or request one with /idp create <service>."
		}
		return Reply{Title: fmt.Sprintf("No resources of %s.%s", scope, hint), Ephemeral: true}
	}
	reply := Reply{Title: fmt.Sprintf("%s of %s:", pluralCount(page.Total, "resource"), scope), Ephemeral: true}
	rows := [][]string{{"ID", "NAME", "SERVICE", "TEAM/ENV", "STATE", "AGE"}}
	now := r.now()
	for _, res := range page.Resources {
		rows = append(rows, []string{res.Ref(), res.Name, res.Service, res.Team + "/" + res.Environment, string(res.State), age(now, res.CreatedAt)})
	}
	if len(page.Resources) > 0 {
		reply.Sections = append(reply.Sections, tableSections(rows)...)
	}
	if !page.HasNewer() && !page.HasOlder() {
		return reply
	}
	where := pageText(page.Offset, len(page.Resources), page.Total, listPage, "rows") + "; newest first."
	var narrow []string
	for _, f := range []string{"team", "env", "state", "mine"} {
		if !a.has(f) {
			narrow = append(narrow, "--"+f)
		}
	}
	if len(narrow) > 0 {
		where += " Narrow it with " + strings.Join(narrow, ", ") + "."
	}
	reply.Sections = append(reply.Sections, Section{Text: where})
	reply.Actions = pageActions(listFilters(a), page.HasNewer(), page.HasOlder(), page.Resources)
	return reply
}

// pageActions are the Previous and Next buttons of a page of rs: list
// commands with the page's filters and the #id of the resource the next
// page starts after or the previous one ends before. A page left empty (its
// resources went away) offers the first page instead.
func pageActions(filters string, newer, older bool, rs []*platform.Resource) []Action {
	if len(rs) == 0 {
		return []Action{{Label: "First page", Command: "list" + filters}}
	}
	var out []Action
	if newer {
		out = append(out, Action{Label: "Previous", Command: "list" + filters + " --before " + rs[0].Ref()})
	}
	if older {
		out = append(out, Action{Label: "Next", Command: "list" + filters + " --after " + rs[len(rs)-1].Ref()})
	}
	return out
}

// pageCursor reads --after and --before, which take a #id.
func pageCursor(a args) (platform.Cursor, error) {
	var c platform.Cursor
	if a.has("after") && a.has("before") {
		return c, invalidf("Use --after or --before, not both: a page starts after one resource or ends before one.")
	}
	for name, dst := range map[string]*int64{"after": &c.After, "before": &c.Before} {
		if !a.has(name) {
			continue
		}
		v := a.flags[name]
		id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(v), "#"), 10, 64)
		if err != nil || id <= 0 {
			return c, invalidf("--%s takes the #id of a resource, like --%s #123 (got %s).", name, name, quoteInput(v, 32))
		}
		*dst = id
	}
	return c, nil
}

// listFilters renders the filters of a list command as its options, each
// preceded by a space, in the order help lists them: what a page button
// repeats so that the next page shows the same selection.
func listFilters(a args) string {
	var b strings.Builder
	for _, name := range []string{"team", "env", "state"} {
		if a.has(name) {
			b.WriteString(" --" + name + " " + word(a.flags[name]))
		}
	}
	for _, name := range []string{"mine", "all", "pending"} {
		if a.has(name) {
			b.WriteString(" --" + name)
		}
	}
	return b.String()
}

// word returns s as one word of a command line: as it is when it needs no
// quotes, quoted otherwise.
func word(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`"'\‘’“”`, r)
	}) && !strings.HasPrefix(s, "-") {
		return s
	}
	return Quote(s)
}

// pageText says where a page lies: "Page 2 · rows 21–40 of 10 000".
func pageText(offset, n, total, size int, noun string) string {
	if n == 0 {
		return fmt.Sprintf("No more %s: all %s come before", noun, grouped(total))
	}
	return fmt.Sprintf("Page %s · %s %s–%s of %s", grouped(offset/size+1), noun, grouped(offset+1), grouped(offset+n), grouped(total))
}

// grouped renders n with its digits in groups of three, separated by
// no-break spaces: 10 000.
func grouped(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "\u00a0" + s[i:]
	}
	return s
}

// pluralCount is plural with the count grouped: "10 000 resources".
func pluralCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return grouped(n) + " " + noun + "s"
}

// maxTableText is the most characters one section of a table holds, so
// that it fits a Discord embed description (4096, less its code fence)
// and at most two Slack sections.
const maxTableText = 3900

// tableSections renders rows (the first is the header) as aligned text,
// split into sections of at most maxTableText characters, each beginning
// with the header.
func tableSections(rows [][]string) []Section {
	lines := strings.Split(table(rows), "\n")
	var out []Section
	head, cur := lines[0], lines[0]
	for _, l := range lines[1:] {
		if utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(l) > maxTableText && cur != head {
			out = append(out, Section{Text: cur})
			cur = head
		}
		cur += "\n" + l
	}
	return append(out, Section{Text: cur})
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
	history, err := r.engine.History(ctx, req.Actor, res, platform.Cursor{}, historyLimit)
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
	if evs := history.Events; len(evs) > 0 {
		var lines []string
		if history.HasOlder() {
			lines = append(lines, fmt.Sprintf("(%s earlier events not shown; /idp audit %s shows them)", grouped(history.Offset), res.Ref()))
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
