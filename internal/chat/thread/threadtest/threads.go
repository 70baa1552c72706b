// Package threadtest holds test doubles for the thread package.
package threadtest

import (
	"context"
	"sync"

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
