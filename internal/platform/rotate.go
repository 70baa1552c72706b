package platform

import (
	"context"
	"fmt"
)

// Rotate issues new credentials for resource ref and revokes the old ones,
// through its driver's Rotator. The new credentials are sealed into a
// secret event, delivered to the requester privately like the first ones
// (never in a channel, never logged), after a note in the thread saying
// who rotated them. Only members of the owning team and admins may rotate,
// only a ready resource, and only when its driver can.
func (e *Engine) Rotate(ctx context.Context, actor Actor, ref string) (*Resource, error) {
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	if !e.org.MayManage(actor, r.Team) {
		return nil, Errorf(Forbidden, "You are not in team %s, which owns %s %s: only its members or a platform admin can rotate its credentials.", r.Team, r.Name, r.Ref())
	}
	if r.State != Ready {
		return nil, Errorf(Conflict, "%s %s is %s; credentials can be rotated only while it is ready.", r.Name, r.Ref(), r.State)
	}
	job, d, err := e.job(ctx, r)
	if err != nil {
		return nil, err
	}
	rot, err := e.rotator(r, d)
	if err != nil {
		return nil, err
	}
	// The note below tells the rotation; the driver's steps would read as
	// provisioning progress in the thread.
	job.Step = func(string) {}
	rctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	dctx, span := e.tracer.Start(rctx, "driver.rotate", r)
	secrets, err := rot.Rotate(dctx, traced(job, span))
	span.End(err)
	if err != nil {
		if IsPermanent(err) || ErrorCode(err) == Unavailable {
			return nil, &Error{Code: ErrorCode(err), Message: fmt.Sprintf("The credentials of %s %s were not rotated: %s", r.Name, r.Ref(), ErrorMessage(err)), Err: err}
		}
		return nil, fmt.Errorf("rotate credentials of %s: %w", r.Name, err)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("rotate credentials of %s: the driver returned none", r.Name)
	}
	sealed, err := e.sealer.Seal(r.ID, secrets)
	if err != nil {
		return nil, fmt.Errorf("seal rotated credentials of %s: %w", r.Name, err)
	}
	note := Event{ResourceID: r.ID, Actor: actor, Kind: EventNote,
		Message: fmt.Sprintf("credentials rotated by %s; the old ones no longer work. The new ones go to %s privately.", actor.Display(), r.Requester.Display())}
	if _, err := e.store.AddEvent(ctx, note); err != nil {
		return nil, fmt.Errorf("record rotation of %s: %w", r.Name, err)
	}
	if _, err := e.store.AddEvent(ctx, Event{ResourceID: r.ID, Actor: System, Kind: EventSecret, Sealed: sealed}); err != nil {
		return nil, &Error{Code: Internal, Message: fmt.Sprintf("The credentials of %s were rotated but could not be delivered; rotate them again.", r.Name), Err: err}
	}
	return r, nil
}

// Rotatable returns nil when the credentials of r can be rotated here (its
// driver is a Rotator and a secret key is configured to deliver them), or
// an error saying why not. It does not check who asks, nor r's state.
func (e *Engine) Rotatable(r *Resource) error {
	svc, err := e.catalog.Lookup(r.Service)
	if err != nil {
		return Wrap(Invalid, err, fmt.Sprintf("service %s is no longer in the catalog", r.Service))
	}
	d, _, err := e.Driver(svc, r.Environment)
	if err != nil {
		return err
	}
	_, err = e.rotator(r, d)
	return err
}

func (e *Engine) rotator(r *Resource, d Driver) (Rotator, error) {
	rot, ok := d.(Rotator)
	if !ok {
		return nil, Errorf(Invalid, "The credentials of %s cannot be rotated by its driver; ask the platform team to reset them.", r.Service)
	}
	if e.sealer == nil {
		return nil, Errorf(Unavailable, "Credentials cannot be rotated here: no secret key is configured to deliver them privately.")
	}
	return rot, nil
}
