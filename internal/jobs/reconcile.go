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
// have no live job to get one again.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts: one at a time.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: ReconcileInterval}}
}

// reconcileWorker re-enqueues the job of a request left without one — a job
// discarded by River's rescuer on its last attempt, or lost by an operator —
// so that every request reaches a final state.
type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	store Store
	// stale is how long a request must have been unchanged before it is
	// looked at: longer than any job may legitimately run.
	stale time.Duration
	log   *slog.Logger
}

// Work finds orphaned requests and enqueues their jobs.
func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	orphans, err := w.store.Orphans(ctx, []string{ProvisionArgs{}.Kind(), DeprovisionArgs{}.Kind()}, w.stale, 100)
	if err != nil {
		return fmt.Errorf("find orphaned requests: %w", err)
	}
	var params []river.InsertManyParams
	for _, r := range orphans {
		var args river.JobArgs = ProvisionArgs{ResourceID: r.ID}
		if r.State == platform.Deleting {
			args = DeprovisionArgs{ResourceID: r.ID}
		}
		w.log.WarnContext(ctx, "request had no job; enqueueing it again", "request_id", r.ID, "state", r.State)
		params = append(params, river.InsertManyParams{Args: args})
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params); err != nil {
		return fmt.Errorf("re-enqueue orphaned requests: %w", err)
	}
	return nil
}
