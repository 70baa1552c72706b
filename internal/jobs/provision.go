package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/platform"
)

// ProvisionMaxAttempts is how many times provisioning or deprovisioning is
// tried before the resource is failed.
const ProvisionMaxAttempts = 10

// ProvisionArgs asks for a resource to be provisioned.
type ProvisionArgs struct {
	ResourceID int64 `json:"resource_id"`
}

// Kind implements river.JobArgs.
func (ProvisionArgs) Kind() string { return "provision" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ProvisionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: ProvisionMaxAttempts}
}

// DeprovisionArgs asks for a resource in deleting to be deprovisioned.
type DeprovisionArgs struct {
	ResourceID int64 `json:"resource_id"`
}

// Kind implements river.JobArgs.
func (DeprovisionArgs) Kind() string { return "deprovision" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeprovisionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: ProvisionMaxAttempts}
}

// provisionWorker runs Engine.Provision.
type provisionWorker struct {
	river.WorkerDefaults[ProvisionArgs]
	engine  *platform.Engine
	timeout time.Duration
	log     *slog.Logger
}

// Timeout is the resource's driver timeout.
func (w *provisionWorker) Timeout(job *river.Job[ProvisionArgs]) time.Duration {
	return driverTimeout(w.engine, job.Args.ResourceID, w.timeout)
}

// Work provisions the resource.
func (w *provisionWorker) Work(ctx context.Context, job *river.Job[ProvisionArgs]) error {
	err := w.engine.Provision(ctx, job.Args.ResourceID)
	return settle(ctx, w.engine, w.log, job.JobRow, job.Args.ResourceID, "provisioning", err)
}

// deprovisionWorker runs Engine.Deprovision.
type deprovisionWorker struct {
	river.WorkerDefaults[DeprovisionArgs]
	engine  *platform.Engine
	timeout time.Duration
	log     *slog.Logger
}

// Timeout is the resource's driver timeout.
func (w *deprovisionWorker) Timeout(job *river.Job[DeprovisionArgs]) time.Duration {
	return driverTimeout(w.engine, job.Args.ResourceID, w.timeout)
}

// Work deprovisions the resource.
func (w *deprovisionWorker) Work(ctx context.Context, job *river.Job[DeprovisionArgs]) error {
	err := w.engine.Deprovision(ctx, job.Args.ResourceID)
	return settle(ctx, w.engine, w.log, job.JobRow, job.Args.ResourceID, "deprovisioning", err)
}

// driverTimeout asks the engine for the driver's timeout; River calls it
// without a context, so the lookup gets its own short deadline.
func driverTimeout(e *platform.Engine, id int64, fallback time.Duration) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.DriverTimeout(ctx, id, fallback)
}

// settle decides what a failed attempt means for the job: a resource that
// no longer exists cancels it; the last attempt fails the resource with a
// reason its requester can read; any other failure is retried.
func settle(ctx context.Context, e *platform.Engine, log *slog.Logger, job *rivertype.JobRow, id int64, what string, err error) error {
	if err == nil {
		return nil
	}
	if platform.ErrorCode(err) == platform.NotFound {
		log.WarnContext(ctx, what+": resource is gone", "request_id", id, "err", err)
		return river.JobCancel(err)
	}
	if job.Attempt < job.MaxAttempts {
		log.WarnContext(ctx, what+" attempt failed; will retry", "request_id", id, "attempt", job.Attempt, "err", err)
		return err
	}
	reason := fmt.Sprintf("%s failed after %d attempts: %s", what, job.Attempt, platform.ErrorMessage(err))
	log.ErrorContext(ctx, what+" failed for good", "request_id", id, "attempt", job.Attempt, "err", err)
	// The attempt's context may be what ran out; failing the resource gets
	// its own.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := e.Fail(fctx, id, reason); ferr != nil {
		// Without this the resource would stay in provisioning forever:
		// come back later (a snooze does not use up an attempt).
		log.ErrorContext(ctx, "record failure", "request_id", id, "err", ferr)
		return river.JobSnooze(time.Minute)
	}
	return err
}
