package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
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

// refused is a rate limit the platform answered a first delivery with:
// it did not act, so the next try is no redelivery. (A redelivery's rate
// limit may have cut off the lookup for its earlier attempt's message; it
// stays a redelivery.)
type refused struct{ error }

func (r refused) Unwrap() error { return r.error }
func (refused) NotSent() bool   { return true }

// limited marks the platform's rate limit on a first delivery as refused.
func limited(ctx context.Context, err error) error {
	if _, ok := rateWait(err); ok && !platform.Redelivery(ctx) {
		return refused{err}
	}
	return err
}

// BatchNotifier is a Notifier that takes a run of a resource's events at
// once (thread.Notifier): it hands connection details over before the
// thread catches up, and coalesces the thread's replies when its platform
// is busy.
type BatchNotifier interface {
	// NotifyBatch delivers d's events, from the first, and returns how
	// many it delivered; see platform.Delivery.
	NotifyBatch(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error)
}

// BatchSize caps the events one delivery run hands a BatchNotifier.
const BatchSize = 50

// busyWait is how long a delivery job waits when another job of the
// same resource is delivering.
const busyWait = 200 * time.Millisecond

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

// HandOverArgs asks for the connection details of secret event EventID of
// a resource to be handed over to its requester, apart from the delivery
// of the resource's thread: the requester waits for them, not for a busy
// channel's turns. The job runs in a queue of its own (HandOverQueue),
// beside the deliveries, and ends with the hand-over; the thread's
// delivery (a NotifyArgs job inserted with it) tells it, and hands the
// details over itself if it gets there first.
type HandOverArgs NotifyArgs

// Kind implements river.JobArgs.
func (HandOverArgs) Kind() string { return "handover" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (a HandOverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: HandOverQueue(a.Platform, a.Audience), MaxAttempts: NotifyMaxAttempts}
}

// HandingOver is a Notifier that hands connection details over apart from
// the thread (thread.Notifier).
type HandingOver interface {
	// HandOver sends secrets, the connection details of secret event evID
	// of r, to r's requester privately, and reports whether they were
	// handed over (false: the requester does not accept direct messages).
	HandOver(ctx context.Context, r *platform.Resource, evID int64, secrets map[string]string) (bool, error)
}

// deliverer is what the delivery workers (notify, hand-over) share.
type deliverer struct {
	engine    *platform.Engine
	store     Store
	notifiers map[string]Notifier
	limits    RateLimitObserver
	log       *slog.Logger
}

// notifier returns the notifier of platformName; a job for a platform
// without one is cancelled.
func (d *deliverer) notifier(platformName string) (Notifier, error) {
	n, ok := d.notifiers[platformName]
	if !ok {
		return nil, river.JobCancel(fmt.Errorf("no notifier for platform %q", platformName))
	}
	return n, nil
}

// handOverWorker hands connection details over (HandOverArgs).
type handOverWorker struct {
	river.WorkerDefaults[HandOverArgs]
	deliverer
}

// Timeout bounds one hand-over.
func (w *handOverWorker) Timeout(*river.Job[HandOverArgs]) time.Duration { return NotifyTimeout }

// Work hands the event's connection details over, unless that was done or
// the thread's delivery told them already (postgres.Store.HandOver). On a
// platform that hands them over only with the thread (the console), the
// thread's delivery does it all.
func (w *handOverWorker) Work(ctx context.Context, job *river.Job[HandOverArgs]) error {
	a := job.Args
	n, err := w.notifier(a.Platform)
	if err != nil {
		return err
	}
	ho, ok := n.(HandingOver)
	if !ok {
		return nil
	}
	_, err = w.store.HandOver(ctx, a.Platform, a.ResourceID, a.EventID, func(ctx context.Context, r *platform.Resource, ev platform.Event) (bool, error) {
		secrets, err := w.engine.Secrets(ev)
		if err != nil {
			// The thread's delivery tells that they cannot be delivered.
			w.log.ErrorContext(ctx, "open connection details", "request_id", r.ID, "event_id", ev.ID, "err", err)
			return false, nil
		}
		handed, err := ho.HandOver(ctx, r, ev.ID, secrets)
		return handed, limited(ctx, err)
	})
	return settleDelivery(ctx, w.log, w.limits, a.Platform, a.ResourceID, a.EventID, job.Attempt, err)
}

// undeliverableSecret replaces connection details that cannot be opened
// (the secret key changed) in the thread.
const undeliverableSecret = "The connection details could not be delivered: they could not be decrypted with the current secret key. Ask the platform team to reset the credentials."

// notifyWorker delivers events through the outbox.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	deliverer
}

// Timeout bounds one delivery job.
func (w *notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return NotifyTimeout }

// Work delivers the resource's undelivered events up to the job's event:
// as runs to a BatchNotifier, one at a time to others. A rate limit
// snoozes this job alone, for as long as its bucket asks.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	a := job.Args
	n, err := w.notifier(a.Platform)
	if err != nil {
		return err
	}
	// A resource's events each insert a job, which replaces those still
	// waiting (postgres.Supersede); one that was running or retrying
	// then need not come back: the latest delivers what it would.
	if later, err := w.store.Superseded(ctx, NotifyArgs{}.Kind(), a.Platform, a.ResourceID, job.ID); err == nil && later {
		return nil
	}
	if bn, ok := n.(BatchNotifier); ok {
		// Every event recorded by now, not only up to this job's: a
		// story that waited for its turn tells what piled up at once.
		err = w.store.DeliverBatch(ctx, a.Platform, a.ResourceID, math.MaxInt64, BatchSize, func(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error) {
			w.open(ctx, r, &d)
			delivered, err := bn.NotifyBatch(ctx, r, d)
			return delivered, limited(ctx, err)
		})
	} else {
		err = w.store.Deliver(ctx, a.Platform, a.ResourceID, a.EventID, func(ctx context.Context, r *platform.Resource, ev platform.Event) error {
			if ev.Kind != platform.EventSecret {
				return limited(ctx, n.Notify(ctx, r, ev))
			}
			secrets, err := w.engine.Secrets(ev)
			if err != nil {
				w.log.ErrorContext(ctx, "open connection details", "request_id", r.ID, "event_id", ev.ID, "err", err)
				return limited(ctx, n.Notify(ctx, r, undeliverable(ev)))
			}
			return limited(ctx, n.Private(ctx, r, secrets))
		})
	}
	return settleDelivery(ctx, w.log, w.limits, a.Platform, a.ResourceID, a.EventID, job.Attempt, err)
}

// settleDelivery is what a delivery job (notify or hand-over) returns to River
// for err, the outcome of its delivery: cancelled when the resource is
// gone, snoozed when another job of the resource delivers, when the
// platform or the pacer asks to wait or when the delivery is another
// process's, retried on any other error.
func settleDelivery(ctx context.Context, log *slog.Logger, limits RateLimitObserver, platformName string, resourceID, eventID int64, attempt int, err error) error {
	if platform.ErrorCode(err) == platform.NotFound {
		return river.JobCancel(err)
	}
	if errors.Is(err, platform.ErrDeliveryBusy) {
		// Another job of the resource delivers; this one delivers what
		// that one had not seen, in a moment, without holding a worker.
		return river.JobSnooze(busyWait)
	}
	if snooze := deferral(err); snooze != nil {
		return snooze
	}
	if snooze := snoozeLimited(err, platformName, limits); snooze != nil {
		if !paced(err) {
			log.InfoContext(ctx, "rate limited; delivery delayed", "platform", platformName, "request_id", resourceID, "err", err)
		}
		return snooze
	}
	if err != nil {
		log.WarnContext(ctx, "deliver events; will retry", "platform", platformName, "request_id", resourceID,
			"event_id", eventID, "attempt", attempt, "err", err)
		return err
	}
	return nil
}

// open opens the connection details of d's secret events still to hand
// over; one that cannot be opened becomes a note saying so.
func (w *notifyWorker) open(ctx context.Context, r *platform.Resource, d *platform.Delivery) {
	d.Secrets = map[int64]map[string]string{}
	d.Events = slices.Clone(d.Events)
	for i, ev := range d.Events {
		if ev.Kind != platform.EventSecret || ev.Sealed == nil {
			continue
		}
		secrets, err := w.engine.Secrets(ev)
		if err != nil {
			w.log.ErrorContext(ctx, "open connection details", "request_id", r.ID, "event_id", ev.ID, "err", err)
			d.Events[i] = undeliverable(ev)
			continue
		}
		d.Secrets[ev.ID] = secrets
	}
}

// undeliverable is the note that replaces secret event ev in the thread
// when its connection details cannot be opened.
func undeliverable(ev platform.Event) platform.Event {
	ev.Kind, ev.Sealed, ev.Message = platform.EventNote, nil, undeliverableSecret
	return ev
}
