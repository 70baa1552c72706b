package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/platform"
)

// SweepInterval is how often the leader runs the governance sweep:
// approval reminders and expiry, TTL warnings and deprovisioning.
const SweepInterval = 5 * time.Minute

// SweepArgs asks for one governance sweep (platform.Engine.Sweep).
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "governance_sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts: one per interval.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: SweepInterval}}
}

// SweepWorker runs the governance sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	engine *platform.Engine
	log    *slog.Logger
}

// NewSweepWorker returns the worker of the governance sweep.
func NewSweepWorker(engine *platform.Engine, log *slog.Logger) *SweepWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SweepWorker{engine: engine, log: log.With("component", "jobs")}
}

// Work sweeps. Errors of single resources fail the job after the others
// were handled, so it is retried.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	sw, err := w.engine.Sweep(ctx)
	if n := len(sw.Reminded) + len(sw.Expired) + len(sw.Warned) + len(sw.Deprovisioned); n > 0 {
		w.log.InfoContext(ctx, "governance sweep", "reminded", sw.Reminded, "expired", sw.Expired, "warned", sw.Warned, "deprovisioned", sw.Deprovisioned)
	}
	return err
}

// GovernancePeriodic returns the leader's periodic governance sweep, every
// SweepInterval and once at start; add it to Config.Periodic.
func GovernancePeriodic() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}
