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

// resourceArgs are the arguments of a job that runs one of the engine's
// operations on one resource.
type resourceArgs interface {
	river.JobArgs
	resource() int64
}

func (a ProvisionArgs) resource() int64   { return a.ResourceID }
func (a DeprovisionArgs) resource() int64 { return a.ResourceID }
func (a UpdateArgs) resource() int64      { return a.ResourceID }

// resourceWorker runs an engine operation (Provision, Deprovision,
// ApplyUpdate) on its job's resource, bounded by the driver's timeout; the
// last failed attempt fails the resource ("<what> failed after …").
type resourceWorker[T resourceArgs] struct {
	river.WorkerDefaults[T]
	engine  *platform.Engine
	timeout time.Duration
	log     *slog.Logger
	what    string
	run     func(ctx context.Context, id int64) error
}

// newResourceWorker returns the worker of jobs T that run op, named what
// in the reasons of the resources it fails.
func newResourceWorker[T resourceArgs](cfg Config, log *slog.Logger, what string, op func(ctx context.Context, id int64) error) *resourceWorker[T] {
	return &resourceWorker[T]{engine: cfg.Engine, timeout: cfg.DefaultTimeout, log: log, what: what, run: op}
}

// Timeout is the resource's driver timeout.
func (w *resourceWorker[T]) Timeout(job *river.Job[T]) time.Duration {
	return driverTimeout(w.engine, job.Args.resource(), w.timeout)
}

// Work runs the operation on the job's resource.
func (w *resourceWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	id := job.Args.resource()
	return settle(ctx, w.engine, w.log, job.JobRow, id, w.what, w.run(ctx, id))
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
