package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/platform"
)

// UpdateArgs asks for the change of a resource in updating to be applied
// by its driver.
type UpdateArgs struct {
	ResourceID int64 `json:"resource_id"`
}

// Kind implements river.JobArgs.
func (UpdateArgs) Kind() string { return "update" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (UpdateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: ProvisionMaxAttempts}
}

// updateWorker runs Engine.ApplyUpdate.
type updateWorker struct {
	river.WorkerDefaults[UpdateArgs]
	engine  *platform.Engine
	timeout time.Duration
	log     *slog.Logger
}

// Timeout is the resource's driver timeout.
func (w *updateWorker) Timeout(job *river.Job[UpdateArgs]) time.Duration {
	return driverTimeout(w.engine, job.Args.ResourceID, w.timeout)
}

// Work applies the resource's change; the last failed attempt fails the
// resource ("updating failed after …").
func (w *updateWorker) Work(ctx context.Context, job *river.Job[UpdateArgs]) error {
	err := w.engine.ApplyUpdate(ctx, job.Args.ResourceID)
	return settle(ctx, w.engine, w.log, job.JobRow, job.Args.ResourceID, "updating", err)
}
