package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/schedule"
)

// Defaults of Config.
const (
	// DefaultSchedule posts the digest every Monday at 09:00 UTC.
	DefaultSchedule = "CRON_TZ=UTC 0 9 * * 1"
	// DefaultPeriod is the length of a digest's period.
	DefaultPeriod = 7 * 24 * time.Hour
	// ScheduleName is the digest schedule's name in the configuration
	// (schedules.usage_digest) and in errors.
	ScheduleName = "usage_digest"
	// JobTimeout bounds one digest job.
	JobTimeout = 5 * time.Minute
)

// Poster posts digests to one chat platform; each chat adapter implements
// it (rendering with Reply).
type Poster interface {
	PostDigest(ctx context.Context, channel string, d Digest) error
}

// Config is what a Service is built from.
type Config struct {
	// Store reads the usage and records the posts.
	Store Store
	// Posters post to each chat platform, by platform name. Digests go only
	// to platforms with a Poster.
	Posters map[string]Poster
	// Channels are the digest channels of each platform (channels.digests).
	Channels map[string][]string
	// Schedule is the cron spec (schedules.usage_digest; default
	// DefaultSchedule).
	Schedule string
	// Period is the length of the period a digest covers (default 7 days).
	Period time.Duration
	// Location is the time zone dates are shown in (default UTC).
	Location *time.Location
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service builds digests and posts them on schedule. It is safe for
// concurrent use.
type Service struct {
	store    Store
	posters  map[string]Poster
	channels map[string][]string
	schedule *schedule.Cron
	period   time.Duration
	loc      *time.Location
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Service. It does no I/O; an invalid or never-firing
// schedule is an error naming it.
func New(cfg Config) (*Service, error) {
	spec := cfg.Schedule
	if spec == "" {
		spec = DefaultSchedule
	}
	sched, err := schedule.Parse(ScheduleName, spec)
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("digest: Store is required")
	}
	if cfg.Period < 0 {
		return nil, fmt.Errorf("digest: period %s is negative", cfg.Period)
	}
	s := &Service{store: cfg.Store, posters: cfg.Posters, channels: cfg.Channels, schedule: sched,
		period: cfg.Period, loc: cfg.Location, now: cfg.Now, log: cfg.Logger}
	if s.period == 0 {
		s.period = DefaultPeriod
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "digest")
	return s, nil
}

// Schedule returns the digest schedule.
func (s *Service) Schedule() *schedule.Cron { return s.schedule }

// Build loads and compares the period of length d ending at to with the one
// before it; times are shown in the service's time zone.
func (s *Service) Build(ctx context.Context, to time.Time, d time.Duration) (Digest, error) {
	to = to.In(s.loc)
	cur, prev, err := s.store.Load(ctx, to.Add(-d), to)
	if err != nil {
		return Digest{}, err
	}
	return Compute(cur, prev), nil
}

// post builds the digest of the period ending at slot and posts it to
// every configured channel of every platform with a Poster, each once
// per slot however many replicas or retries run it (table digest_posts).
func (s *Service) post(ctx context.Context, slot time.Time) error {
	targets := 0
	for p, chs := range s.channels {
		if _, ok := s.posters[p]; ok {
			targets += len(chs)
		}
	}
	if targets == 0 {
		s.log.InfoContext(ctx, "no digest channel configured", "slot", slot)
		return nil
	}
	d, err := s.Build(ctx, slot, s.period)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range slices.Sorted(maps.Keys(s.channels)) {
		poster, ok := s.posters[p]
		if !ok {
			continue
		}
		for _, ch := range s.channels[p] {
			posted, err := s.postOnce(ctx, poster, p, ch, slot, d)
			switch {
			case err != nil:
				s.log.ErrorContext(ctx, "post digest", "platform", p, "channel", ch, "slot", slot, "err", err)
				errs = append(errs, fmt.Errorf("post digest to %s %s: %w", p, ch, err))
			case posted:
				s.log.InfoContext(ctx, "digest posted", "platform", p, "channel", ch, "slot", slot)
			}
		}
	}
	return errors.Join(errs...)
}

// postOnce posts d to a channel unless the slot was posted there already.
func (s *Service) postOnce(ctx context.Context, poster Poster, platformName, channel string, slot time.Time, d Digest) (posted bool, err error) {
	return s.store.PostOnce(ctx, platformName, channel, slot, s.now(), func(ctx context.Context) error {
		return poster.PostDigest(ctx, channel, d)
	})
}

// PostArgs asks for the digest of a schedule slot to be posted.
type PostArgs struct {
	Slot time.Time `json:"slot" river:"unique"`
}

// Kind implements river.JobArgs.
func (PostArgs) Kind() string { return "digest_post" }

// AddWorkers registers the digest worker; it fits jobs.Config.Register.
func AddWorkers(workers *river.Workers, s *Service) {
	river.AddWorker(workers, &postWorker{svc: s})
}

// PeriodicJob returns the River periodic job that posts digests, for
// jobs.Config.Periodic: enqueued by the elected leader, unique per slot.
func (s *Service) PeriodicJob() *river.PeriodicJob {
	sched := s.schedule
	return river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
		return PostArgs{Slot: sched.Slot(time.Now())}, &river.InsertOpts{
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: sched.Period()},
		}
	}, &river.PeriodicJobOpts{ID: ScheduleName})
}

type postWorker struct {
	river.WorkerDefaults[PostArgs]
	svc *Service
}

// Timeout bounds one run.
func (w *postWorker) Timeout(*river.Job[PostArgs]) time.Duration { return JobTimeout }

// Work posts the slot's digest.
func (w *postWorker) Work(ctx context.Context, job *river.Job[PostArgs]) error {
	slot := job.Args.Slot
	if slot.IsZero() {
		slot = job.ScheduledAt
	}
	return w.svc.post(ctx, slot.UTC())
}
