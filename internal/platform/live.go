package platform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// LiveTimeout bounds LiveStatus's read of a resource's live state when the
// caller's context allows longer: a person waits for /idp status.
const LiveTimeout = 10 * time.Second

// Live reports whether something may exist for a resource in state s, so
// that its live state can be read: ready, updating, failed or deleting.
func (s State) Live() bool {
	return slices.Contains([]State{Ready, Updating, Failed, Deleting}, s)
}

// LiveNotAvailable reports whether err from Engine.LiveStatus or
// Engine.ReadLive means that the live state of the resource cannot be read
// at all (its driver implements no StatusReader, or its binding configures
// no way to read it): a condition to show, not an outage and not drift.
func LiveNotAvailable(err error) bool { return errors.Is(err, ErrNoStatus) }

// LiveStatus reads the live state of what r stands for, for actor, who must
// be able to see r. The error is an *Error whose message is fit for the
// chat in every case: Conflict when r is in a state where nothing exists
// to read; Unavailable "live status is not available for <driver>" (for
// which LiveNotAvailable is true) when its driver cannot read it; and
// Unavailable "could not read: <reason>" when the target did not answer.
func (e *Engine) LiveStatus(ctx context.Context, actor Actor, r *Resource) (LiveStatus, error) {
	if teams := e.visibleTeams(actor); teams != nil && !slices.Contains(teams, r.Team) {
		return LiveStatus{}, Errorf(NotFound, "There is no resource %s that you can see.", r.Ref())
	}
	ctx, cancel := context.WithTimeout(ctx, LiveTimeout)
	defer cancel()
	return e.ReadLive(ctx, r)
}

// ReadLive is LiveStatus without the actor's visibility check and without
// LiveTimeout, for the periodic drift check, which bounds each read with
// its own timeout through ctx. It reads through the driver of r's binding
// and sets ReadAt from the engine's clock.
func (e *Engine) ReadLive(ctx context.Context, r *Resource) (LiveStatus, error) {
	if !r.State.Live() {
		return LiveStatus{}, Errorf(Conflict, "%s %s is %s: there is nothing to read yet.", r.Name, r.Ref(), r.State)
	}
	svc, err := e.catalog.Lookup(r.Service)
	if err != nil {
		return LiveStatus{}, &Error{Code: Unavailable, Message: fmt.Sprintf("live status is not available: service %s is no longer in the catalog", r.Service), Err: errors.Join(ErrNoStatus, err)}
	}
	b, ok := svc.Binding(r.Environment)
	if !ok {
		return LiveStatus{}, &Error{Code: Unavailable, Message: fmt.Sprintf("live status is not available: no provisioner is bound to %s in %s", r.Service, r.Environment), Err: ErrNoStatus}
	}
	d, ok := e.drivers[b.Driver]
	if !ok {
		return LiveStatus{}, &Error{Code: Unavailable, Message: fmt.Sprintf("live status is not available: no %s target configured", b.Driver), Err: ErrNoStatus}
	}
	sr, ok := d.(StatusReader)
	if !ok {
		return LiveStatus{}, &Error{Code: Unavailable, Message: "live status is not available for " + b.Driver, Err: ErrNoStatus}
	}
	st, err := sr.Status(ctx, Job{Resource: r, Service: svc, Settings: maps.Clone(b.Settings)})
	switch {
	case errors.Is(err, ErrNoStatus):
		return LiveStatus{}, &Error{Code: Unavailable, Message: "live status is not available for " + b.Driver, Err: err}
	case err != nil:
		e.log.WarnContext(ctx, "read live status", "request_id", r.ID, "service", r.Service, "team", r.Team, "env", r.Environment, "err", err)
		return LiveStatus{}, &Error{Code: Unavailable, Message: "could not read: " + unreachableReason(ctx, b.Driver, err), Err: err}
	}
	if st.Health == "" {
		st.Health = Healthy
	}
	st.ReadAt = e.now()
	return st, nil
}

// unreachableReason says in a few words, without internals, why a driver
// could not read: a timeout, the driver's own user-facing message, or that
// its target did not answer.
func unreachableReason(ctx context.Context, driver string, err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "the " + driver + " target did not answer in time"
	}
	if errors.Is(err, context.Canceled) {
		return "the read was cancelled"
	}
	var pe *Error
	if errors.As(err, &pe) && pe.Message != "" {
		return truncate(pe.Message, 160)
	}
	return "the " + driver + " target did not answer"
}
