// Package threadtest holds test doubles for the thread package.
package threadtest

import (
	"context"
	"sync"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Threads keeps thread records (where each request's thread is) in
// memory, for chat adapter tests that need no database. The zero value is
// ready to use.
type Threads struct {
	mu sync.Mutex
	m  map[int64]platform.Thread
}

// Thread returns the thread saved for resource id.
func (t *Threads) Thread(_ context.Context, id int64, _ string) (platform.Thread, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	th, ok := t.m[id]
	return th, ok, nil
}

// SaveThread records th as resource id's thread.
func (t *Threads) SaveThread(_ context.Context, id int64, _ string, th platform.Thread) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[int64]platform.Thread{}
	}
	t.m[id] = th
	return nil
}

// Clock is the wall clock moved on by Skip: a Pacer on it waits in real
// time, and a test that met a 429 skips the wait it asked for instead of
// sleeping through it.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now implements the Pacer's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Skip moves the clock d ahead.
func (c *Clock) Skip(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
