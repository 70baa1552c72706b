package platform

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// maxQueue bounds how many requests awaiting approval Queue reads.
const maxQueue = 500

// Waiting is a request, or a change of a ready resource's parameters,
// awaiting an approver's decision, with who approved it so far.
type Waiting struct {
	Resource *Resource
	Status   ApprovalStatus
	// Change is the change waiting, nil for a request.
	Change *Change
}

// Since returns when it started waiting: when the change or the request
// was made.
func (w Waiting) Since() time.Time {
	if w.Change != nil {
		return w.Change.CreatedAt
	}
	return w.Resource.CreatedAt
}

// NotApprover is the error of Queue for someone who approves nothing.
var NotApprover = &Error{Code: Forbidden, Message: "You are not an approver; /idp list shows your team's resources."}

// Queue returns the requests and changes awaiting actor's approval, oldest
// first: those that actor did not ask for and has not approved yet (the
// rules of Approve). For someone who is neither an approver nor an admin
// it returns NotApprover.
func (e *Engine) Queue(ctx context.Context, actor Actor) ([]Waiting, error) {
	if !e.org.IsApprover(actor) {
		return nil, NotApprover
	}
	rs, err := e.store.Resources(ctx, ResourceFilter{States: []State{AwaitingApproval}, Limit: maxQueue})
	if err != nil {
		return nil, fmt.Errorf("requests awaiting approval: %w", err)
	}
	var out []Waiting
	for _, r := range rs {
		if samePerson(actor, r.Requester) {
			continue
		}
		st, err := e.ApprovalStatus(ctx, r)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(st.Approvers, func(a Actor) bool { return samePerson(a, actor) }) {
			continue
		}
		out = append(out, Waiting{Resource: r, Status: st})
	}
	changes, err := e.waitingChanges(ctx, actor)
	if err != nil {
		return nil, err
	}
	out = append(out, changes...)
	slices.SortStableFunc(out, func(a, b Waiting) int {
		if c := a.Since().Compare(b.Since()); c != 0 {
			return c
		}
		return cmp.Compare(a.Resource.ID, b.Resource.ID)
	})
	return out, nil
}

// waitingChanges returns the changes awaiting actor's approval; none when
// the store keeps no changes.
func (e *Engine) waitingChanges(ctx context.Context, actor Actor) ([]Waiting, error) {
	cs, ok := e.store.(ChangeStore)
	if !ok {
		return nil, nil
	}
	pending, err := cs.PendingChanges(ctx, maxQueue)
	if err != nil {
		return nil, fmt.Errorf("changes awaiting approval: %w", err)
	}
	var out []Waiting
	for _, c := range pending {
		if samePerson(actor, c.Actor) || slices.ContainsFunc(c.Approvers, func(a Actor) bool { return samePerson(a, actor) }) {
			continue
		}
		r, err := e.store.Resource(ctx, c.ResourceID)
		if err != nil {
			return nil, fmt.Errorf("resource of change %d: %w", c.ID, err)
		}
		out = append(out, Waiting{Resource: r, Status: ApprovalStatus{Needed: c.Needed, Approvers: c.Approvers}, Change: c})
	}
	return out, nil
}

// ListIn returns the resources actor may see that match opts and are in
// one of states (opts.All is then irrelevant), newest first.
func (e *Engine) ListIn(ctx context.Context, actor Actor, opts ListOptions, states ...State) ([]*Resource, error) {
	for _, s := range states {
		if !s.Valid() {
			return nil, Errorf(Invalid, "There is no state %q.", truncate(string(s), 32))
		}
	}
	f := ResourceFilter{Environment: opts.Environment, Service: opts.Service, Teams: e.visibleTeams(actor), Limit: opts.Limit, States: states}
	if opts.Team != "" {
		if f.Teams != nil && !slices.Contains(f.Teams, opts.Team) {
			return nil, Errorf(Forbidden, "You are not in team %s.", truncate(opts.Team, 64))
		}
		f.Teams = []string{opts.Team}
	}
	if opts.Mine {
		f.Requester = actor.ID
	}
	if f.Teams != nil && len(f.Teams) == 0 {
		return nil, nil
	}
	return e.store.Resources(ctx, f)
}
