package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
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
	pool   *pgxpool.Pool
	runner *Runner
	// stale is how long a request must have been unchanged before it is
	// looked at: longer than any job may legitimately run.
	stale time.Duration
	log   *slog.Logger
}

// Work finds orphaned requests and enqueues their jobs.
func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	rows, err := w.pool.Query(ctx, `
		SELECT r.id, r.state FROM resources r
		WHERE r.state IN ('pending', 'provisioning', 'deleting')
		  AND r.updated_at < now() - make_interval(secs => $1)
		  AND NOT EXISTS (
		    SELECT 1 FROM river_job j
		    WHERE j.kind IN ('provision', 'deprovision')
		      AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled')
		      AND (j.args->>'resource_id')::bigint = r.id)
		ORDER BY r.id LIMIT 100`, w.stale.Seconds())
	if err != nil {
		return fmt.Errorf("find orphaned requests: %w", err)
	}
	var params []river.InsertManyParams
	for rows.Next() {
		var id int64
		var state string
		if err := rows.Scan(&id, &state); err != nil {
			rows.Close()
			return err
		}
		var args river.JobArgs = ProvisionArgs{ResourceID: id}
		if state == "deleting" {
			args = DeprovisionArgs{ResourceID: id}
		}
		w.log.WarnContext(ctx, "request had no job; enqueueing it again", "request_id", id, "state", state)
		params = append(params, river.InsertManyParams{Args: args})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find orphaned requests: %w", err)
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := w.runner.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("re-enqueue orphaned requests: %w", err)
	}
	return nil
}
