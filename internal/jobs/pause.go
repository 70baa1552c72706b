package jobs

import (
	"errors"
	"sync"
	"time"
)

// pauses holds, per platform, until when its chat API asked to be left
// alone (a 429): the calls a worker makes to that platform wait until
// then, not only the one that was refused.
type pauses struct {
	until sync.Map // platform → time.Time
}

// wait returns how long calls to a platform must still wait (≤ 0: none).
func (p *pauses) wait(platformName string) time.Duration {
	if until, ok := p.until.Load(platformName); ok {
		return time.Until(until.(time.Time))
	}
	return 0
}

// limit pauses the platform when err is a rate limit, for as long as it
// asked and at least a second, and returns that wait; ok is false for any
// other error.
func (p *pauses) limit(platformName string, err error) (wait time.Duration, ok bool) {
	var limited RateLimited
	if !errors.As(err, &limited) {
		return 0, false
	}
	wait = max(limited.RetryAfter(), time.Second)
	p.until.Store(platformName, time.Now().Add(wait))
	return wait, true
}
