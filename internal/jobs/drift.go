package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// Defaults of the drift check.
const (
	// DefaultDriftInterval is how often the leader checks for drift.
	DefaultDriftInterval = 15 * time.Minute
	// DefaultDriftConcurrency is how many resources are read at once.
	DefaultDriftConcurrency = 4
	// DefaultDriftTimeout bounds the read of one resource.
	DefaultDriftTimeout = 20 * time.Second
)

// Results of one resource's drift check, the label of DriftObserver.
const (
	DriftHealthy      = "healthy"
	DriftDrifted      = "drifted"
	DriftUnreachable  = "unreachable"
	DriftNotAvailable = "not_available"
	DriftError        = "error"
)

// DriftConfig configures the drift check. Zero fields take the defaults,
// except Interval, where Disabled says whether it runs.
type DriftConfig struct {
	// Interval is the time between two rounds.
	Interval time.Duration
	// Disabled turns the check off (interval 0 in the config file).
	Disabled bool
	// Concurrency is how many resources are read at once.
	Concurrency int
	// Timeout bounds the read of one resource.
	Timeout time.Duration
}

func (c DriftConfig) withDefaults() DriftConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultDriftInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultDriftConcurrency
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultDriftTimeout
	}
	return c
}

// DriftStore keeps the last known live condition of resources
// (postgres.Store).
type DriftStore interface {
	// RecordDrift stores st as resource id's condition and records note, in
	// the same transaction, only when whether it is drifted changed (or it
	// is drifted at its first check); it reports whether it did. A
	// resource that is no longer ready is left alone.
	RecordDrift(ctx context.Context, id int64, st platform.LiveStatus, note platform.Event) (bool, error)
	// DriftCounts counts the drifted ready resources by service type and
	// environment.
	DriftCounts(ctx context.Context) ([]platform.DriftCount, error)
}

// DriftObserver is told the result of each resource's check and, after
// each round, the drifted counts (metrics).
type DriftObserver interface {
	DriftChecked(result string)
	Drifted(counts []platform.DriftCount)
}

// DriftRound is what one round of the drift check found, by resource ID.
type DriftRound struct {
	// Results are the check results (DriftHealthy, DriftDrifted, …).
	Results map[int64]string
	// Noted are the resources whose thread got a note this round.
	Noted []int64
}

// DriftChecker reads the live state of ready resources whose driver can
// read it and tells each resource's thread once when what exists stops
// matching its record, and once when it matches again.
type DriftChecker struct {
	engine *platform.Engine
	store  DriftStore
	obs    DriftObserver
	cfg    DriftConfig
	log    *slog.Logger
}

// NewDriftChecker returns a DriftChecker. It does no I/O; obs may be nil.
func NewDriftChecker(engine *platform.Engine, store DriftStore, cfg DriftConfig, obs DriftObserver, log *slog.Logger) *DriftChecker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DriftChecker{engine: engine, store: store, obs: obs, cfg: cfg.withDefaults(), log: log.With("component", "drift")}
}

// Check runs one round over the ready resources, cfg.Concurrency at a time,
// each read bounded by cfg.Timeout. An unreachable target is logged and
// counted, not drift. Errors of single resources are returned joined after
// the others were checked.
func (c *DriftChecker) Check(ctx context.Context) (DriftRound, error) {
	rs, err := c.engine.Store().Resources(ctx, platform.ResourceFilter{States: []platform.State{platform.Ready}})
	if err != nil {
		return DriftRound{}, fmt.Errorf("drift check: %w", err)
	}
	var (
		mu    sync.Mutex
		round = DriftRound{Results: map[int64]string{}}
		errs  []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for _, r := range rs {
		g.Go(func() error {
			result, noted, err := c.checkOne(gctx, r)
			mu.Lock()
			defer mu.Unlock()
			round.Results[r.ID] = result
			if noted {
				round.Noted = append(round.Noted, r.ID)
			}
			if err != nil {
				errs = append(errs, err)
			}
			if c.obs != nil {
				c.obs.DriftChecked(result)
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines return no error: one resource never stops the others
	if counts, err := c.store.DriftCounts(ctx); err != nil {
		errs = append(errs, err)
	} else if c.obs != nil {
		c.obs.Drifted(counts)
	}
	return round, errors.Join(errs...)
}

func (c *DriftChecker) checkOne(ctx context.Context, r *platform.Resource) (result string, noted bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	st, err := c.engine.ReadLive(rctx, r)
	switch {
	case platform.LiveNotAvailable(err):
		return DriftNotAvailable, false, nil
	case err != nil:
		if ctx.Err() != nil {
			return DriftError, false, fmt.Errorf("drift check of %s: %w", r.Ref(), ctx.Err())
		}
		c.log.WarnContext(ctx, "drift check could not read", "request_id", r.ID, "service", r.Service, "team", r.Team, "env", r.Environment, "err", err)
		return DriftUnreachable, false, nil
	}
	msg := platform.RecoveryNote(st)
	result = DriftHealthy
	if st.Health.Drifted() {
		msg, result = platform.DriftNote(st), DriftDrifted
	}
	noted, err = c.store.RecordDrift(ctx, r.ID, st, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventNote, Message: msg})
	if err != nil {
		return DriftError, false, fmt.Errorf("drift check of %s: %w", r.Ref(), err)
	}
	if noted {
		c.log.InfoContext(ctx, "drift changed", "request_id", r.ID, "service", r.Service, "team", r.Team, "env", r.Environment, "health", string(st.Health))
	}
	return result, noted, nil
}

// DriftArgs asks for one round of the drift check.
type DriftArgs struct{}

// Kind implements river.JobArgs.
func (DriftArgs) Kind() string { return "drift_check" }

// DriftWorker runs rounds of the drift check.
type DriftWorker struct {
	river.WorkerDefaults[DriftArgs]
	checker *DriftChecker
}

// Work runs one round.
func (w *DriftWorker) Work(ctx context.Context, _ *river.Job[DriftArgs]) error {
	round, err := w.checker.Check(ctx)
	if len(round.Noted) > 0 {
		w.checker.log.InfoContext(ctx, "drift check", "checked", len(round.Results), "noted", round.Noted)
	}
	return err
}

// Timeout implements river.Worker: a round may take up to its interval.
func (w *DriftWorker) Timeout(*river.Job[DriftArgs]) time.Duration { return w.checker.cfg.Interval }

// AddDriftWorker registers the drift check's worker.
func AddDriftWorker(workers *river.Workers, c *DriftChecker) {
	river.AddWorker(workers, &DriftWorker{checker: c})
}

// PeriodicJobs returns the leader's periodic drift check, every interval and
// once at start, or none when it is disabled; add them to Config.Periodic.
func (c *DriftChecker) PeriodicJobs() []*river.PeriodicJob {
	if c.cfg.Disabled {
		return nil
	}
	interval := c.cfg.Interval
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return DriftArgs{}, &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})}
}

var _ DriftStore = (*postgres.Store)(nil)
