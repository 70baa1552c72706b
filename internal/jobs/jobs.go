// Package jobs runs idpbot's durable background work on River: provisioning
// and deprovisioning resources with their drivers, and delivering each
// resource's events to the chat thread it was requested from (the outbox).
// Jobs are enqueued by Enqueuer.OnEvent in the same transaction as the event
// that calls for them, so a request is never recorded without its job nor a
// job left for a change that was rolled back.
package jobs

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// Defaults and limits of a Runner.
const (
	// DefaultWorkers is Config.Workers when unset.
	DefaultWorkers = 10
	// DefaultTimeout is Config.DefaultTimeout when unset.
	DefaultTimeout = 2 * time.Minute
	// NotifyTimeout bounds one delivery job: posting a resource's pending
	// events to a chat platform.
	NotifyTimeout = 2 * time.Minute
	// NotifyWorkers is how many delivery jobs of one platform run at once.
	// Each holds a pooled connection while it talks to the chat platform,
	// and takes a second one for moments (its attempt's record, the
	// thread's): more workers than that would need could exhaust a small
	// pool. One waiting for its rate-limit bucket does so for at most
	// thread.DefaultMaxWait before it snoozes.
	NotifyWorkers = 3
	// HandOverWorkers is how many hand-over jobs of one platform run at
	// once, in a queue of their own (HandOverQueue): connection details
	// reach people while every delivery worker is busy with a channel's
	// backlog, and the roots of new stories keep their pace while a burst
	// of resources turns ready. A hand-over holds its event's row (and a
	// pooled connection) while it sends.
	HandOverWorkers = 2
	// NotifyPollInterval is how often a delivery queue looks for jobs
	// whose snooze is over: a delivery waiting for its bucket comes back
	// about when its turn comes, not up to River's default second later
	// (a token of a busy channel left unused is lost).
	NotifyPollInterval = 100 * time.Millisecond
	// DefaultFetchCooldown is much shorter than River's 100 ms, which also
	// throttles insert notifications: a job inserted within that window of
	// the previous one waits for the next poll (1 s), while a person waits
	// for its first message.
	DefaultFetchCooldown = 2 * time.Millisecond
	// InsertNotifyCooldown is the shortest time between two NOTIFYs the
	// Enqueuer sends for one queue (River's minimum): a job inserted
	// sooner after the previous one relies on the fetch that one caused.
	InsertNotifyCooldown = river.FetchCooldownMin
	// StopTimeout is how long Run lets running jobs finish once its context
	// ends, before it cancels them.
	StopTimeout = 10 * time.Second
)

// Config is what a Runner is built from.
type Config struct {
	Pool   *pgxpool.Pool
	Engine *platform.Engine
	Store  Store
	// Notifiers deliver thread messages, by platform name ("console",
	// "slack", "discord"). Only these platforms' notification queues are
	// worked by this process; every event's delivery is enqueued anyway
	// (Enqueuer), for the processes that serve its platform.
	Notifiers map[string]Notifier
	// Audiences names, for a platform delivered per person, the person
	// whose deliveries this process works (the console's user).
	Audiences map[string]string
	// Enqueuer, when set, lets the reconcile job enqueue again the
	// delivery of events whose notification job was lost, in the queue
	// its OnEvent chooses; without it such events stay undelivered.
	Enqueuer *Enqueuer
	Logger   *slog.Logger
	// Workers is how many jobs of the default queue (provisioning,
	// deprovisioning and registered workers) run at once (default 10).
	Workers int
	// RescueAfter is how long a job may run before it is considered lost
	// and run again (River's RescueStuckJobsAfter). The job of a process
	// that died is resumed sooner, through its lease (lease.go); this is
	// the backstop for everything else.
	// A job whose own timeout is longer is given that long. It must be at
	// least DefaultTimeout; an unset DefaultTimeout is lowered to it if
	// need be (default: DefaultTimeout plus one minute).
	RescueAfter time.Duration
	// DefaultTimeout bounds a job attempt whose driver sets no timeout, and
	// any other job (default 2 minutes).
	DefaultTimeout time.Duration
	// Schema is the PostgreSQL schema of River's tables ("" : search_path).
	Schema string
	// Register adds other packages' workers (surveys, digests, expiry).
	Register func(*river.Workers)
	// Periodic are jobs the elected leader enqueues on a schedule.
	Periodic []*river.PeriodicJob
	// Queues adds or overrides queues worked by this process.
	Queues map[string]river.QueueConfig
	// RetryPolicy decides when a failed job runs again (nil: River's
	// exponential backoff, attempt⁴ seconds).
	RetryPolicy river.ClientRetryPolicy
	// FetchCooldown is the shortest time between two fetches of a queue,
	// and between two notifications of new jobs in it (default
	// DefaultFetchCooldown).
	FetchCooldown time.Duration
	// FetchPollInterval is how often queues are polled for jobs whose
	// retry time has come (0: River's default, 1 s). New jobs are picked
	// up at once through LISTEN/NOTIFY.
	FetchPollInterval time.Duration
	// Metrics, if set, is told about every job run.
	Metrics JobObserver
	// Retention is how long finished jobs are kept (zero fields:
	// DefaultRetention's).
	Retention Retention

	// Test knobs, set only by this package's tests.
	testOnly               bool
	leaderElectionDisabled bool
	stopTimeout            time.Duration
	leaseTimings           *leaseTimings
}

// Retention is how long River keeps finished jobs before the cleaner of
// the elected leader deletes them. Nothing of idpbot reads finished jobs
// (requests, events and the digest's and surveys' own tables are the
// record), while the reconcile, sweep and approval-card checks scan
// river_job by the jobs' arguments: the fewer rows kept, the cheaper they
// are.
type Retention struct {
	// Completed jobs (every notification, provisioning and periodic job)
	// are most of the table.
	Completed time.Duration
	// Cancelled jobs were stopped on purpose.
	Cancelled time.Duration
	// Discarded jobs ran out of attempts: failures to look into.
	Discarded time.Duration
}

// DefaultRetention keeps completed jobs a day (what ran yesterday, to
// debug today, without letting a busy bot's notifications pile up),
// cancelled ones a week and discarded ones, the failures someone should
// look into, 30 days, beyond a week of on-call and a holiday.
var DefaultRetention = Retention{Completed: 24 * time.Hour, Cancelled: 7 * 24 * time.Hour, Discarded: 30 * 24 * time.Hour}

// withDefaults fills in the zero fields of r from DefaultRetention, or says
// which is negative.
func (r Retention) withDefaults() (Retention, error) {
	for name, d := range map[string]time.Duration{"Completed": r.Completed, "Cancelled": r.Cancelled, "Discarded": r.Discarded} {
		if d < 0 {
			return r, fmt.Errorf("jobs: Retention.%s (%s) must not be negative", name, d)
		}
	}
	r.Completed = cmp.Or(r.Completed, DefaultRetention.Completed)
	r.Cancelled = cmp.Or(r.Cancelled, DefaultRetention.Cancelled)
	r.Discarded = cmp.Or(r.Discarded, DefaultRetention.Discarded)
	return r, nil
}

// Runner owns the River client that works idpbot's jobs.
type Runner struct {
	client      *river.Client[pgx.Tx]
	log         *slog.Logger
	stopTimeout time.Duration
	lease       *lease
	takeover    *takeover
}

// New returns a Runner. It does no I/O: nothing runs until Run.
func New(cfg Config) (*Runner, error) {
	if cfg.Pool == nil || cfg.Engine == nil || cfg.Store == nil {
		return nil, errors.New("jobs: Pool, Engine and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = DefaultTimeout
		if cfg.RescueAfter > 0 {
			cfg.DefaultTimeout = min(DefaultTimeout, cfg.RescueAfter)
		}
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = cfg.DefaultTimeout + time.Minute
	}
	if cfg.RescueAfter < cfg.DefaultTimeout {
		return nil, fmt.Errorf("jobs: RescueAfter (%s) must be at least DefaultTimeout (%s)", cfg.RescueAfter, cfg.DefaultTimeout)
	}
	retention, err := cfg.Retention.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "jobs")

	workers := river.NewWorkers()
	river.AddWorker(workers, newResourceWorker[ProvisionArgs](cfg, log, "provisioning", cfg.Engine.Provision))
	river.AddWorker(workers, newResourceWorker[DeprovisionArgs](cfg, log, "deprovisioning", cfg.Engine.Deprovision))
	// A failed last attempt fails the resource ("updating failed after …").
	river.AddWorker(workers, newResourceWorker[UpdateArgs](cfg, log, "updating", cfg.Engine.ApplyUpdate))
	limits, _ := cfg.Metrics.(RateLimitObserver)
	delivery := deliverer{engine: cfg.Engine, store: cfg.Store, notifiers: cfg.Notifiers, limits: limits, log: log}
	river.AddWorker(workers, &notifyWorker{deliverer: delivery})
	river.AddWorker(workers, &handOverWorker{deliverer: delivery})
	river.AddWorker(workers, &reconcileWorker{store: cfg.Store, enqueuer: cfg.Enqueuer, stale: cfg.RescueAfter + time.Minute, log: log})
	if cfg.Register != nil {
		cfg.Register(workers)
	}
	periodic := append([]*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(ReconcileInterval),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}, cfg.Periodic...)
	if cfg.leaderElectionDisabled {
		periodic = nil // only an elected leader runs periodic jobs
	}

	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
	for name := range cfg.Notifiers {
		queues[NotifyQueue(name, cfg.Audiences[name])] = river.QueueConfig{MaxWorkers: NotifyWorkers, FetchPollInterval: NotifyPollInterval}
		queues[HandOverQueue(name, cfg.Audiences[name])] = river.QueueConfig{MaxWorkers: HandOverWorkers, FetchPollInterval: NotifyPollInterval}
	}
	maps.Copy(queues, cfg.Queues)

	timings := defaultLeaseTimings
	if cfg.leaseTimings != nil {
		timings = *cfg.leaseTimings
	}
	id := newClientID()
	leases := postgres.NewStore(cfg.Pool, postgres.StoreOptions{RiverSchema: cfg.Schema})
	own := &lease{store: leases, client: id, t: timings, log: log}
	middleware := append([]rivertype.Middleware{own.middleware()}, traceMiddleware()...)
	middleware = append(middleware, redelivery)
	if cfg.Metrics != nil {
		middleware = append(middleware, observe(cfg.Metrics))
	}
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = DefaultFetchCooldown
	}
	if cfg.FetchPollInterval > 0 {
		cfg.FetchCooldown = min(cfg.FetchCooldown, cfg.FetchPollInterval)
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		CancelledJobRetentionPeriod: retention.Cancelled,
		CompletedJobRetentionPeriod: retention.Completed,
		DiscardedJobRetentionPeriod: retention.Discarded,
		FetchCooldown:               cfg.FetchCooldown,
		FetchPollInterval:           cfg.FetchPollInterval,
		ID:                          id,
		JobTimeout:                  cfg.DefaultTimeout,
		LeaderElectionDisabled:      cfg.leaderElectionDisabled,
		Logger:                      slog.New(newQuiet(log.Handler(), RepeatWindow, time.Now)),
		Middleware:                  middleware,
		PeriodicJobs:                periodic,
		Queues:                      queues,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		RetryPolicy:                 cfg.RetryPolicy,
		Schema:                      cfg.Schema,
		TestOnly:                    cfg.testOnly,
		Workers:                     workers,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Runner{
		client: client, log: log, stopTimeout: cmp.Or(cfg.stopTimeout, StopTimeout),
		lease:    own,
		takeover: &takeover{store: leases, self: id, t: timings, log: log},
	}, nil
}

// NotifyQueue is the queue of a platform's notification jobs, or, with an
// audience, of those of one person on a platform delivered per person
// (EnqueuerConfig.PerPerson): "notify_console_alice_1f2e3d4c". A queue
// name is lowercase letters and digits: the person's name is kept as far
// as it is made of them, and a hash of it makes it unique.
func NotifyQueue(platformName, audience string) string {
	q := "notify_" + platformName
	if audience == "" {
		return q
	}
	var readable strings.Builder
	for _, r := range strings.ToLower(audience) {
		if ('a' <= r && r <= 'z' || '0' <= r && r <= '9') && readable.Len() < 24 {
			readable.WriteRune(r)
		}
	}
	if readable.Len() > 0 {
		q += "_" + readable.String()
	}
	sum := sha256.Sum256([]byte(audience))
	return q + "_" + hex.EncodeToString(sum[:4])
}

// HandOverQueue is the queue of the hand-over jobs that go with
// NotifyQueue's deliveries: "handover_slack", "handover_console_alice_1f2e3d4c".
func HandOverQueue(platformName, audience string) string {
	return "handover_" + strings.TrimPrefix(NotifyQueue(platformName, audience), "notify_")
}

// Client returns the River client, for inserting jobs of registered
// workers.
func (r *Runner) Client() *river.Client[pgx.Tx] { return r.client }

// Run works jobs until ctx ends, then stops: running jobs get StopTimeout
// to finish before their contexts are cancelled. It first takes this
// process's lease (lease.go), holds it until its jobs have stopped, and
// meanwhile resumes the jobs of processes whose lease is gone.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.lease.acquire(ctx); err != nil {
		return nil // ctx ended before the lease could be taken: nothing ran
	}
	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { r.lease.run(leaseCtx) })
	wg.Go(func() { r.takeover.run(leaseCtx) })
	defer wg.Wait()
	defer stopLease()
	if err := r.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	<-ctx.Done()
	soft, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.stopTimeout)
	defer cancel()
	if err := r.client.Stop(soft); err == nil {
		return nil
	}
	r.log.Warn("jobs still running after the stop timeout; cancelling them", "timeout", r.stopTimeout)
	hard, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), r.stopTimeout)
	defer cancelHard()
	if err := r.client.StopAndCancel(hard); err != nil {
		return fmt.Errorf("stop jobs: %w", err)
	}
	return nil
}

// redelivery marks the context of a retried job (its attempt after the
// first: a failure, a timeout, or a crash its rescue recovers from) with
// platform.WithRedelivery, so that a chat adapter looks for what the
// earlier attempt may already have posted. A snooze is not a retry.
var redelivery = river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if job.Attempt > 1 {
		ctx = platform.WithRedelivery(ctx)
	}
	return doInner(ctx)
})
