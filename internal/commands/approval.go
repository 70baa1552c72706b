package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// ExtendBy is what the Extend button of an expiry warning extends by.
const ExtendBy = "7d"

// ApprovalActions are the Approve and Reject buttons of a request awaiting
// approval; Reject asks for a reason.
func ApprovalActions(r *platform.Resource) []Action {
	id := strconv.FormatInt(r.ID, 10)
	return []Action{
		{Label: "Approve", Command: "approve " + id, Style: "primary"},
		{Label: "Reject", Command: "reject " + id, Style: "danger", Input: "Reason"},
	}
}

// EventActions are the buttons of an event's message in a request's
// thread: Approve and Reject when it starts waiting for approval or its
// approvers are reminded, Retry (and Forget, after a failed deletion) when
// it failed (FailedActions), Extend when its TTL ends soon. Adapters that add
// ApprovalActions to the awaiting_approval transition themselves take only
// the others.
func EventActions(r *platform.Resource, ev platform.Event) []Action {
	switch {
	case ev.Kind == platform.EventTransition && ev.To == platform.AwaitingApproval, ev.Kind == platform.EventReminder:
		return ApprovalActions(r)
	case ev.Kind == platform.EventTransition && ev.To == platform.Failed:
		return FailedActions(r, ev)
	case ev.Kind == platform.EventExpiring:
		return []Action{{Label: "Extend " + ExtendBy, Command: fmt.Sprintf("extend %d %s", r.ID, ExtendBy), Style: "primary"}}
	}
	return nil
}

// ApprovalCard is the message posted to the approvals channel for a
// request awaiting approval: what is asked, by whom, how many approvals it
// needs, and the Approve / Reject buttons. A reminder (the text of the
// reminder event) makes it a reminder card.
func ApprovalCard(r *platform.Resource, needed int, reminder string) Reply {
	title := fmt.Sprintf("Approval needed: %s %s, %s for %s in %s", r.Name, r.Ref(), r.Service, r.Team, r.Environment)
	if reminder != "" {
		title = fmt.Sprintf("Reminder: %s %s (%s for %s in %s) %s", r.Name, r.Ref(), r.Service, r.Team, r.Environment, reminder)
	}
	requester := r.Requester.Display()
	if r.Requester.ID != "" && r.Requester.ID != requester {
		requester += " (" + r.Requester.ID + ")"
	}
	if !r.SelfService {
		requester += ", on behalf of the team"
	}
	fields := []KV{{Key: "Requested by", Value: requester}}
	if !r.CreatedAt.IsZero() {
		fields = append(fields, KV{Key: "Requested", Value: r.CreatedAt.UTC().Format("2006-01-02 15:04 MST")})
	}
	fields = append(fields, KV{Key: "Approvals", Value: fmt.Sprintf("%s needed, never from the requester", plural(needed, "approval"))})
	if params := formatParams(nil, r.Parameters); params != "" {
		fields = append(fields, KV{Key: "Parameters", Value: params})
	}
	return Reply{
		Title:    title,
		Sections: []Section{{Fields: fields}, {Text: fmt.Sprintf("Decide with the buttons, or /idp approve %d and /idp reject %d <reason>.", r.ID, r.ID)}},
		Actions:  ApprovalActions(r),
	}
}

// ChangeCard tells the approvers that a change of ready resource r waits
// for them, ev being the note that records it. It has no buttons: the
// approval cards' buttons are for requests, and a change is decided with
// /idp approve or /idp reject (or from list --pending and the Home tab).
func ChangeCard(r *platform.Resource, ev platform.Event) Reply {
	return Reply{
		Title: fmt.Sprintf("Change waiting for approval: %s %s, %s for %s in %s", r.Name, r.Ref(), r.Service, r.Team, r.Environment),
		Sections: []Section{{Text: ev.Message},
			{Text: fmt.Sprintf("Decide with /idp approve %d or /idp reject %d <reason>; /idp list --pending shows what waits for you.", r.ID, r.ID)}},
	}
}

// DecidedCard is what an approval card becomes once its request is
// decided, ev being the transition out of awaiting_approval: the same
// request, the decision and who made it, and no buttons.
func DecidedCard(r *platform.Resource, ev platform.Event) Reply {
	verdict := "Decided"
	switch ev.To {
	case platform.Rejected:
		verdict = "Rejected"
	case platform.Expired:
		verdict = "Expired"
	case platform.Provisioning, platform.Ready, platform.Failed:
		verdict = "Approved"
	}
	fields := []KV{{Key: "Requested by", Value: r.Requester.Display()}, {Key: "Decision", Value: ev.Message}}
	if !ev.At.IsZero() {
		fields = append(fields, KV{Key: "Decided", Value: ev.At.UTC().Format("2006-01-02 15:04 MST")})
	}
	return Reply{
		Title:    fmt.Sprintf("%s: %s %s, %s for %s in %s", verdict, r.Name, r.Ref(), r.Service, r.Team, r.Environment),
		Sections: []Section{{Fields: fields}, {Text: fmt.Sprintf("The request's thread and /idp audit %d have the whole history.", r.ID)}},
	}
}

// approve records the person's approval.
func (r *Router) approve(ctx context.Context, req Request, a args) Reply {
	ref, err := oneResource("approve", a)
	if err != nil {
		return r.fail(ctx, err)
	}
	res, st, err := r.engine.Approve(ctx, req.Actor, ref)
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "request approved", "request_id", res.ID, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID, "state", res.State)
	reply := Reply{Resource: res}
	switch res.State {
	case platform.Ready:
		// A change of a ready resource that needs more approvals.
		reply.Title = fmt.Sprintf("Approved the change of %s %s (%d of %d): it needs %s from another approver.",
			res.Name, res.Ref(), len(st.Approvers), st.Needed, plural(st.Missing(), "more approval"))
		return reply
	case platform.Updating:
		reply.Title = fmt.Sprintf("Approved the change of %s %s: the update starts; its thread tells how it goes.", res.Name, res.Ref())
		return reply
	}
	if res.State == platform.AwaitingApproval {
		reply.Title = fmt.Sprintf("Approved %s %s (%d of %d): it needs %s from another approver.",
			res.Name, res.Ref(), len(st.Approvers), st.Needed, plural(st.Missing(), "more approval"))
		return reply
	}
	reply.Title = fmt.Sprintf("Approved %s %s: provisioning starts. %s is told in the request's thread.", res.Name, res.Ref(), res.Requester.Display())
	return reply
}

// reject rejects a request; every word after the id is the reason.
func (r *Router) reject(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) == 0 {
		return r.fail(ctx, invalidf("Which request? Use /idp reject <#id> <reason>."))
	}
	res, err := r.engine.Reject(ctx, req.Actor, a.pos[0], strings.Join(a.pos[1:], " "))
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "request rejected", "request_id", res.ID, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID)
	return Reply{
		Title:    fmt.Sprintf("Rejected %s %s. %s is told in the request's thread.", res.Name, res.Ref(), res.Requester.Display()),
		Sections: []Section{{Fields: []KV{{Key: "Reason", Value: res.Reason}}}},
		Resource: res,
	}
}

// extend moves a resource's expiry later.
func (r *Router) extend(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) != 2 {
		return r.fail(ctx, invalidf("Use /idp extend <name|#id> <duration>, like /idp extend scratch-db 7d."))
	}
	d, err := platform.ParseDuration(a.pos[1])
	if err != nil {
		return r.fail(ctx, &platform.Error{Code: platform.Invalid, Message: fmt.Sprintf("%s is not a duration; use one like 7d, 36h or 2w.", quoteInput(a.pos[1], 20)),
			Fields: []platform.FieldError{{Field: "duration", Message: "must be a duration like 7d, 36h or 2w"}}})
	}
	res, err := r.engine.Extend(ctx, req.Actor, a.pos[0], d)
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "expiry extended", "request_id", res.ID, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID, "by", d)
	return Reply{
		Title:    fmt.Sprintf("Extended %s %s by %s: it now expires %s.", res.Name, res.Ref(), platform.FormatDuration(d), r.when(res.ExpiresAt)),
		Resource: res,
	}
}

// maxDecisions is how many approval decisions audit lists; a resource
// updated often in an environment with approvals has many.
const maxDecisions = 10

// auditPage is how many events a page of audit shows: at two lines each
// they stay within one Discord embed and a few Slack sections.
const auditPage = 20

// audit shows a resource's history, the latest events first, a page at a
// time, with every approval decision whatever the page.
func (r *Router) audit(ctx context.Context, req Request, a args) Reply {
	ref, err := oneResource("audit", a)
	if err != nil {
		return r.fail(ctx, err)
	}
	cursor, err := pageCursor(a)
	if err != nil {
		return r.fail(ctx, err)
	}
	res, err := r.engine.Find(ctx, req.Actor, ref)
	if err != nil {
		return r.fail(ctx, err)
	}
	page, err := r.engine.History(ctx, req.Actor, res, cursor, auditPage)
	if err != nil {
		return r.fail(ctx, err)
	}
	decided, err := r.engine.Decisions(ctx, req.Actor, res)
	if err != nil {
		return r.fail(ctx, err)
	}
	reply := Reply{Title: fmt.Sprintf("Audit of %s %s (%s of team %s in %s): %s.", res.Name, res.Ref(), res.Service, res.Team, res.Environment, pluralCount(page.Total, "event")), Ephemeral: true}
	requester := fmt.Sprintf("%s (%s)", res.Requester.Display(), res.Requester.ID)
	if res.SelfService {
		requester += ", self-service"
	} else {
		requester += ", on behalf of the team (not self-service)"
	}
	fields := []KV{
		{Key: "Requested by", Value: requester},
		{Key: "Created", Value: r.when(res.CreatedAt)},
		{Key: "State", Value: string(res.State)},
	}
	if res.Reason != "" {
		fields = append(fields, KV{Key: "Reason", Value: res.Reason})
	}
	var decisions []string
	if n := len(decided) - maxDecisions; n > 0 {
		// A field holds so much: the latest decisions, and how many
		// earlier ones the pages of the history show.
		decisions = append(decisions, fmt.Sprintf("(%d earlier, in the history)", n))
		decided = decided[n:]
	}
	for _, ev := range decided {
		// The message names the decider ("rejected by approver: …");
		// their ID follows it.
		decisions = append(decisions, fmt.Sprintf("%s %s (%s)", ev.At.UTC().Format(time.DateTime), ev.Message, ev.Actor.ID))
	}
	if len(decisions) > 0 {
		fields = append(fields, KV{Key: "Decisions", Value: strings.Join(decisions, "\n")})
	}
	if !res.ExpiresAt.IsZero() && res.State.Active() {
		fields = append(fields, KV{Key: "Expires", Value: r.when(res.ExpiresAt)})
	}
	reply.Sections = append(reply.Sections, Section{Fields: fields})
	var lines []string
	for _, ev := range page.Events {
		lines = append(lines, r.auditLine(res, ev))
	}
	for i, text := range chunkLines(lines, maxTableText) {
		sec := Section{Text: text}
		if i == 0 {
			sec.Heading = "History (UTC)"
		}
		reply.Sections = append(reply.Sections, sec)
	}
	if !page.HasOlder() && !page.HasNewer() {
		return reply
	}
	reply.Sections = append(reply.Sections, Section{Text: pageText(page.Offset, len(page.Events), page.Total, auditPage, "events") + ", oldest first."})
	cmd := "audit " + res.Ref()
	if len(page.Events) == 0 {
		reply.Actions = []Action{{Label: "Latest", Command: cmd}}
		return reply
	}
	if page.HasOlder() {
		reply.Actions = append(reply.Actions, Action{Label: "Older", Command: fmt.Sprintf("%s --before %d", cmd, page.Events[0].ID)})
	}
	if page.HasNewer() {
		reply.Actions = append(reply.Actions, Action{Label: "Newer", Command: fmt.Sprintf("%s --after %d", cmd, page.Events[len(page.Events)-1].ID)})
	}
	return reply
}

// chunkLines joins lines into texts of at most n characters each (a
// longer line alone is one text).
func chunkLines(lines []string, n int) []string {
	var out []string
	cur := ""
	for _, l := range lines {
		if cur != "" && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(l) > n {
			out = append(out, cur)
			cur = ""
		}
		if cur != "" {
			cur += "\n"
		}
		cur += l
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// auditLine renders one event for the audit: when, what and who on one
// line, the message indented on the next.
func (r *Router) auditLine(res *platform.Resource, ev platform.Event) string {
	what, msg := string(ev.Kind), ev.Message
	switch ev.Kind {
	case platform.EventTransition:
		from := string(ev.From)
		if from == "" {
			from = "new"
		}
		what = from + " → " + string(ev.To)
	case platform.EventApproval:
		what = "approved"
	case platform.EventSecret:
		msg = "connection details sent to " + res.Requester.Display() + " privately"
	}
	line := fmt.Sprintf("%s  %s  %s", ev.At.UTC().Format(time.DateTime), what, ev.Actor.ID)
	if msg = strings.Join(strings.Fields(msg), " "); msg != "" {
		line += "\n    " + msg
	}
	return line
}
