package platform

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ChangeStatus is where a change of a resource's parameters stands.
type ChangeStatus string

// Change statuses. Pending, applying and failed changes are open: a
// resource has at most one.
const (
	// ChangePending waits for approval while the resource stays ready.
	ChangePending ChangeStatus = "pending"
	// ChangeApplying is being applied by the driver (the resource is
	// updating).
	ChangeApplying ChangeStatus = "applying"
	// ChangeFailed could not be applied (the resource is failed); a retry
	// of the resource applies it again.
	ChangeFailed ChangeStatus = "failed"
	// ChangeApplied was applied: the resource has its new parameters.
	ChangeApplied ChangeStatus = "applied"
	// ChangeRejected was rejected by an approver.
	ChangeRejected ChangeStatus = "rejected"
	// ChangeDropped was abandoned (the resource left ready before it could
	// be applied).
	ChangeDropped ChangeStatus = "dropped"
)

// Open reports whether a change in this status still has something to do.
func (s ChangeStatus) Open() bool {
	return s == ChangePending || s == ChangeApplying || s == ChangeFailed
}

// Change is a request to change a ready resource's parameters: the
// complete parameters before and after.
type Change struct {
	ID         int64
	ResourceID int64
	// Actor asked for the change.
	Actor  Actor
	Old    map[string]any
	New    map[string]any
	Status ChangeStatus
	// Needed is how many approvals the change needs; Approvers those who
	// approved so far.
	Needed    int
	Approvers []Actor
	// Reason says why a change was rejected, failed or dropped.
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ParamChange is one parameter that a change sets to another value.
type ParamChange struct {
	Name string
	Old  any
	New  any
}

// String renders the change as "size: small → medium".
func (p ParamChange) String() string {
	old := FormatValue(p.Old)
	if p.Old == nil {
		old = "(unset)"
	}
	return fmt.Sprintf("%s: %s → %s", p.Name, old, FormatValue(p.New))
}

// Diff returns the parameters whose values differ between old and new,
// by name.
func Diff(old, new map[string]any) []ParamChange {
	var out []ParamChange
	keys := slices.Sorted(maps.Keys(new))
	for k := range old {
		if _, ok := new[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		o, had := old[k]
		n, has := new[k]
		if had == has && FormatValue(o) == FormatValue(n) {
			continue
		}
		out = append(out, ParamChange{Name: k, Old: o, New: n})
	}
	return out
}

// Diff returns what the change changes.
func (c *Change) Diff() []ParamChange { return Diff(c.Old, c.New) }

// Summary renders what the change changes: "size: small → medium,
// replicas: 2 → 3".
func (c *Change) Summary() string { return Summary(c.Diff()) }

// Summary renders parameter changes on one line.
func Summary(d []ParamChange) string {
	parts := make([]string, len(d))
	for i, p := range d {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// changeRequested begins the note that records a change waiting for
// approval.
const changeRequested = "change requested by "

// IsChangeRequest reports whether ev is the note that records a change
// waiting for approval (the approvers are told of it).
func IsChangeRequest(ev Event) bool {
	return ev.Kind == EventNote && strings.HasPrefix(ev.Message, changeRequested)
}

// ChangeStore keeps the changes of resources' parameters. The postgres
// store and the in-memory one implement it next to Store; an engine whose
// store does not cannot update resources.
type ChangeStore interface {
	// AddChange records c (Status set by the caller) and sets its ID,
	// CreatedAt and UpdatedAt. A resource that already has an open change
	// is a Conflict.
	AddChange(ctx context.Context, c *Change) error
	// OpenChange returns the resource's open change, or NotFound.
	OpenChange(ctx context.Context, resourceID int64) (*Change, error)
	// SaveChange saves c's Status, Approvers and Reason, and sets its
	// UpdatedAt.
	SaveChange(ctx context.Context, c *Change) error
	// PendingChanges returns up to limit changes waiting for approval,
	// oldest first.
	PendingChanges(ctx context.Context, limit int) ([]*Change, error)
}

// UpdateObserver is an Observer that is also told how updates end, for
// metrics: result is "applied", "failed" or "rejected".
type UpdateObserver interface {
	Updated(r *Resource, result string)
}

// Update results told to an UpdateObserver.
const (
	UpdateApplied  = "applied"
	UpdateFailed   = "failed"
	UpdateRejected = "rejected"
)

// quotaParameters are the parameters whose change re-checks the team's
// quota: they make a resource bigger.
var quotaParameters = []string{"size"}

// changes returns the engine's ChangeStore, or an Unavailable error.
func (e *Engine) changes() (ChangeStore, error) {
	cs, ok := e.store.(ChangeStore)
	if !ok {
		return nil, Errorf(Unavailable, "Updates are not configured: this deployment's store cannot record changes.")
	}
	return cs, nil
}

// Update changes the parameters of the ready resource ref refers to:
// changes (typed values, as Field.Parse returns them) are merged into its
// parameters and checked like a request (unknown or invalid values,
// immutable parameters, the policies, the quota when a size changes).
// Only members of the owning team and admins may update, and only a
// ready resource whose driver can update. When its environment needs
// approval the change waits as a pending change (the returned Change's
// Status) while the resource stays ready; otherwise the resource moves to
// updating and the store enqueues the update job. A refused change
// changes nothing.
func (e *Engine) Update(ctx context.Context, actor Actor, ref string, changes map[string]any) (*Resource, *Change, error) {
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, nil, err
	}
	cs, err := e.changes()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.planChange(ctx, actor, r, changes)
	if err != nil {
		return nil, nil, err
	}
	if open, err := cs.OpenChange(ctx, r.ID); err == nil {
		// A change left applying or failed by a resource that is ready
		// again (an interrupted update, a deleted retry) is stale; a
		// pending one was refused by planChange.
		open.Status, open.Reason = ChangeDropped, "superseded by a new change"
		if err := cs.SaveChange(ctx, open); err != nil {
			return nil, nil, err
		}
	} else if ErrorCode(err) != NotFound {
		return nil, nil, err
	}
	if c.Needed > 0 {
		c.Status = ChangePending
		if err := cs.AddChange(ctx, c); err != nil {
			return nil, nil, err
		}
		msg := fmt.Sprintf("%s%s: %s; needs %d approval(s)", changeRequested, actor.Display(), c.Summary(), c.Needed)
		if _, err := e.store.AddEvent(ctx, Event{ResourceID: r.ID, Actor: actor, Kind: EventNote, Message: msg}); err != nil {
			return nil, nil, fmt.Errorf("record change of %s: %w", r.Ref(), err)
		}
		return r, c, nil
	}
	c.Status = ChangeApplying
	if err := cs.AddChange(ctx, c); err != nil {
		return nil, nil, err
	}
	out, err := e.startChange(ctx, actor, r, c, "update requested by "+actor.Display())
	if err != nil {
		return nil, nil, err
	}
	return out, c, nil
}

// startChange moves r from ready to updating to apply c, which the
// caller recorded as applying. A resource that left ready meanwhile drops
// the change.
func (e *Engine) startChange(ctx context.Context, actor Actor, r *Resource, c *Change, msg string) (*Resource, error) {
	cs, err := e.changes()
	if err != nil {
		return nil, err
	}
	out, err := e.store.Transition(ctx, r.ID, Updating, Event{Actor: actor, Kind: EventTransition, Message: msg + ": " + c.Summary()}, func(cur *Resource) error {
		if cur.State != Ready {
			return Errorf(Conflict, "%s %s is %s now; it was not changed.", cur.Name, cur.Ref(), cur.State)
		}
		return nil
	})
	if err != nil {
		c.Status, c.Reason = ChangeDropped, "the resource was no longer ready"
		if serr := cs.SaveChange(context.WithoutCancel(ctx), c); serr != nil {
			e.log.WarnContext(ctx, "drop change", "request_id", r.ID, "err", serr)
		}
		return nil, err
	}
	return out, nil
}

// planChange checks a change of r's parameters for actor and returns it
// with its complete old and new parameters and the approvals it needs, or
// why it is refused.
func (e *Engine) planChange(ctx context.Context, actor Actor, r *Resource, changes map[string]any) (*Change, error) {
	if err := e.Updatable(ctx, actor, r); err != nil {
		return nil, err
	}
	svc, err := e.catalog.Lookup(r.Service)
	if err != nil {
		return nil, Wrap(Unavailable, err, fmt.Sprintf("%s is no longer in the catalog; it cannot be updated.", r.Service))
	}
	if len(changes) == 0 {
		return nil, &Error{Code: Invalid, Message: fmt.Sprintf("Say what to change: /idp update %s key=value… (parameters: %s).", r.Name, strings.Join(fieldNames(svc, false), ", "))}
	}
	var errs []FieldError
	var immutable []string
	old := svc.Defaults(r.Parameters)
	for _, k := range slices.Sorted(maps.Keys(changes)) {
		f, ok := svc.Field(k)
		if !ok {
			msg := "is not a parameter of " + svc.Name
			if c := Closest(k, fieldNames(svc, true)); c != "" {
				msg += " (did you mean " + c + "?)"
			}
			errs = append(errs, FieldError{Field: k, Message: msg})
			continue
		}
		if f.Immutable && FormatValue(changes[k]) != FormatValue(old[k]) {
			immutable = append(immutable, k)
		}
	}
	if len(errs) > 0 {
		return nil, &Error{Code: Invalid, Message: "The change names parameters " + svc.Name + " does not have.", Fields: errs}
	}
	if len(immutable) > 0 {
		return nil, immutableError(svc, immutable)
	}
	merged := maps.Clone(old)
	maps.Copy(merged, changes)
	diff := Diff(old, merged)
	if len(diff) == 0 {
		parts := make([]string, 0, len(changes))
		for _, k := range slices.Sorted(maps.Keys(changes)) {
			parts = append(parts, k+"="+FormatValue(changes[k]))
		}
		return nil, Errorf(Invalid, "%s %s already has %s; nothing changed.", r.Name, r.Ref(), strings.Join(parts, ", "))
	}
	if fe := svc.Validate(merged); len(fe) > 0 {
		return nil, &Error{Code: Invalid, Message: "The change has invalid values.", Fields: fe}
	}
	d, b, err := e.Driver(svc, r.Environment)
	if err != nil {
		return nil, err
	}
	if _, ok := d.(Updater); !ok {
		return nil, Errorf(Unavailable, "Updating %s is not supported by its driver (%s); delete %s and create it again with the new values.", svc.Name, b.Driver, r.Name)
	}
	if err := e.checkChange(ctx, svc, r, merged, diff); err != nil {
		return nil, err
	}
	return &Change{
		ResourceID: r.ID,
		Actor:      actor,
		Old:        old,
		New:        merged,
		Needed:     ApprovalsNeeded(e.org, e.catalog, r),
	}, nil
}

// checkChange runs the policies on r with the merged parameters. The
// resource is not counted against itself; the quota verdict counts only
// when a quota parameter changes.
func (e *Engine) checkChange(ctx context.Context, svc *ServiceDefinition, r *Resource, merged map[string]any, diff []ParamChange) error {
	quota, hasQuota := e.org.Quota(r.Team, svc.Name)
	usage, err := e.store.Usage(ctx, r.Team, svc.Name)
	if err != nil {
		return fmt.Errorf("check change of %s: %w", r.Ref(), err)
	}
	p := &Plan{Service: svc, Resource: *r, Quota: quota, HasQuota: hasQuota, Usage: max(usage-1, 0)}
	p.Resource.Parameters = merged
	vs, err := e.evaluate(ctx, p, p.Usage)
	if err != nil {
		return err
	}
	sized := slices.ContainsFunc(diff, func(c ParamChange) bool { return slices.Contains(quotaParameters, c.Name) })
	var fields []FieldError
	for _, v := range vs {
		if v.Outcome != Deny || v.Rule == "quota" && !sized {
			continue
		}
		fields = append(fields, FieldError{Field: v.Field, Message: v.Message, Rule: v.Rule})
	}
	if len(fields) > 0 {
		return &Error{Code: Forbidden, Message: "The change was denied by policy; nothing was changed.", Fields: fields}
	}
	return nil
}

// immutableError refuses a change of immutable parameters, naming what
// may be changed instead.
func immutableError(svc *ServiceDefinition, names []string) error {
	verb := "is"
	if len(names) > 1 {
		verb = "are"
	}
	mutable := fieldNames(svc, false)
	msg := fmt.Sprintf("%s %s immutable: create a new resource instead.", strings.Join(names, " and "), verb)
	if len(mutable) > 0 {
		msg = fmt.Sprintf("%s can be changed, but %s", strings.Join(mutable, ", "), msg)
	}
	fields := make([]FieldError, len(names))
	for i, n := range names {
		fields[i] = FieldError{Field: n, Message: "is immutable: it is chosen when the resource is created"}
	}
	return &Error{Code: Invalid, Message: msg, Fields: fields}
}

// fieldNames returns the names of svc's parameters; all includes the
// immutable ones.
func fieldNames(svc *ServiceDefinition, all bool) []string {
	var out []string
	for _, f := range svc.Fields {
		if all || !f.Immutable {
			out = append(out, f.Name)
		}
	}
	return out
}

// Updatable returns nil when actor may ask for a change of r's parameters
// now, or why not: not in the owning team (Forbidden), not ready, or a
// change already waiting for approval (Conflict). Adapters call it before
// they open an update form.
func (e *Engine) Updatable(ctx context.Context, actor Actor, r *Resource) error {
	if !e.org.MayManage(actor, r.Team) {
		return Errorf(Forbidden, "You are not in team %s, which owns %s %s; ask one of its members to update it.", r.Team, r.Name, r.Ref())
	}
	if err := updatable(r); err != nil {
		return err
	}
	cs, err := e.changes()
	if err != nil {
		return err
	}
	open, err := cs.OpenChange(ctx, r.ID)
	switch {
	case err == nil && open.Status == ChangePending:
		return Errorf(Conflict, "%s %s already has a change waiting for approval (%s); ask an approver to approve or reject it (/idp approve %s) before asking for another.", r.Name, r.Ref(), open.Summary(), r.Ref())
	case err != nil && ErrorCode(err) != NotFound:
		return err
	}
	return nil
}

// updatable returns nil when r is ready, or a Conflict naming what to do
// instead.
func updatable(r *Resource) error {
	switch r.State {
	case Ready:
		return nil
	case Pending, Provisioning:
		return Errorf(Conflict, "%s %s is %s; wait until it is ready, then update it.", r.Name, r.Ref(), r.State)
	case AwaitingApproval:
		return Errorf(Conflict, "%s %s is awaiting approval; update it once it is approved and ready.", r.Name, r.Ref())
	case Updating:
		return Errorf(Conflict, "%s %s is already being updated; wait until it is ready, then update it again.", r.Name, r.Ref())
	case Failed:
		return Errorf(Conflict, "%s %s failed; retry it (/idp retry %s) or delete it before updating.", r.Name, r.Ref(), r.Ref())
	}
	return Errorf(Conflict, "%s %s is %s; create a new resource instead.", r.Name, r.Ref(), r.State)
}

// ApplyUpdate runs the driver's Update for resource id: updating → ready
// with the new parameters recorded. It is what the update job calls, for
// an update and for the retry of a failed one, and it is safe to call
// again after a crash: a resource in any other state than updating is
// left alone. A permanent driver error fails the resource ("update
// failed: …") and returns nil; any other error is returned for the job to
// retry.
func (e *Engine) ApplyUpdate(ctx context.Context, id int64) error {
	r, err := e.store.Resource(ctx, id)
	if err != nil {
		return err
	}
	if r.State != Updating {
		return nil
	}
	cs, err := e.changes()
	if err != nil {
		return e.Fail(ctx, id, "update failed: "+ErrorMessage(err))
	}
	c, err := cs.OpenChange(ctx, id)
	if ErrorCode(err) == NotFound || err == nil && c.Status == ChangePending {
		return e.Fail(ctx, id, "update failed: there is no recorded change to apply")
	}
	if err != nil {
		return err
	}
	if c.Status != ChangeApplying {
		c.Status, c.Reason = ChangeApplying, ""
		if err := cs.SaveChange(ctx, c); err != nil {
			return err
		}
	}
	job, d, err := e.job(ctx, r)
	if err != nil {
		if IsPermanent(err) || ErrorCode(err) == Unavailable {
			return e.failChange(ctx, r, c, ErrorMessage(err))
		}
		return err
	}
	u, ok := d.(Updater)
	if !ok {
		return e.failChange(ctx, r, c, fmt.Sprintf("updating %s is not supported by its driver; delete and recreate it", r.Service))
	}
	next := *r
	next.Parameters = maps.Clone(c.New)
	job.Resource = &next
	dctx, span := e.tracer.Start(ctx, "driver.update", r)
	res, err := u.Update(dctx, traced(job, span), maps.Clone(c.Old))
	span.End(err)
	if err != nil {
		if IsPermanent(err) {
			return e.failChange(ctx, r, c, ErrorMessage(err))
		}
		return fmt.Errorf("update %s: %w", r.Name, err)
	}
	var extra []Event
	if len(res.Secrets) > 0 {
		if e.sealer == nil {
			return e.failChange(ctx, r, c, "connection details could not be delivered: no secret key configured")
		}
		sealed, err := e.sealer.Seal(id, res.Secrets)
		if err != nil {
			return fmt.Errorf("seal secrets of %s: %w", r.Name, err)
		}
		extra = append(extra, Event{Actor: System, Kind: EventSecret, Sealed: sealed})
	}
	out, err := e.store.Transition(ctx, id, Ready, Event{Actor: System, Kind: EventTransition, Message: "updated: " + c.Summary()}, func(cur *Resource) error {
		cur.Parameters = maps.Clone(c.New)
		if len(res.Outputs) > 0 {
			outputs := maps.Clone(cur.Outputs)
			if outputs == nil {
				outputs = map[string]string{}
			}
			maps.Copy(outputs, res.Outputs)
			cur.Outputs = outputs
		}
		return nil
	}, extra...)
	if err != nil {
		return err
	}
	c.Status = ChangeApplied
	if err := cs.SaveChange(context.WithoutCancel(ctx), c); err != nil {
		// The resource is ready with its new parameters; the change left
		// applying is dropped by the next one.
		e.log.WarnContext(ctx, "record applied change", "request_id", id, "err", err)
	}
	e.updated(out, UpdateApplied)
	return nil
}

// failChange fails an updating resource whose change could not be
// applied.
func (e *Engine) failChange(ctx context.Context, r *Resource, c *Change, why string) error {
	if cs, err := e.changes(); err == nil {
		c.Status, c.Reason = ChangeFailed, why
		if err := cs.SaveChange(ctx, c); err != nil {
			return err
		}
	}
	return e.Fail(ctx, r.ID, "update failed: "+why)
}

// updated tells the observer how an update ended.
func (e *Engine) updated(r *Resource, result string) {
	if o, ok := e.observer.(UpdateObserver); ok {
		o.Updated(r, result)
	}
}

// pendingChange returns the resource ref refers to and its change waiting
// for approval, or nils when there is none (the caller then treats ref as
// a request).
func (e *Engine) pendingChange(ctx context.Context, actor Actor, ref string) (*Resource, *Change) {
	cs, ok := e.store.(ChangeStore)
	if !ok {
		return nil, nil
	}
	r, err := e.Find(ctx, actor, ref)
	if err != nil || r.State == AwaitingApproval {
		return nil, nil
	}
	c, err := cs.OpenChange(ctx, r.ID)
	if err != nil || c.Status != ChangePending {
		return nil, nil
	}
	return r, c
}

// PendingChange returns the change of r waiting for approval, or nil.
func (e *Engine) PendingChange(ctx context.Context, r *Resource) (*Change, error) {
	cs, ok := e.store.(ChangeStore)
	if !ok {
		return nil, nil
	}
	c, err := cs.OpenChange(ctx, r.ID)
	if ErrorCode(err) == NotFound || err == nil && c.Status != ChangePending {
		return nil, nil
	}
	return c, err
}

// approveChange records actor's approval of r's pending change c; the
// approval that completes the count applies it (ready → updating).
func (e *Engine) approveChange(ctx context.Context, actor Actor, r *Resource, c *Change) (*Resource, ApprovalStatus, error) {
	st := ApprovalStatus{Needed: max(c.Needed, 1), Approvers: slices.Clone(c.Approvers)}
	if !e.org.IsApprover(actor) {
		return nil, st, Errorf(Forbidden, "Only approvers and platform admins can approve changes.")
	}
	if samePerson(actor, c.Actor) {
		return nil, st, Errorf(Forbidden, "You cannot approve your own change; another approver must decide on the change of %s %s.", r.Name, r.Ref())
	}
	if slices.ContainsFunc(c.Approvers, func(a Actor) bool { return samePerson(a, actor) }) {
		return nil, st, Errorf(Conflict, "You have already approved the change of %s %s; it needs %d more approval(s) from other approvers.", r.Name, r.Ref(), st.Missing())
	}
	cs, err := e.changes()
	if err != nil {
		return nil, st, err
	}
	c.Approvers = append(c.Approvers, actor)
	st.Approvers = slices.Clone(c.Approvers)
	if len(c.Approvers) < st.Needed {
		if err := cs.SaveChange(ctx, c); err != nil {
			return nil, st, err
		}
		msg := fmt.Sprintf("change %s approved by %s (%d of %d)", c.Summary(), actor.Display(), len(c.Approvers), st.Needed)
		if _, err := e.store.AddEvent(ctx, Event{ResourceID: r.ID, Actor: actor, Kind: EventNote, Message: msg}); err != nil {
			return nil, st, fmt.Errorf("record approval of the change of %s: %w", r.Ref(), err)
		}
		return r, st, nil
	}
	c.Status = ChangeApplying
	if err := cs.SaveChange(ctx, c); err != nil {
		return nil, st, err
	}
	out, err := e.startChange(ctx, actor, r, c, fmt.Sprintf("change approved by %s (%d of %d); updating", names(c.Approvers), len(c.Approvers), st.Needed))
	return out, st, err
}

// rejectChange drops r's pending change c with actor's reason.
func (e *Engine) rejectChange(ctx context.Context, actor Actor, r *Resource, c *Change, reason string) (*Resource, error) {
	if !e.org.IsApprover(actor) {
		return nil, Errorf(Forbidden, "Only approvers and platform admins can reject changes.")
	}
	if samePerson(actor, c.Actor) {
		return nil, Errorf(Forbidden, "You cannot reject your own change; another approver must decide on the change of %s %s.", r.Name, r.Ref())
	}
	cs, err := e.changes()
	if err != nil {
		return nil, err
	}
	why := fmt.Sprintf("change %s rejected by %s: %s", c.Summary(), actor.Display(), reason)
	c.Status, c.Reason = ChangeRejected, why
	if err := cs.SaveChange(ctx, c); err != nil {
		return nil, err
	}
	if _, err := e.store.AddEvent(ctx, Event{ResourceID: r.ID, Actor: actor, Kind: EventNote, Message: why}); err != nil {
		return nil, fmt.Errorf("record rejection of the change of %s: %w", r.Ref(), err)
	}
	e.updated(r, UpdateRejected)
	return r, nil
}
