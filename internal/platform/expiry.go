package platform

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ExpiredReason is the reason of a resource deprovisioned at the end of its
// TTL.
const ExpiredReason = "expired (TTL)"

// Extend moves the expiry of the resource ref refers to d later (from its
// current expiry, or from now if that has passed). Members of the owning
// team and admins may extend, up to Deadlines.MaxExtension from now.
func (e *Engine) Extend(ctx context.Context, actor Actor, ref string, d time.Duration) (*Resource, error) {
	if d <= 0 {
		return nil, &Error{Code: Invalid, Message: "Give a positive duration to extend by, like 7d or 12h.",
			Fields: []FieldError{{Field: "duration", Message: "must be positive"}}}
	}
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	if !e.org.MayManage(actor, r.Team) {
		return nil, Errorf(Forbidden, "You are not in team %s, which owns %s.", r.Team, r.Name)
	}
	if !r.State.Counted() || r.State == Deleting {
		return nil, Errorf(Conflict, "%s %s is %s; only resources that are not failed or being deleted can be extended.", r.Name, r.Ref(), r.State)
	}
	if r.ExpiresAt.IsZero() {
		return nil, Errorf(Conflict, "%s %s has no expiry; there is nothing to extend.", r.Name, r.Ref())
	}
	now := e.now()
	limit := now.Add(e.deadline.MaxExtension)
	until := r.ExpiresAt
	if until.Before(now) {
		until = now
	}
	until = until.Add(d)
	if until.After(limit) {
		return nil, &Error{Code: Invalid,
			Message: fmt.Sprintf("%s %s can be kept at most %s from now (until %s); ask the platform team for longer.",
				r.Name, r.Ref(), FormatDuration(e.deadline.MaxExtension), limit.UTC().Format("2006-01-02 15:04 MST")),
			Fields: []FieldError{{Field: "duration", Message: "is too long"}}}
	}
	msg := fmt.Sprintf("expiry extended by %s to %s by %s", FormatDuration(d), until.UTC().Format("2006-01-02 15:04 MST"), actor.Display())
	return e.store.Update(ctx, r.ID, Event{Actor: actor, Kind: EventNote, Message: msg}, func(cur *Resource) error {
		if !cur.State.Counted() || cur.State == Deleting || !cur.ExpiresAt.Equal(r.ExpiresAt) {
			return Errorf(Conflict, "%s %s changed meanwhile (it is %s); check /idp status %s and try again.", cur.Name, cur.Ref(), cur.State, cur.Ref())
		}
		cur.ExpiresAt = until
		return nil
	})
}

// Sweep is what one governance sweep did.
type Sweep struct {
	// Reminded are the requests whose approvers were reminded.
	Reminded []int64
	// Expired are the requests that waited too long for approval.
	Expired []int64
	// Warned are the resources whose owners were told their TTL ends soon.
	Warned []int64
	// Deprovisioned are the resources whose TTL ended.
	Deprovisioned []int64
}

// Sweep does what time calls for: it reminds the approvers of requests
// waiting longer than Deadlines.RemindAfter (once), expires those waiting
// longer than ExpireAfter, warns the owners of resources whose TTL ends
// within WarnBefore (once per expiry), and starts deprovisioning those
// whose TTL has ended. It is the leader's periodic job, and safe to run
// again or concurrently: every step is checked under the row lock. Errors
// of single resources are logged; the first is returned after the rest
// were handled.
func (e *Engine) Sweep(ctx context.Context) (Sweep, error) {
	var (
		out  Sweep
		errs []error
	)
	now := e.now()
	waiting, err := e.store.Resources(ctx, ResourceFilter{States: []State{AwaitingApproval}})
	if err != nil {
		return out, fmt.Errorf("sweep: find requests awaiting approval: %w", err)
	}
	for _, r := range waiting {
		if err := e.sweepApproval(ctx, r, now, &out); err != nil {
			e.log.ErrorContext(ctx, "sweep approval", "request_id", r.ID, "err", err)
			errs = append(errs, err)
		}
	}
	soon := now.Add(e.deadline.WarnBefore)
	ready, err := e.store.Resources(ctx, ResourceFilter{States: []State{Ready}, ExpiresBefore: soon.Add(time.Nanosecond)})
	if err != nil {
		return out, fmt.Errorf("sweep: find expiring resources: %w", err)
	}
	for _, r := range ready {
		if r.ExpiresAt.IsZero() || r.ExpiresAt.After(soon) {
			continue
		}
		if err := e.sweepExpiry(ctx, r, now, &out); err != nil {
			e.log.ErrorContext(ctx, "sweep expiry", "request_id", r.ID, "err", err)
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (e *Engine) sweepApproval(ctx context.Context, r *Resource, now time.Time, out *Sweep) error {
	waited := now.Sub(r.CreatedAt)
	if waited >= e.deadline.ExpireAfter {
		why := fmt.Sprintf("no approval decision within %s", FormatDuration(e.deadline.ExpireAfter))
		_, err := e.store.Transition(ctx, r.ID, Expired, Event{Actor: System, Kind: EventTransition, Message: why}, func(cur *Resource) error {
			cur.Reason = why
			return nil
		})
		if ErrorCode(err) == Conflict {
			return nil // decided meanwhile
		}
		if err == nil {
			out.Expired = append(out.Expired, r.ID)
		}
		return err
	}
	if waited < e.deadline.RemindAfter {
		return nil
	}
	if !r.RemindedAt.IsZero() {
		return nil
	}
	evs, err := e.store.Events(ctx, r.ID)
	if err != nil {
		return err
	}
	st := ApprovalStatus{Needed: e.ApprovalsNeeded(r), Approvers: approvers(evs)}
	msg := fmt.Sprintf("still awaiting approval after %s: needs %d more approval(s) from an approver; it expires without a decision in %s",
		FormatDuration(waited.Truncate(time.Hour)), st.Missing(), FormatDuration((e.deadline.ExpireAfter - waited).Round(time.Hour)))
	// Checked again under the row lock: another sweep may have reminded,
	// or someone decided, meanwhile.
	_, err = e.store.Update(ctx, r.ID, Event{Actor: System, Kind: EventReminder, Message: msg}, func(cur *Resource) error {
		if cur.State != AwaitingApproval || !cur.RemindedAt.IsZero() {
			return errSwept
		}
		cur.RemindedAt = now
		return nil
	})
	if errors.Is(err, errSwept) {
		return nil
	}
	if err != nil {
		return err
	}
	out.Reminded = append(out.Reminded, r.ID)
	return nil
}

func (e *Engine) sweepExpiry(ctx context.Context, r *Resource, now time.Time, out *Sweep) error {
	if !r.ExpiresAt.After(now) {
		_, err := e.store.Transition(ctx, r.ID, Deleting, Event{Actor: System, Kind: EventTransition, Message: ExpiredReason}, func(cur *Resource) error {
			if cur.ExpiresAt.IsZero() || cur.ExpiresAt.After(now) {
				return Errorf(Conflict, "%s was extended meanwhile", cur.Ref())
			}
			cur.Reason = ExpiredReason
			return nil
		})
		if ErrorCode(err) == Conflict {
			return nil // deleted or extended meanwhile
		}
		if err == nil {
			out.Deprovisioned = append(out.Deprovisioned, r.ID)
		}
		return err
	}
	if r.WarnedFor.Equal(r.ExpiresAt) {
		return nil
	}
	msg := fmt.Sprintf("expires in %s (%s) and will then be deleted; keep it longer with /idp extend %d 7d",
		FormatDuration(r.ExpiresAt.Sub(now).Round(time.Minute)), r.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), r.ID)
	// Checked again under the row lock: another sweep may have warned, or
	// the owner extended or deleted it, meanwhile.
	_, err := e.store.Update(ctx, r.ID, Event{Actor: System, Kind: EventExpiring, Message: msg}, func(cur *Resource) error {
		if cur.State != Ready || !cur.ExpiresAt.Equal(r.ExpiresAt) || cur.WarnedFor.Equal(cur.ExpiresAt) {
			return errSwept
		}
		cur.WarnedFor = cur.ExpiresAt
		return nil
	})
	if errors.Is(err, errSwept) {
		return nil
	}
	if err != nil {
		return err
	}
	out.Warned = append(out.Warned, r.ID)
	return nil
}

// errSwept stops a sweep step whose work another sweep (or a person) did
// meanwhile.
var errSwept = errors.New("already done")

// FormatDuration renders d the way durations are typed: "7d", "36h",
// "90m", "1d12h". Sub-minute parts are dropped.
func FormatDuration(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d <= 0 {
		return "0m"
	}
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	var b strings.Builder
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "d")
	}
	if h := rest / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "h")
	}
	if m := rest % time.Hour / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "m")
	}
	return b.String()
}

// ParseDuration reads a duration as people type it: Go's ("36h", "90m")
// or whole days and weeks ("7d", "2w", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, errors.New("is empty")
	}
	var total time.Duration
	rest := s
	for _, unit := range []struct {
		suffix string
		size   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(rest, unit.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 || n > 10000 {
			return 0, fmt.Errorf("%q is not a duration like 7d, 36h or 2w", s)
		}
		total += time.Duration(n) * unit.size
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 7d, 36h or 2w", s)
		}
		total += d
	}
	return total, nil
}
