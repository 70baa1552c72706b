// Package schedule parses the cron schedules of the bot's periodic jobs
// (surveys, digests) into River periodic schedules.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"
)

// Cron is a named cron schedule (robfig/cron's standard five fields,
// descriptors such as @weekly and @every, and a CRON_TZ= or TZ= prefix). It
// is a river.PeriodicSchedule. Build it with Parse.
type Cron struct {
	name, spec string
	sched      cron.Schedule
	// grain is the resolution of the schedule's run times: a minute for
	// cron specs, a second for @every.
	grain time.Duration
	// margin is how early River may enqueue a run.
	margin time.Duration
	loc    *time.Location
}

var _ river.PeriodicSchedule = (*Cron)(nil)

// never is the time Next returns for a schedule without a next run: far
// enough that River never gets there.
var never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Parse parses spec, the schedule called name in the configuration.
// It is an error naming the schedule when the spec is empty, is not a valid
// cron spec, or never fires (such as "0 0 31 2 *", the 31st of February).
func Parse(name, spec string) (*Cron, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("schedule %s: the cron spec is empty", name)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: invalid cron spec %q: %w", name, spec, err)
	}
	s := &Cron{name: name, spec: spec, sched: sched, grain: time.Second, margin: 200 * time.Millisecond, loc: time.UTC}
	if ss, ok := sched.(*cron.SpecSchedule); ok {
		s.grain, s.margin, s.loc = time.Minute, time.Second, ss.Location
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %s: cron spec %q never fires", name, spec)
	}
	return s, nil
}

// MustParse is Parse for specs known to be valid (the
// defaults); it panics on an error.
func MustParse(name, spec string) *Cron {
	s, err := Parse(name, spec)
	if err != nil {
		panic(err)
	}
	return s
}

// Name returns the schedule's name in the configuration.
func (s *Cron) Name() string { return s.name }

// Spec returns the cron spec.
func (s *Cron) Spec() string { return s.spec }

// String returns "name (spec)".
func (s *Cron) String() string { return fmt.Sprintf("%s (%s)", s.name, s.spec) }

// Location returns the time zone the schedule runs in.
func (s *Cron) Location() *time.Location { return s.loc }

// Next implements river.PeriodicSchedule: the first run after t.
func (s *Cron) Next(t time.Time) time.Time {
	n := s.sched.Next(t)
	if n.IsZero() {
		return never
	}
	return n
}

// Slot returns the scheduled run a job enqueued at now is for. River
// enqueues a run up to 100 ms before its time and usually within
// milliseconds after; rounding now (plus a margin) down to the schedule's
// resolution gives that run's time, the same on every replica, as long as
// the enqueuer is less than a minute late (a second for @every schedules).
func (s *Cron) Slot(now time.Time) time.Time {
	return now.Add(s.margin).Truncate(s.grain).UTC()
}

// Period is the UniqueOpts.ByPeriod of the schedule's jobs: its
// resolution, so that each run is its own period.
func (s *Cron) Period() time.Duration { return s.grain }
