package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// stateNames lists every state's name, in lifecycle order.
func stateNames() []string {
	out := make([]string, len(platform.States))
	for i, s := range platform.States {
		out[i] = string(s)
	}
	return out
}

// parseState reads the value of list --state: a state's name, in any case,
// with "-" for "_" ("awaiting-approval").
func parseState(value string) (platform.State, error) {
	v := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(value)), "-", "_")
	if s := platform.State(v); s.Valid() {
		return s, nil
	}
	msg := fmt.Sprintf("There is no state %s.", quoteInput(value, 32))
	if value == "" {
		msg = "--state needs a state, like --state failed."
	} else if c := platform.Closest(v, stateNames()); c != "" {
		msg += fmt.Sprintf(" Did you mean %s?", c)
	}
	msg += " States: " + strings.Join(stateNames(), ", ") + "."
	return "", &platform.Error{Code: platform.Invalid, Message: msg,
		Fields: []platform.FieldError{{Field: "state", Message: "must be one of " + strings.Join(stateNames(), ", ")}}}
}

// waitAge renders how long something has waited, to the minute: "45s",
// "12m", "3h 12m", "2d 4h".
func waitAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh %dm", int(d.Hours()), m)
		}
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	if h := int(d.Hours()) % 24; h != 0 {
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, h)
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

// pending answers list --pending: the requests waiting for the person's
// approval, oldest first, with their age and the buttons to decide.
func (r *Router) pending(ctx context.Context, req Request, a args, cursor platform.Cursor) Reply {
	for _, other := range []string{"team", "env", "state", "mine", "all"} {
		if a.has(other) {
			return r.fail(ctx, invalidf("--pending shows every request waiting for you; use it without --%s.", other))
		}
	}
	queue, err := r.engine.Queue(ctx, req.Actor)
	if err != nil {
		return r.fail(ctx, err)
	}
	if len(queue) == 0 {
		return Reply{Title: "Nothing waits for your approval.", Ephemeral: true}
	}
	total := len(queue)
	from, to := 0, min(listPage, total)
	if id := max(cursor.After, cursor.Before); id != 0 {
		// The queue is read whole (it is short next to the lists); a
		// page of it is cut around the request it starts after or ends
		// before, wherever that request is now.
		at := slices.IndexFunc(queue, func(w platform.Waiting) bool { return w.Resource.ID == id })
		if at < 0 {
			return r.fail(ctx, invalidf("Request #%d no longer waits for your approval; run /idp list --pending again.", id))
		}
		if cursor.After != 0 {
			from, to = at+1, min(at+1+listPage, total)
		} else {
			from, to = max(at-listPage, 0), at
		}
	}
	queue = queue[from:to]
	now := r.now()
	rows := [][]string{{"ID", "NAME", "SERVICE", "TEAM/ENV", "REQUESTER", "APPROVALS", "WAITING"}}
	var actions []Action
	var changes []string
	for _, w := range queue {
		res := w.Resource
		name, asker := res.Name, res.Requester
		if w.Change != nil {
			name, asker = res.Name+" (change)", w.Change.Actor
			changes = append(changes, fmt.Sprintf("%s %s: %s", res.Ref(), res.Name, platform.Summary(platform.Diff(w.Change.Old, w.Change.New))))
		}
		rows = append(rows, []string{res.Ref(), name, res.Service, res.Team + "/" + res.Environment, asker.Display(),
			fmt.Sprintf("%d of %d", len(w.Status.Approvers), w.Status.Needed), waitAge(now.Sub(w.Since()))})
		if len(actions) < 2*maxPendingButtons {
			for _, act := range ApprovalActions(res) {
				act.Label += " " + res.Ref()
				actions = append(actions, act)
			}
		}
	}
	reply := Reply{Title: fmt.Sprintf("%s waiting for your approval, oldest first:", pluralCount(total, "request")), Ephemeral: true, Actions: actions}
	reply.Sections = append(reply.Sections, Section{Text: table(rows)})
	if len(changes) > 0 {
		reply.Sections = append(reply.Sections, Section{Heading: "Changes", Text: strings.Join(changes, "\n")})
	}
	if from > 0 || to < total {
		reply.Sections = append(reply.Sections, Section{Text: pageText(from, len(queue), total, listPage, "requests") + "; oldest first."})
		var page []*platform.Resource
		for _, w := range queue {
			page = append(page, w.Resource)
		}
		reply.Actions = append(reply.Actions, pageActions(" --pending", from > 0, to < total, page)...)
	}
	reply.Sections = append(reply.Sections, Section{Text: "Decide with /idp approve <#id> or /idp reject <#id> <reason>; /idp status <#id> shows a request in full."})
	return reply
}

// maxPendingButtons is how many requests of list --pending get Approve and
// Reject buttons; the rest are decided by typing.
const maxPendingButtons = 10
