package platformtest

import (
	"sync"
	"time"
)

// Start is the time a fixture's Clock starts at: 2026-03-02 13:02:00 UTC.
var Start = time.Date(2026, 3, 2, 13, 2, 0, 0, time.UTC)

// Clock is a deterministic clock for tests. Every call of Now returns the
// current time and then moves it forward by Step, so that successive
// timestamps differ and durations are predictable.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewClock returns a Clock at start that advances by step on every Now.
func NewClock(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now returns the clock's time and advances it by its step.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// Peek returns the clock's time without advancing it.
func (c *Clock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// WallClock is the wall clock moved forward by Advance: code that takes
// its time from it sees hours pass at once (a sweep, a 429's wait) while
// everything else keeps real time.
type WallClock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns the wall clock's time plus the offset.
func (c *WallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Advance moves the clock forward by d.
func (c *WallClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}
