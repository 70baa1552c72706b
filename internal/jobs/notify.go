package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/platform"
)

// NotifyMaxAttempts is how many times a notification job is tried. With
// River's backoff that spans weeks: a chat outage delays messages, and
// later events' jobs deliver earlier ones too.
const NotifyMaxAttempts = 25

// Notifier posts a resource's progress to the chat platform it was
// requested from. Both methods may be called again for an event they have
// already handled (delivery is at least once) and must tolerate it.
type Notifier interface {
	// Notify posts a public thread message for a transition, step, verdict
	// or note event.
	Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error
	// Private sends connection details to r.Requester only.
	Private(ctx context.Context, r *platform.Resource, secrets map[string]string) error
}

// RateLimited is implemented by a notifier's error when the chat platform
// asked to wait (HTTP 429): the delivery is retried after that long, without
// using up an attempt.
type RateLimited interface {
	RetryAfter() time.Duration
}

// Deferred is implemented by a notifier's error when the message cannot be
// delivered by this process yet but may be by another (the console whose
// user is the requester): this delivery alone is retried after that long,
// without using up an attempt and without pausing the platform.
type Deferred interface {
	DeferFor() time.Duration
}

// deferral returns the snooze of a delivery err defers to another
// process (at least a second), or nil when err is no Deferred.
func deferral(err error) error {
	var d Deferred
	if !errors.As(err, &d) {
		return nil
	}
	return river.JobSnooze(max(d.DeferFor(), time.Second))
}

// RateLimitObserver records rate-limit waits; the metrics package
// implements it.
type RateLimitObserver interface {
	RateLimited(platform string, wait time.Duration)
}

// paused is the error of a delivery that did not call the chat API because
// the platform asked to wait.
type paused time.Duration

func (p paused) Error() string { return fmt.Sprintf("paused for %s by a rate limit", time.Duration(p)) }

// NotSent implements the interface of platform.NotSent: a paused delivery
// did not call the chat API.
func (paused) NotSent() bool { return true }

// refused is a rate limit the platform answered a first delivery with:
// it did not act, so the next try is no redelivery. (A redelivery's rate
// limit may have cut off the lookup for its earlier attempt's message; it
// stays a redelivery.)
type refused struct{ error }

func (r refused) Unwrap() error { return r.error }
func (refused) NotSent() bool   { return true }

// limited pauses every delivery to the platform when err is a rate limit,
// at once: while this delivery still holds the outbox cursor, so that no
// other job can slip a call in before the pause is seen.
func (w *notifyWorker) limited(ctx context.Context, platformName string, err error) error {
	if _, ok := w.paused.limit(platformName, err); ok && !platform.Redelivery(ctx) {
		return refused{err}
	}
	return err
}

// NotifyArgs asks for a resource's events up to EventID to be delivered to
// a platform's thread.
type NotifyArgs struct {
	Platform   string `json:"platform"`
	ResourceID int64  `json:"resource_id"`
	EventID    int64  `json:"event_id"`
	// Audience is the person whose deliveries these are, on a platform
	// delivered per person (the console): only their process works them.
	Audience string `json:"audience,omitempty"`
}

// Kind implements river.JobArgs.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (a NotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: NotifyQueue(a.Platform, a.Audience), MaxAttempts: NotifyMaxAttempts}
}

// undeliverableSecret replaces connection details that cannot be opened
// (the secret key changed) in the thread.
const undeliverableSecret = "The connection details could not be delivered: they could not be decrypted with the current secret key. Ask the platform team to reset the credentials."

// notifyWorker delivers events through the outbox.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	engine    *platform.Engine
	store     Store
	notifiers map[string]Notifier
	limits    RateLimitObserver
	log       *slog.Logger
	paused    pauses
}

// Timeout bounds one delivery job.
func (w *notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return NotifyTimeout }

// Work delivers the resource's undelivered events up to the job's event.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	a := job.Args
	n, ok := w.notifiers[a.Platform]
	if !ok {
		return river.JobCancel(fmt.Errorf("no notifier for platform %q", a.Platform))
	}
	if wait := w.paused.wait(a.Platform); wait > 0 {
		return river.JobSnooze(wait)
	}
	err := w.store.Deliver(ctx, a.Platform, a.ResourceID, a.EventID, func(ctx context.Context, r *platform.Resource, ev platform.Event) error {
		// Another delivery may have been refused while this one waited
		// for the cursor.
		if wait := w.paused.wait(a.Platform); wait > 0 {
			return paused(wait)
		}
		if ev.Kind != platform.EventSecret {
			return w.limited(ctx, a.Platform, n.Notify(ctx, r, ev))
		}
		secrets, err := w.engine.Secrets(ev)
		if err != nil {
			w.log.ErrorContext(ctx, "open connection details", "request_id", r.ID, "event_id", ev.ID, "err", err)
			note := ev
			note.Kind, note.Sealed, note.Message = platform.EventNote, nil, undeliverableSecret
			return w.limited(ctx, a.Platform, n.Notify(ctx, r, note))
		}
		return w.limited(ctx, a.Platform, n.Private(ctx, r, secrets))
	})
	if platform.ErrorCode(err) == platform.NotFound {
		return river.JobCancel(err)
	}
	var p paused
	if errors.As(err, &p) {
		return river.JobSnooze(time.Duration(p))
	}
	if snooze := deferral(err); snooze != nil {
		return snooze
	}
	var limited RateLimited
	if errors.As(err, &limited) {
		wait := max(limited.RetryAfter(), time.Second)
		if w.limits != nil {
			w.limits.RateLimited(a.Platform, wait)
		}
		w.log.InfoContext(ctx, "rate limited; delivery delayed", "platform", a.Platform, "request_id", a.ResourceID, "wait", wait)
		return river.JobSnooze(wait)
	}
	if err != nil {
		w.log.WarnContext(ctx, "deliver events; will retry", "platform", a.Platform, "request_id", a.ResourceID,
			"event_id", a.EventID, "attempt", job.Attempt, "err", err)
		return err
	}
	return nil
}
