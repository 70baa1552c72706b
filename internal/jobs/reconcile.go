package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/platform"
)

// ReconcileInterval is how often the leader looks for requests that lost
// their job.
const ReconcileInterval = time.Minute

// ReconcileArgs asks for requests in pending, provisioning or deleting that
// have no live job to get one again, and for threads whose delivery was
// lost to be delivered.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts: one at a time.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: ReconcileInterval}}
}

// reconcileLimit bounds the requests, and separately the threads, one run
// repairs; the next run takes the rest.
const reconcileLimit = 100

// reconcileWorker re-enqueues the job of a request left without one — a job
// discarded by River's rescuer on its last attempt, or lost by an operator —
// so that every request reaches a final state; and the delivery of events
// no live notification job will deliver (one discarded after its last
// attempt, lost, or never enqueued by an older version), so that every
// thread is complete and every secret delivered.
type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	store Store
	// enqueuer chooses a delivery's queue as OnEvent does; nil, deliveries
	// are not repaired.
	enqueuer *Enqueuer
	// stale is how long a request must have been unchanged, or a thread's
	// newest undelivered event recorded, before it is looked at: longer
	// than any job may legitimately run.
	stale time.Duration
	log   *slog.Logger
}

// Work finds orphaned requests and lost deliveries and enqueues their jobs.
// Enqueuing a delivery twice is harmless: the second job finds the events
// delivered (Store.Deliver's cursor) and does nothing.
func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	orphans, err := w.store.Orphans(ctx, []string{ProvisionArgs{}.Kind(), DeprovisionArgs{}.Kind(), UpdateArgs{}.Kind()}, w.stale, reconcileLimit)
	if err != nil {
		return fmt.Errorf("find orphaned requests: %w", err)
	}
	var params []river.InsertManyParams
	for _, r := range orphans {
		var args river.JobArgs = ProvisionArgs{ResourceID: r.ID}
		switch r.State {
		case platform.Deleting:
			args = DeprovisionArgs{ResourceID: r.ID}
		case platform.Updating:
			args = UpdateArgs{ResourceID: r.ID}
		}
		w.log.WarnContext(ctx, "request had no job; enqueueing it again", "request_id", r.ID, "state", r.State)
		params = append(params, river.InsertManyParams{Args: args})
	}
	if w.enqueuer != nil {
		err := w.store.Undelivered(ctx, NotifyArgs{}.Kind(), w.stale, reconcileLimit, func(r *platform.Resource, upTo int64) {
			args, ok := w.enqueuer.notify(r, upTo)
			if !ok {
				return
			}
			w.log.WarnContext(ctx, "thread had undelivered events and no job to deliver them; enqueueing it again",
				"request_id", r.ID, "platform", args.Platform, "event_id", upTo, "queue", args.InsertOpts().Queue)
			params = append(params, river.InsertManyParams{Args: args})
		})
		if err != nil {
			return fmt.Errorf("find undelivered events: %w", err)
		}
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params); err != nil {
		return fmt.Errorf("re-enqueue lost jobs: %w", err)
	}
	return nil
}
