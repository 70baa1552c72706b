package platform

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of Deadlines.
const (
	DefaultRemindAfter  = 24 * time.Hour
	DefaultExpireAfter  = 72 * time.Hour
	DefaultWarnBefore   = 24 * time.Hour
	DefaultMaxExtension = 30 * 24 * time.Hour
)

// MaxReasonLength is the longest reason a rejection may give, in runes.
const MaxReasonLength = 500

// Deadlines are the timings of approvals and expiry. Zero fields take the
// defaults.
type Deadlines struct {
	// RemindAfter is how long a request waits for approval before the
	// approvers are reminded, once (default 24h).
	RemindAfter time.Duration
	// ExpireAfter is how long a request waits for approval before it
	// expires (default 72h).
	ExpireAfter time.Duration
	// WarnBefore is how long before a resource's TTL ends its owners are
	// warned (default 24h).
	WarnBefore time.Duration
	// MaxExtension bounds how far from now Extend may move an expiry
	// (default 30 days).
	MaxExtension time.Duration
}

func (d Deadlines) withDefaults() Deadlines {
	d.RemindAfter = cmp.Or(d.RemindAfter, DefaultRemindAfter)
	d.ExpireAfter = cmp.Or(d.ExpireAfter, DefaultExpireAfter)
	d.WarnBefore = cmp.Or(d.WarnBefore, DefaultWarnBefore)
	d.MaxExtension = cmp.Or(d.MaxExtension, DefaultMaxExtension)
	return d
}

// Deadlines returns the engine's approval and expiry timings, defaults
// filled in.
func (e *Engine) Deadlines() Deadlines { return e.deadline }

// ApprovalsNeeded returns how many approvals a request for r needs under
// the current configuration: the larger of its environment's and its
// service's. A request already awaiting approval needs at least one.
func (e *Engine) ApprovalsNeeded(r *Resource) int { return ApprovalsNeeded(e.org, e.catalog, r) }

// ApprovalsNeeded returns how many approvals a request for r needs under
// org and catalog; see Engine.ApprovalsNeeded.
func ApprovalsNeeded(org *Org, catalog *Catalog, r *Resource) int {
	n := 0
	if org == nil {
		org = &Org{}
	}
	if env, ok := org.Environment(r.Environment); ok {
		n = env.Approvals
	}
	if catalog == nil {
		catalog = &Catalog{}
	}
	if svc, err := catalog.Lookup(r.Service); err == nil {
		n = max(n, svc.Approvals)
	}
	if r.State == AwaitingApproval {
		n = max(n, 1)
	}
	return n
}

// ApprovalStatus is where a request stands with its approvers.
type ApprovalStatus struct {
	// Needed is how many distinct approvers must approve.
	Needed int
	// Approvers are those who approved, in order, each once.
	Approvers []Actor
}

// Missing returns how many approvals are still needed.
func (s ApprovalStatus) Missing() int { return max(s.Needed-len(s.Approvers), 0) }

// approvers returns the distinct actors who approved a request, from its
// history: approval events and the transition that completed the count.
func approvers(evs []Event) []Actor {
	var out []Actor
	for _, ev := range evs {
		approval := ev.Kind == EventApproval ||
			ev.Kind == EventTransition && ev.From == AwaitingApproval && ev.To == Provisioning && ev.Actor.ID != System.ID
		if approval && !slices.ContainsFunc(out, func(a Actor) bool { return a.ID == ev.Actor.ID }) {
			out = append(out, ev.Actor)
		}
	}
	return out
}

// ApprovalStatus returns who approved r so far and how many approvals it
// needs.
func (e *Engine) ApprovalStatus(ctx context.Context, r *Resource) (ApprovalStatus, error) {
	evs, err := e.store.Events(ctx, r.ID)
	if err != nil {
		return ApprovalStatus{}, fmt.Errorf("approvals of %s: %w", r.Ref(), err)
	}
	return ApprovalStatus{Needed: e.ApprovalsNeeded(r), Approvers: approvers(evs)}, nil
}

// samePerson reports whether two actors are the same person: the same ID,
// or the same email on different platforms.
func samePerson(a, b Actor) bool {
	return a.ID == b.ID || a.Email != "" && strings.EqualFold(a.Email, b.Email)
}

// decidable returns the request ref refers to if actor may decide on it:
// an approver (or admin), not its requester, while it awaits approval.
func (e *Engine) decidable(ctx context.Context, actor Actor, ref, verb string) (*Resource, error) {
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	if !e.org.IsApprover(actor) {
		return nil, Errorf(Forbidden, "Only approvers and platform admins can %s requests.", verb)
	}
	if r.State != AwaitingApproval {
		msg := fmt.Sprintf("%s %s is %s; only requests awaiting approval can be %sd.", r.Name, r.Ref(), r.State, verb)
		if r.Reason != "" && (r.State == Rejected || r.State == Expired) {
			msg = fmt.Sprintf("%s %s is already %s (%s).", r.Name, r.Ref(), r.State, r.Reason)
		}
		return nil, Errorf(Conflict, "%s", msg)
	}
	if samePerson(actor, r.Requester) {
		return nil, Errorf(Forbidden, "You cannot %s your own request; another approver must decide on %s.", verb, r.Ref())
	}
	return r, nil
}

// Approve records actor's approval of the request ref refers to. Once as
// many distinct approvers as it needs have approved, the request moves on
// to provisioning (the store enqueues the job). Only approvers and admins
// may approve, never the requester, and each approver counts once. The
// returned status says who approved so far. A ready resource with a
// change waiting for approval has the change approved instead; the
// approval that completes its count applies it.
func (e *Engine) Approve(ctx context.Context, actor Actor, ref string) (*Resource, ApprovalStatus, error) {
	if r, c := e.pendingChange(ctx, actor, ref); c != nil {
		return e.approveChange(ctx, actor, r, c)
	}
	r, err := e.decidable(ctx, actor, ref, "approve")
	if err != nil {
		return nil, ApprovalStatus{}, err
	}
	st, err := e.ApprovalStatus(ctx, r)
	if err != nil {
		return nil, ApprovalStatus{}, err
	}
	if slices.ContainsFunc(st.Approvers, func(a Actor) bool { return samePerson(a, actor) }) {
		return nil, st, Errorf(Conflict, "You have already approved %s %s; it needs %d more approval(s) from other approvers.", r.Name, r.Ref(), st.Missing())
	}
	if len(st.Approvers)+1 < st.Needed {
		msg := fmt.Sprintf("approved by %s (%d of %d)", actor.Display(), len(st.Approvers)+1, st.Needed)
		if _, err := e.store.AddEvent(ctx, Event{ResourceID: r.ID, Actor: actor, Kind: EventApproval, Message: msg}); err != nil {
			return nil, st, fmt.Errorf("record approval of %s: %w", r.Ref(), err)
		}
		// Another approver may have approved at the same time: whoever
		// records the last approval needed moves the request on.
		if st, err = e.ApprovalStatus(ctx, r); err != nil {
			return nil, st, err
		}
		if len(st.Approvers) < st.Needed {
			r, err = e.store.Resource(ctx, r.ID)
			return r, st, err
		}
		return e.approved(ctx, actor, r, st, fmt.Sprintf("approved by %s (%d of %d); provisioning starts", names(st.Approvers), len(st.Approvers), st.Needed))
	}
	st.Approvers = append(st.Approvers, actor)
	return e.approved(ctx, actor, r, st, fmt.Sprintf("approved by %s (%d of %d); provisioning starts", names(st.Approvers), len(st.Approvers), st.Needed))
}

// approved moves an approved request to provisioning. Its TTL counts from
// the approval, not from the request. A request another approver moved on
// first is returned as it is.
func (e *Engine) approved(ctx context.Context, actor Actor, r *Resource, st ApprovalStatus, msg string) (*Resource, ApprovalStatus, error) {
	now := e.now()
	out, err := e.store.Transition(ctx, r.ID, Provisioning, Event{Actor: actor, Kind: EventTransition, Message: msg}, func(cur *Resource) error {
		if !cur.ExpiresAt.IsZero() {
			cur.ExpiresAt = now.Add(cur.ExpiresAt.Sub(cur.CreatedAt))
		}
		return nil
	})
	if ErrorCode(err) == Conflict {
		cur, gerr := e.store.Resource(ctx, r.ID)
		if gerr == nil && cur.State != AwaitingApproval && cur.State != Rejected && cur.State != Expired {
			return cur, st, nil
		}
		if gerr == nil {
			return nil, st, Errorf(Conflict, "%s %s was %s meanwhile.", cur.Name, cur.Ref(), cur.State)
		}
	}
	if err != nil {
		return nil, st, err
	}
	return out, st, nil
}

// names renders actors for a message: "alice, bob".
func names(actors []Actor) string {
	out := make([]string, len(actors))
	for i, a := range actors {
		out[i] = a.Display()
	}
	return strings.Join(out, ", ")
}

// Reject rejects the request ref refers to with a reason the requester
// reads in the thread. Only approvers and admins may reject, never the
// requester; the reason is required. A ready resource with a change
// waiting for approval has the change rejected instead: it is dropped and
// the resource stays as it is.
func (e *Engine) Reject(ctx context.Context, actor Actor, ref, reason string) (*Resource, error) {
	reason = strings.Join(strings.Fields(reason), " ")
	if reason == "" {
		return nil, &Error{Code: Invalid, Message: "Give a reason, which the requester will read: /idp reject <id> <reason>.",
			Fields: []FieldError{{Field: "reason", Message: "is required"}}}
	}
	if n := utf8.RuneCountInString(reason); n > MaxReasonLength {
		return nil, &Error{Code: Invalid, Message: fmt.Sprintf("The reason is %d characters long; keep it under %d.", n, MaxReasonLength),
			Fields: []FieldError{{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", MaxReasonLength)}}}
	}
	if r, c := e.pendingChange(ctx, actor, ref); c != nil {
		return e.rejectChange(ctx, actor, r, c, reason)
	}
	r, err := e.decidable(ctx, actor, ref, "reject")
	if err != nil {
		return nil, err
	}
	why := fmt.Sprintf("rejected by %s: %s", actor.Display(), reason)
	out, err := e.store.Transition(ctx, r.ID, Rejected, Event{Actor: actor, Kind: EventTransition, Message: why}, func(cur *Resource) error {
		cur.Reason = why
		return nil
	})
	if ErrorCode(err) == Conflict {
		if cur, gerr := e.store.Resource(ctx, r.ID); gerr == nil {
			return nil, Errorf(Conflict, "%s %s was %s meanwhile.", cur.Name, cur.Ref(), cur.State)
		}
	}
	return out, err
}
