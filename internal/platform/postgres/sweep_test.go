package postgres_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// TestConcurrentSweepsRemindAndWarnOnce: sweeps that overlap (a slow
// leader and its successor) remind approvers once and warn an owner once
// per expiry, because each step is checked under the resource's row lock.
func TestConcurrentSweepsRemindAndWarnOnce(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	store := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{Now: now})
	sealer, err := platform.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: platformtest.Catalog(t), Org: platformtest.Org(),
		Drivers:   map[string]platform.Driver{"postgres": platformtest.NewDriver()},
		Now:       now,
		Sealer:    sealer,
		Deadlines: platform.Deadlines{RemindAfter: 2 * time.Hour, ExpireAfter: 8 * time.Hour, WarnBefore: 24 * time.Hour},
	})
	ctx := context.Background()
	submit := func(name, env string) *platform.Resource {
		t.Helper()
		params := map[string]any{}
		if env == "production" {
			params["high_availability"] = true
		}
		r, _, err := engine.Submit(ctx, platformtest.Bob, platform.Request{Service: "postgresql-database", Name: name, Team: "payments", Environment: env, Parameters: params})
		if err != nil {
			t.Fatalf("Submit(%s) = %v", name, err)
		}
		return r
	}
	waiting := submit("prod-db", "production")
	dev := submit("dev-db", "development")
	if err := engine.Provision(ctx, dev.ID); err != nil {
		t.Fatalf("Provision = %v", err)
	}
	sweepConcurrently := func() {
		t.Helper()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := engine.Sweep(ctx); err != nil {
					t.Errorf("Sweep = %v", err)
				}
			})
		}
		wg.Wait()
	}
	count := func(id int64, kind platform.EventKind) int {
		t.Helper()
		evs, err := store.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Kind == kind {
				n++
			}
		}
		return n
	}

	offset.Store(int64(3 * time.Hour)) // past the reminder, before expiry
	sweepConcurrently()
	sweepConcurrently()
	if n := count(waiting.ID, platform.EventReminder); n != 1 {
		t.Errorf("reminders after 16 overlapping sweeps = %d, want 1", n)
	}

	offset.Store(int64(7*24*time.Hour - 12*time.Hour)) // within a day of the TTL
	sweepConcurrently()
	if n := count(dev.ID, platform.EventExpiring); n != 1 {
		t.Errorf("expiry warnings after 8 overlapping sweeps = %d, want 1", n)
	}
	// Extended: the new expiry gets its own warning, once.
	if _, err := engine.Extend(ctx, platformtest.Bob, "#"+strconv.FormatInt(dev.ID, 10), 48*time.Hour); err != nil {
		t.Fatalf("Extend = %v", err)
	}
	offset.Store(int64(7*24*time.Hour + 24*time.Hour))
	sweepConcurrently()
	if n := count(dev.ID, platform.EventExpiring); n != 2 {
		t.Errorf("expiry warnings after extending and sweeping again = %d, want 2", n)
	}
}
