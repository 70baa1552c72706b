package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// takeover finds running jobs of clients whose lease is gone and, holding
// that lease for the takeover delay, makes them available again (see the
// comment on LeasePrefix's block in lease.go for why this is safe).
type takeover struct {
	store *postgres.Store
	self  string
	t     leaseTimings
	log   *slog.Logger

	mu      sync.Mutex
	working map[string]bool // clients being taken over
	wg      sync.WaitGroup
}

// run checks every check interval until ctx ends, and returns once every
// takeover it started has ended.
func (k *takeover) run(ctx context.Context) {
	defer k.wg.Wait()
	for {
		k.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(k.t.check):
		}
	}
}

// check starts a takeover of each client, other than this one, of a
// running job, unless one is under way.
func (k *takeover) check(ctx context.Context) {
	clients, err := k.store.LeasedClients(ctx, LeasePrefix, k.self)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn("cannot look for jobs of dead processes", "error", err)
		}
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.working == nil {
		k.working = map[string]bool{}
	}
	for _, c := range clients {
		if k.working[c] {
			continue
		}
		k.working[c] = true
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			k.take(ctx, c)
			k.mu.Lock()
			delete(k.working, c)
			k.mu.Unlock()
		}()
	}
}

// take acquires client's lease if its session is gone, holds it for the
// takeover delay, and then releases the client's running jobs.
func (k *takeover) take(ctx context.Context, client string) {
	l, err := k.store.AcquireLease(ctx, client)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn("cannot check the lease of a process", "client", client, "error", err)
		}
		return
	}
	if l == nil {
		return // alive
	}
	defer l.Close(context.WithoutCancel(ctx))
	k.log.Info("a process with running jobs lost its lease; resuming its jobs after the takeover delay",
		"client", client, "delay", k.t.takeover)
	select {
	case <-ctx.Done():
		return
	case <-time.After(k.t.takeover):
	}
	ids, err := l.ReleaseJobs(ctx, fmt.Sprintf("process %s lost its lease (it ended or lost its database session); job made available by %s", client, k.self))
	if err != nil {
		k.log.Warn("cannot resume the jobs of a dead process", "client", client, "error", err)
		return
	}
	if len(ids) > 0 {
		k.log.Info("resumed the jobs of a dead process", "client", client, "jobs", ids)
	}
}
