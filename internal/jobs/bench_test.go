package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// discardNotifier accepts every message.
type discardNotifier struct{}

func (discardNotifier) Notify(context.Context, *platform.Resource, platform.Event) error { return nil }
func (discardNotifier) Private(context.Context, *platform.Resource, map[string]string) error {
	return nil
}

// BenchmarkSubmitToPickup measures Engine.Submit on the real database and
// the latency from the start of a submission to a worker starting its
// provisioning job, with production settings (pickup through
// LISTEN/NOTIFY). "burst" submits back to back, so later jobs queue behind
// earlier ones; "serial" waits for each pickup before the next submission,
// as a chat bot's requests usually arrive.
//
// "sustained" submits from sustainedSubmitters goroutines at once, each
// back to back, as a bot serving many people at the same time does: the
// rate the submissions and their pickups hold, not one goroutine's round
// trips. "sustained-no-workers" runs no workers: the submissions alone.
func BenchmarkSubmitToPickup(b *testing.B) {
	for _, serial := range []bool{false, true} {
		name := "burst"
		if serial {
			name = "serial"
		}
		b.Run(name, func(b *testing.B) { benchmarkSubmitToPickup(b, serial) })
	}
	b.Run("sustained", func(b *testing.B) { benchmarkSustainedSubmits(b, true) })
	b.Run("sustained-no-workers", func(b *testing.B) { benchmarkSustainedSubmits(b, false) })
}

// sustainedSubmitters is how many submissions are in flight at once in
// the sustained benchmark.
const sustainedSubmitters = 16

// benchmarkSustainedSubmits submits b.N requests from sustainedSubmitters
// goroutines; with workers, it waits for every pickup, without, it
// measures the submissions alone (the jobs stay queued).
func benchmarkSustainedSubmits(b *testing.B, workers bool) {
	var (
		mu      sync.Mutex
		started = make(map[int64]time.Time, b.N)
		all     = make(chan struct{})
	)
	d := &testDriver{timeout: time.Minute, onStart: func(id int64) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, ok := started[id]; !ok {
			started[id] = now
			if len(started) == b.N {
				close(all)
			}
		}
	}}
	h := newHarnessOn(b, productionPool(b), d, func(c *Config) {
		c.Notifiers = map[string]Notifier{"console": discardNotifier{}}
		c.RetryPolicy = nil
		c.FetchPollInterval = 0
		c.DefaultTimeout = time.Minute
		c.RescueAfter = 2 * time.Minute
	})
	if workers {
		h.start(b)
	}
	submitted := make(map[int64]time.Time, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for range sustainedSubmitters {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				at := time.Now()
				r, _, err := h.engine.Submit(context.Background(), alice, platform.Request{
					Service: "test-db", Name: fmt.Sprintf("db-%d", i), Team: "payments", Environment: "staging",
					Origin: platform.Origin{Platform: "console", Channel: "tty"},
				})
				if err != nil {
					b.Errorf("Submit(db-%d) = %v", i, err)
					return
				}
				mu.Lock()
				submitted[r.ID] = at
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	submitting := time.Since(t0)
	if !workers {
		b.ReportMetric(float64(b.N)/submitting.Seconds(), "submits/s")
		return
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		mu.Lock()
		defer mu.Unlock()
		b.Fatalf("timed out waiting for pickups: %d of %d", len(started), b.N)
	}
	picked := time.Since(t0)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	latencies := make([]time.Duration, 0, b.N)
	for id, at := range submitted {
		latencies = append(latencies, started[id].Sub(at))
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/submitting.Seconds(), "submits/s")
	b.ReportMetric(float64(b.N)/picked.Seconds(), "pickups/s")
	b.ReportMetric(pct(0.50), "p50-pickup-ms")
	b.ReportMetric(pct(0.99), "p99-pickup-ms")
}

func benchmarkSubmitToPickup(b *testing.B, serial bool) {
	type start struct {
		id int64
		at time.Time
	}
	starts := make(chan start, b.N+1)
	d := &testDriver{timeout: time.Minute, onStart: func(id int64) { starts <- start{id, time.Now()} }}
	h := newHarnessOn(b, postgrestest.Pool(b), d, func(c *Config) {
		c.Notifiers = map[string]Notifier{"console": discardNotifier{}}
		c.RetryPolicy = nil
		c.FetchPollInterval = 0
		c.DefaultTimeout = time.Minute
		c.RescueAfter = 2 * time.Minute
	})
	h.start(b)
	submitted := make(map[int64]time.Time, b.N)
	started := make(map[int64]time.Time, b.N)
	await := func() {
		select {
		case s := <-starts:
			if _, ok := started[s.id]; !ok {
				started[s.id] = s.at
			}
		case <-time.After(time.Minute):
			b.Fatalf("timed out waiting for pickups: %d of %d", len(started), b.N)
		}
	}

	var submitting time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		r := h.submit(b, fmt.Sprintf("db-%d", i))
		submitting += time.Since(t0)
		submitted[r.ID] = t0
		if serial {
			await()
		}
	}
	b.StopTimer()
	for len(started) < b.N {
		await()
	}

	latencies := make([]time.Duration, 0, b.N)
	for id, t0 := range submitted {
		latencies = append(latencies, started[id].Sub(t0))
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/submitting.Seconds(), "submits/s")
	b.ReportMetric(pct(0.50), "p50-pickup-ms")
	b.ReportMetric(pct(0.99), "p99-pickup-ms")
}

// productionPool is postgrestest.Pool with the bot's pool size
// (postgres.DefaultMaxConns) instead of the smaller one of tests, which
// would bound concurrent submissions and workers by itself.
func productionPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	cfg := postgrestest.Config(b)
	cfg.MaxConns = postgres.DefaultMaxConns
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	return pool
}
