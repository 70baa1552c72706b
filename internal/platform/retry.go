package platform

import (
	"context"
	"fmt"
)

// Operations a retry runs again, as the retry's event and the
// idp_retries_total metric name them.
const (
	OpProvisioning   = "provisioning"
	OpDeprovisioning = "deprovisioning"
	OpUpdate         = "update"
)

// RetryObserver is implemented by an Observer that counts retries (the
// metrics); the engine tells it about each retry it records.
type RetryObserver interface {
	Retried(r *Resource, operation string)
}

// Retry runs again the operation that failed resource ref: its
// provisioning (failed → provisioning), its deprovisioning (failed →
// deleting: a failed delete is never re-provisioned) or its update
// (failed → updating). Only a failed resource is retried, by a member of
// the owning team or an admin; the transition's actor is the retrier. The
// jobs the new state calls for are enqueued by the store with the event.
func (e *Engine) Retry(ctx context.Context, actor Actor, ref string) (*Resource, error) {
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	if err := e.retryable(actor, r); err != nil {
		return nil, err
	}
	to, op, err := e.failedOperation(ctx, r)
	if err != nil {
		return nil, err
	}
	if to == Provisioning {
		if err := e.retryQuota(ctx, r); err != nil {
			return nil, err
		}
	}
	ev := Event{Actor: actor, Kind: EventTransition, Message: fmt.Sprintf("retry of %s by %s", op, actor.Display())}
	r, err = e.store.Transition(ctx, r.ID, to, ev, func(cur *Resource) error {
		if cur.State != Failed {
			return Errorf(Conflict, "%s %s is %s now; only a failed request can be retried.", cur.Name, cur.Ref(), cur.State)
		}
		cur.Reason = ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ro, ok := e.observer.(RetryObserver); ok {
		ro.Retried(r, op)
	}
	return r, nil
}

// retryable returns nil when actor may retry r now, or why not.
func (e *Engine) retryable(actor Actor, r *Resource) error {
	if !e.org.MayManage(actor, r.Team) {
		return Errorf(Forbidden, "You are not in team %s, which owns %s %s: only its members or a platform admin can retry it.", r.Team, r.Name, r.Ref())
	}
	switch r.State {
	case Failed:
		return nil
	case Ready:
		return Errorf(Conflict, "%s is ready; nothing to retry.", r.Name)
	case Pending, AwaitingApproval, Provisioning, Updating, Deleting:
		return Errorf(Conflict, "%s %s is %s, not failed; nothing to retry. Follow it with /idp status %s.", r.Name, r.Ref(), r.State, r.Ref())
	}
	return Errorf(Conflict, "%s %s is %s; only a failed request can be retried. Request it again with /idp create %s.", r.Name, r.Ref(), r.State, r.Service)
}

// failedOperation returns the state a retry of failed resource r moves to
// and the operation it runs again, read from the transition into failed.
func (e *Engine) failedOperation(ctx context.Context, r *Resource) (State, string, error) {
	evs, err := e.store.Events(ctx, r.ID)
	if err != nil {
		return "", "", err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		if ev.Kind != EventTransition || ev.To != Failed {
			continue
		}
		switch ev.From {
		case Deleting:
			return Deleting, OpDeprovisioning, nil
		case Updating:
			return Updating, OpUpdate, nil
		}
		return Provisioning, OpProvisioning, nil
	}
	return Provisioning, OpProvisioning, nil
}

// retryQuota refuses to provision failed resource r again when its team
// has no room left: a failed resource does not count towards the quota,
// a provisioning one does.
func (e *Engine) retryQuota(ctx context.Context, r *Resource) error {
	quota, ok := e.org.Quota(r.Team, r.Service)
	if !ok {
		return nil
	}
	usage, err := e.store.Usage(ctx, r.Team, r.Service)
	if err != nil {
		return err
	}
	if usage >= quota {
		return Errorf(Forbidden, "Team %s already has %d of %d %s; delete one before retrying %s %s.", r.Team, usage, quota, r.Service, r.Name, r.Ref())
	}
	return nil
}
