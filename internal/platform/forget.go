package platform

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Forget moves resource ref, which could not be deprovisioned, to
// forgotten: an admin's force-remove. Its name is freed, the transition
// records the reason and the actor, and a note says what may be left
// behind (the driver binding and the outputs recorded). Only admins may
// forget, only with a reason, and only a failed resource or one being
// deleted; anything else is refused and nothing changes.
func (e *Engine) Forget(ctx context.Context, actor Actor, ref, reason string) (*Resource, error) {
	if !e.org.IsAdmin(actor) {
		return nil, Errorf(Forbidden, "Only admins can forget a resource; ask %s, or delete it with /idp delete %s.", e.adminList(), strings.TrimSpace(ref))
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, &Error{Code: Invalid, Message: "forget needs --reason <text>: say why it cannot be deprovisioned.",
			Fields: []FieldError{{Field: "reason", Message: "is required"}}}
	}
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	if err := forgettable(r); err != nil {
		return nil, err
	}
	left := e.leftBehind(r)
	ev := Event{Actor: actor, Kind: EventTransition, Message: fmt.Sprintf("forgotten by %s: %s", actor.Display(), reason)}
	note := Event{Actor: actor, Kind: EventNote, Message: left}
	return e.store.Transition(ctx, r.ID, Forgotten, ev, func(cur *Resource) error {
		if err := forgettable(cur); err != nil {
			return err
		}
		cur.Reason = reason
		return nil
	}, note)
}

// forgettable returns nil when r may be forgotten: failed, or being
// deleted.
func forgettable(r *Resource) error {
	switch r.State {
	case Failed, Deleting:
		return nil
	case Ready:
		return Errorf(Conflict, "%s %s is ready: delete it instead, with /idp delete %s.", r.Name, r.Ref(), r.Ref())
	case Deleted, Rejected, Expired, Forgotten:
		return Errorf(Conflict, "%s %s is already %s; there is nothing to forget.", r.Name, r.Ref(), r.State)
	}
	return Errorf(Conflict, "%s %s is %s; only a failed resource, or one whose deletion is stuck, can be forgotten.", r.Name, r.Ref(), r.State)
}

// leftBehind says what may still exist of r once its record is forgotten:
// what its driver made, named by the outputs recorded.
func (e *Engine) leftBehind(r *Resource) string {
	driver := "its driver"
	if svc, err := e.catalog.Lookup(r.Service); err == nil {
		if b, ok := svc.Binding(r.Environment); ok {
			driver = "the " + b.Driver + " driver"
		}
	}
	msg := fmt.Sprintf("The name %s is free again. What %s made for %s may still exist", r.Name, driver, r.Ref())
	if outs := r.Outputs; len(outs) > 0 {
		parts := make([]string, 0, len(outs))
		for _, k := range slices.Sorted(maps.Keys(outs)) {
			parts = append(parts, k+"="+outs[k])
		}
		msg += ": " + strings.Join(parts, ", ")
	} else {
		msg += " (no outputs were recorded)"
	}
	return msg + "; check the target and remove it by hand."
}

// adminList names the admins for a message, or says there are none.
func (e *Engine) adminList() string {
	if len(e.org.Admins) == 0 {
		return "the platform team (no admin is configured)"
	}
	names := make([]string, len(e.org.Admins))
	for i, id := range e.org.Admins {
		names[i] = Actor{ID: id}.Display()
	}
	return "an admin (" + strings.Join(names, ", ") + ")"
}
