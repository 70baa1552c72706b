package jobs

import (
	"errors"
	"time"

	"github.com/riverqueue/river"
)

// minRateWait is the shortest wait a rate-limited job snoozes for.
const minRateWait = 50 * time.Millisecond

// rateWait returns how long the job that met err must wait when err is a
// rate limit: the platform's 429, or the notifier's own pacing holding a
// call back for its turn. Only that job waits: the notifier keeps the
// other calls of the same bucket (a channel, a method, a route) in their
// turns, and the calls of other buckets go on.
func rateWait(err error) (wait time.Duration, ok bool) {
	var limited RateLimited
	if !errors.As(err, &limited) {
		return 0, false
	}
	return max(limited.RetryAfter(), minRateWait), true
}

// snoozeLimited snoozes the job for the wait of a rate limit err, or
// returns nil for any other error; a 429 of the platform's own (not the
// notifier's pacing, which sent nothing: platform.NotSent) is recorded in
// the metrics.
func snoozeLimited(err error, platformName string, observe RateLimitObserver) error {
	wait, ok := rateWait(err)
	if !ok {
		return nil
	}
	if observe != nil && !paced(err) {
		observe.RateLimited(platformName, wait)
	}
	return river.JobSnooze(wait)
}

// paced reports whether err is the notifier holding a call back for its
// turn, rather than the platform's 429.
func paced(err error) bool {
	var limited RateLimited
	if !errors.As(err, &limited) {
		return false
	}
	p, ok := limited.(interface{ NotSent() bool })
	return ok && p.NotSent()
}
