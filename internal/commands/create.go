package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// create requests a resource: with key=value pairs it submits them; with
// none, an interactive adapter gets a Form to fill in.
func (r *Router) create(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) == 0 {
		return r.fail(ctx, invalidf("Which service? Use /idp create <service>, one of: %s. See /idp catalog.", strings.Join(r.engine.Catalog().Names(), ", ")))
	}
	service := a.pos[0]
	values := map[string]string{}
	for _, w := range a.pos[1:] {
		key, value, ok := strings.Cut(w, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return r.fail(ctx, invalidf("Expected key=value, got %s. Example: /idp create %s name=orders-db.", quoteInput(w, 32), truncate(service, 40)))
		}
		k := strings.ToLower(strings.TrimSpace(key))
		if a, ok := fieldAliases[k]; ok {
			k = a
		}
		if _, dup := values[k]; dup {
			return r.fail(ctx, invalidf("%s is given twice.", quoteInput(k, 32)))
		}
		values[k] = value
	}
	forTeam := strings.TrimSpace(a.flags["for-team"])
	if forTeam != "" {
		if !r.engine.Org().IsAdmin(req.Actor) {
			return r.fail(ctx, platform.Errorf(platform.Forbidden, "Only platform admins can request on behalf of a team (--for-team); request for one of your teams instead."))
		}
		if t, ok := values["team"]; ok && strings.TrimSpace(t) != forTeam {
			return r.fail(ctx, invalidf("team=%s and --for-team %s disagree; give the team once.", truncate(t, 40), truncate(forTeam, 40)))
		}
		values["team"] = forTeam
	}
	if (len(values) == 0 || forTeam != "" && len(values) == 1) && req.Interactive {
		form, err := r.Form(ctx, req.Actor, service)
		if err != nil {
			return r.fail(ctx, err)
		}
		if form.Unavailable != nil {
			return r.fail(ctx, form.Unavailable)
		}
		if forTeam != "" {
			if _, ok := r.engine.Org().Team(forTeam); !ok {
				return r.fail(ctx, notFoundWithHint("team", forTeam, r.engine.Org().TeamNames()))
			}
			form.OnBehalf = true
			for i, f := range form.Fields {
				if f.Name == "team" {
					form.Fields[i].Options, form.Fields[i].Default = []string{forTeam}, forTeam
				}
			}
		}
		form.DryRun = a.has("dry-run")
		title := "New " + form.Service.Title
		if form.DryRun {
			title = "Dry run: " + title
		}
		return Reply{Title: title, Form: form, Ephemeral: true}
	}
	return r.Submit(ctx, Submission{
		Actor:          req.Actor,
		Platform:       req.Platform,
		Channel:        req.Channel,
		Service:        service,
		Values:         values,
		DryRun:         a.has("dry-run"),
		OnBehalf:       forTeam != "",
		IdempotencyKey: req.IdempotencyKey,
	})
}

// createdReply tells the requester what was recorded and what happens next.
func (r *Router) createdReply(res *platform.Resource, p *platform.Plan) Reply {
	reply := Reply{
		Title:    fmt.Sprintf("Requested %s %s: %s for %s in %s.", res.Name, res.Ref(), res.Service, res.Team, res.Environment),
		Resource: res,
		Plan:     p,
	}
	fields := []KV{{Key: "State", Value: string(res.State)}}
	if res.State == platform.AwaitingApproval && p != nil {
		fields[0].Value += fmt.Sprintf(" (needs %s before provisioning)", plural(p.Approvals, "approval"))
	}
	if !res.SelfService {
		fields = append(fields, KV{Key: "Requested", Value: "by " + res.Requester.Display() + " on behalf of team " + res.Team})
	}
	svc, _ := r.engine.Catalog().Lookup(res.Service)
	if params := formatParams(svc, res.Parameters); params != "" {
		fields = append(fields, KV{Key: "Parameters", Value: params})
	}
	if !res.ExpiresAt.IsZero() {
		fields = append(fields, KV{Key: "Expires", Value: r.when(res.ExpiresAt)})
	}
	reply.Sections = append(reply.Sections, Section{Fields: fields})
	if p != nil {
		var warnings []string
		for _, v := range p.Warnings() {
			warnings = append(warnings, fmt.Sprintf("%s: %s", v.Rule, v.Message))
		}
		if len(warnings) > 0 {
			reply.Sections = append(reply.Sections, Section{Heading: "Warnings", Text: strings.Join(warnings, "\n")})
		}
	}
	next := "Progress follows in this thread; connection details come to you privately. Check any time with /idp status " + res.Ref() + "."
	if res.State == platform.AwaitingApproval {
		next = "The approvers were asked; you are told in this thread when they decide. Check any time with /idp status " + res.Ref() + "."
	}
	reply.Sections = append(reply.Sections, Section{Text: next})
	return reply
}

// planReply reports a dry run: validation, each policy verdict, quota,
// approvals and what would be created. It creates nothing.
func (r *Router) planReply(p *platform.Plan, form *Form) Reply {
	res := p.Resource
	reply := Reply{Plan: p, Ephemeral: true}
	label := truncate(res.Name, platform.MaxNameLength) // an invalid name may be of any length
	if label == "" {
		label = "the " + p.Service.Name
	}
	err := p.Err()
	switch platform.ErrorCode(err) {
	case "":
		reply.Title = fmt.Sprintf("Dry run: %s would be created. Nothing was created.", label)
	case platform.Unavailable:
		reply.Title = fmt.Sprintf("Dry run: %s cannot be created: %s", label, platform.ErrorMessage(err))
	case platform.Forbidden:
		reply.Title = fmt.Sprintf("Dry run: %s would be denied by policy. Nothing was created.", label)
	default:
		reply.Title = fmt.Sprintf("Dry run: %s has invalid fields. Nothing was created.", label)
	}
	reply.Errors = sortByForm(platform.ErrorFields(err), form)

	validation := "ok"
	if len(p.Errors) > 0 {
		lines := make([]string, len(p.Errors))
		for i, e := range sortByForm(append([]platform.FieldError(nil), p.Errors...), form) {
			lines[i] = "✗ " + fieldErrorText(e)
		}
		validation = strings.Join(lines, "\n")
	}
	reply.Sections = append(reply.Sections, Section{Heading: "Validation", Text: validation})
	if len(p.Errors) > 0 || p.Unavailable != nil {
		reply.Sections = append(reply.Sections, Section{Heading: "Policies", Text: "not evaluated: fix the fields above first"})
		return reply
	}
	var verdicts []string
	for _, v := range p.Verdicts {
		mark := map[platform.Outcome]string{platform.Allow: "✓", platform.Deny: "✗", platform.Warn: "!", platform.Audit: "·"}[v.Outcome]
		line := fmt.Sprintf("%s %s (%s)", mark, v.Rule, v.Outcome)
		if v.Message != "" {
			line += ": " + v.Message
		}
		verdicts = append(verdicts, line)
	}
	if len(verdicts) == 0 {
		verdicts = []string{"no policy applies"}
	}
	quota := fmt.Sprintf("no quota for %s", p.Service.Name)
	switch {
	case p.HasQuota && p.Usage >= p.Quota:
		quota = fmt.Sprintf("%s: %d of %d %s used; none left, so this request would be denied", res.Team, p.Usage, p.Quota, p.Service.Name)
	case p.HasQuota:
		quota = fmt.Sprintf("%s: %d of %d %s used; %d left after this request", res.Team, p.Usage, p.Quota, p.Service.Name, p.Quota-p.Usage-1)
	}
	approvals := "none: provisioning starts at once"
	if p.Approvals > 0 {
		approvals = fmt.Sprintf("%s needed before provisioning, %s", plural(p.Approvals, "approval"), r.approversText(p.Approvals))
	}
	reply.Sections = append(reply.Sections, Section{Heading: "Policies", Text: strings.Join(verdicts, "\n"),
		Fields: []KV{{Key: "Quota", Value: quota}, {Key: "Approvals", Value: approvals}}})
	would := []KV{
		{Key: "Service", Value: fmt.Sprintf("%s (%s)", p.Service.Name, p.Service.Type)},
		{Key: "Name", Value: res.Name},
		{Key: "Team", Value: res.Team},
		{Key: "Environment", Value: res.Environment},
	}
	if params := formatParams(p.Service, res.Parameters); params != "" {
		would = append(would, KV{Key: "Parameters", Value: params})
	}
	if p.Upstream != nil {
		would = append(would, KV{Key: "Depends on", Value: fmt.Sprintf("%s %s %s (ready)", p.Upstream.Service, p.Upstream.Name, p.Upstream.Ref())})
	}
	if !res.SelfService {
		would = append(would, KV{Key: "Requested", Value: "on behalf of team " + res.Team + " (not self-service)"})
	}
	if p.Driver != "" {
		would = append(would, KV{Key: "Driver", Value: p.Driver})
	}
	if !res.ExpiresAt.IsZero() {
		would = append(would, KV{Key: "Expires", Value: "after " + humanDuration(res.ExpiresAt.Sub(r.now()).Round(time.Hour))})
	}
	reply.Sections = append(reply.Sections, Section{Heading: "Would create", Fields: would})
	return reply
}

// formatParams renders parameters as key=value in the service's field
// order, then any others sorted.
func formatParams(svc *platform.ServiceDefinition, params map[string]any) string {
	var parts []string
	seen := map[string]bool{}
	if svc != nil {
		for _, f := range svc.Fields {
			if v, ok := params[f.Name]; ok {
				parts = append(parts, f.Name+"="+platform.FormatValue(v))
				seen[f.Name] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !seen[k] {
			parts = append(parts, k+"="+platform.FormatValue(params[k]))
		}
	}
	return strings.Join(parts, " ")
}

// approversText says who may approve n times: "from an approver
// (console:approver) or a platform admin, never the requester".
func (r *Router) approversText(n int) string {
	org := r.engine.Org()
	who := "a platform admin"
	if len(org.Approvers) > 0 {
		list := org.Approvers
		if len(list) > 5 {
			list = append(slices.Clone(list[:5]), "…")
		}
		who = fmt.Sprintf("an approver (%s) or a platform admin", strings.Join(list, ", "))
	}
	if n > 1 {
		return "each from a different " + strings.TrimPrefix(strings.TrimPrefix(who, "an "), "a ") + ", never the requester"
	}
	return "from " + who + ", never the requester"
}
