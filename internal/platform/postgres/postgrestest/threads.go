package postgrestest

import (
	"context"
	"sync"

	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// Threads keeps the Store's thread records (where each request's thread
// is) in memory, for chat adapter tests that need no database. The zero
// value is ready to use.
type Threads struct {
	mu sync.Mutex
	m  map[int64]postgres.Thread
}

// Thread returns the thread saved for resource id.
func (t *Threads) Thread(_ context.Context, id int64, _ string) (postgres.Thread, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	th, ok := t.m[id]
	return th, ok, nil
}

// SaveThread records th as resource id's thread.
func (t *Threads) SaveThread(_ context.Context, id int64, _ string, th postgres.Thread) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[int64]postgres.Thread{}
	}
	t.m[id] = th
	return nil
}
