package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobObserver records each job run: its kind ("provision", "notify", …),
// its outcome ("completed", "retried", "failed", "cancelled") and how long
// it took. The metrics package implements it.
type JobObserver interface {
	Job(kind, outcome string, took time.Duration)
}

// observe returns the worker middleware that reports every run to o.
func observe(o JobObserver) rivertype.WorkerMiddleware {
	return river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		start := time.Now()
		err := doInner(ctx)
		o.Job(job.Kind, outcome(job, err), time.Since(start))
		return err
	})
}

// outcome classifies the result of one run of job.
func outcome(job *rivertype.JobRow, err error) string {
	var (
		cancel *river.JobCancelError
		snooze *river.JobSnoozeError
	)
	switch {
	case err == nil:
		return "completed"
	case errors.As(err, &cancel):
		return "cancelled"
	case errors.As(err, &snooze), job.Attempt < job.MaxAttempts:
		return "retried"
	}
	return "failed"
}
