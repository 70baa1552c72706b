package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// driftObserver records what a DriftChecker reports.
type driftObserver struct {
	mu      sync.Mutex
	results map[string]int
	counts  []platform.DriftCount
	rounds  int
}

func (o *driftObserver) DriftChecked(result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.results == nil {
		o.results = map[string]int{}
	}
	o.results[result]++
}

func (o *driftObserver) Drifted(counts []platform.DriftCount) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts, o.rounds = counts, o.rounds+1
}

// driftEnv is a real store and engine on a fresh schema, with the fake
// driver (which reads a settable live status) bound as "test".
type driftEnv struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	engine *platform.Engine
	driver *platformtest.Driver
}

func newDriftEnv(t *testing.T, d platform.Driver, fake *platformtest.Driver) *driftEnv {
	t.Helper()
	pool := postgrestest.Pool(t)
	enq := testEnqueuer(t, pool, nil)
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	return &driftEnv{pool: pool, store: store, engine: testEngine(t, store, d), driver: fake}
}

// ready submits and provisions a test-db called name.
func (e *driftEnv) ready(t *testing.T, name string) *platform.Resource {
	t.Helper()
	ctx := context.Background()
	r, _, err := e.engine.Submit(ctx, alice, platform.Request{Service: "test-db", Name: name, Team: "payments", Environment: "staging"})
	if err != nil {
		t.Fatalf("Submit(%s) = %v", name, err)
	}
	if err := e.engine.Provision(ctx, r.ID); err != nil {
		t.Fatalf("Provision(%s) = %v", name, err)
	}
	return r
}

// notes returns the drift notes in resource id's history.
func (e *driftEnv) notes(t *testing.T, id int64) []string {
	t.Helper()
	evs, err := e.store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == platform.EventNote && strings.HasPrefix(ev.Message, "drift") {
			out = append(out, ev.Message)
		}
	}
	return out
}

var (
	missingDB = platform.LiveStatus{Health: platform.Missing, Summary: "the database is missing",
		Checks: []platform.LiveCheck{{Name: "database", Recorded: "payments_staging_db", Live: "absent"}, {Name: "role", Recorded: "payments_staging_db", Live: "exists", OK: true}}}
	healthyDB = platform.LiveStatus{Health: platform.Healthy, Summary: "the database and its role exist as recorded"}
)

func TestDriftNotesOnceEachWay(t *testing.T) {
	t.Parallel()
	d := platformtest.NewDriver()
	e := newDriftEnv(t, d, d)
	db := e.ready(t, "db")
	blind := e.ready(t, "blind") // no status set: its binding cannot read
	down := e.ready(t, "down")
	d.SetStatus(down.ID, platform.LiveStatus{}, platformtest.Transient("dial tcp 10.0.0.9:5432: connection refused"))
	obs := &driftObserver{}
	c := NewDriftChecker(e.engine, e.store, DriftConfig{Concurrency: 2, Timeout: 5 * time.Second}, obs, nil)
	ctx := context.Background()

	for i, st := range []platform.LiveStatus{missingDB, missingDB, healthyDB} {
		d.SetStatus(db.ID, st, nil)
		round, err := c.Check(ctx)
		if err != nil {
			t.Fatalf("round %d: Check = %v", i+1, err)
		}
		wantResult := DriftDrifted
		if !st.Health.Drifted() {
			wantResult = DriftHealthy
		}
		want := map[int64]string{db.ID: wantResult, blind.ID: DriftNotAvailable, down.ID: DriftUnreachable}
		if diff := cmp.Diff(want, round.Results); diff != "" {
			t.Errorf("round %d results mismatch (-want +got):\n%s", i+1, diff)
		}
		wantCounts := []platform.DriftCount{{ServiceType: "database", Environment: "staging", Drifted: 1}}
		if i == 2 {
			wantCounts = nil
		}
		obs.mu.Lock()
		if diff := cmp.Diff(wantCounts, obs.counts, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round %d drifted counts mismatch (-want +got):\n%s", i+1, diff)
		}
		obs.mu.Unlock()
	}
	want := []string{
		"drift: the database is missing — deleted outside idpbot?\n• database: payments_staging_db → absent",
		"drift resolved: the database and its role exist as recorded",
	}
	if diff := cmp.Diff(want, e.notes(t, db.ID)); diff != "" {
		t.Errorf("notes in the thread mismatch (-want +got):\n%s", diff)
	}
	for _, r := range []*platform.Resource{blind, down} {
		if n := e.notes(t, r.ID); len(n) > 0 {
			t.Errorf("%s got drift notes %q", r.Name, n)
		}
	}
	if diff := cmp.Diff(map[string]int{DriftDrifted: 2, DriftHealthy: 1, DriftNotAvailable: 3, DriftUnreachable: 3}, obs.results); diff != "" {
		t.Errorf("check results counted mismatch (-want +got):\n%s", diff)
	}
	last, ok, err := e.store.LastDrift(ctx, db.ID)
	if err != nil || !ok || last.Health != platform.Healthy || last.Summary != healthyDB.Summary {
		t.Errorf("LastDrift = %+v, %v, %v; want healthy", last, ok, err)
	}
	if _, ok, _ := e.store.LastDrift(ctx, down.ID); ok {
		t.Error("an unreachable target was stored as a condition")
	}
}

func TestDriftFirstCheckHealthyNotesNothing(t *testing.T) {
	t.Parallel()
	d := platformtest.NewDriver()
	e := newDriftEnv(t, d, d)
	db := e.ready(t, "db")
	d.SetStatus(db.ID, healthyDB, nil)
	c := NewDriftChecker(e.engine, e.store, DriftConfig{}, nil, nil)
	for range 2 {
		if _, err := c.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.notes(t, db.ID); len(n) > 0 {
		t.Errorf("a resource healthy from the start got notes %q", n)
	}
	// A deleted resource is not checked, whatever its driver says.
	if _, err := e.engine.Delete(context.Background(), alice, db.Ref()); err != nil {
		t.Fatal(err)
	}
	d.SetStatus(db.ID, missingDB, nil)
	round, err := c.Check(context.Background())
	if err != nil || len(round.Results) != 0 {
		t.Errorf("Check with only a deleting resource = %v, %v", round, err)
	}
}

// rendezvous is a driver whose Status waits until n reads are under way,
// so that the checkers of a test overlap.
type rendezvous struct {
	*platformtest.Driver
	mu      sync.Mutex
	n       int
	arrived chan struct{}
}

func (r *rendezvous) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	r.mu.Lock()
	r.n--
	if r.n == 0 {
		close(r.arrived)
	}
	r.mu.Unlock()
	select {
	case <-r.arrived:
	case <-ctx.Done():
		return platform.LiveStatus{}, ctx.Err()
	}
	return r.Driver.Status(ctx, job)
}

func TestDriftTwoCheckersNoteOnce(t *testing.T) {
	t.Parallel()
	fake := platformtest.NewDriver()
	d := &rendezvous{Driver: fake, n: 2, arrived: make(chan struct{})}
	e := newDriftEnv(t, d, fake)
	db := e.ready(t, "db")
	fake.SetStatus(db.ID, missingDB, nil)
	// Two replicas, each with its own checker over the same database.
	other := newDriftEnvOn(t, e, d)
	checkers := []*DriftChecker{
		NewDriftChecker(e.engine, e.store, DriftConfig{Timeout: 10 * time.Second}, nil, nil),
		NewDriftChecker(other.engine, other.store, DriftConfig{Timeout: 10 * time.Second}, nil, nil),
	}
	var wg sync.WaitGroup
	rounds := make([]DriftRound, 2)
	for i, c := range checkers {
		wg.Go(func() {
			var err error
			if rounds[i], err = c.Check(context.Background()); err != nil {
				t.Errorf("checker %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i, r := range rounds {
		if r.Results[db.ID] != DriftDrifted {
			t.Errorf("checker %d: result %q, want drifted (did both read?)", i, r.Results[db.ID])
		}
	}
	if n := e.notes(t, db.ID); len(n) != 1 {
		t.Errorf("two checkers racing recorded %d notes, want 1: %q", len(n), n)
	}
	if noted := len(rounds[0].Noted) + len(rounds[1].Noted); noted != 1 {
		t.Errorf("%d checkers say they noted the drift, want 1", noted)
	}
}

// newDriftEnvOn returns a second process's pool, store and engine over
// e's database schema, reading through the same driver.
func newDriftEnvOn(t *testing.T, e *driftEnv, d platform.Driver) *driftEnv {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), e.pool.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: testEnqueuer(t, pool, nil).OnEvent})
	return &driftEnv{pool: pool, store: store, engine: testEngine(t, store, d), driver: e.driver}
}

func TestDriftTimeoutPerResource(t *testing.T) {
	t.Parallel()
	d := platformtest.NewDriver()
	e := newDriftEnv(t, d, d)
	stuck := e.ready(t, "stuck")
	db := e.ready(t, "db")
	d.HoldStatus(stuck.ID)
	d.SetStatus(db.ID, missingDB, nil)
	c := NewDriftChecker(e.engine, e.store, DriftConfig{Concurrency: 1, Timeout: 100 * time.Millisecond}, nil, nil)
	round, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int64]string{stuck.ID: DriftUnreachable, db.ID: DriftDrifted}, round.Results); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
}

// TestDriftRunsOnTheLeader runs the drift check the way the bot does: a
// periodic job of the elected leader, registered with the runner, whose
// note reaches the resource's thread through the outbox.
func TestDriftRunsOnTheLeader(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	fake := platformtest.NewDriver()
	enq := testEnqueuer(t, pool, nil)
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	engine := testEngine(t, store, fake)
	ctx := context.Background()
	r, _, err := engine.Submit(ctx, alice, platform.Request{Service: "test-db", Name: "db", Team: "payments", Environment: "staging",
		Origin: platform.Origin{Platform: "console", Channel: "tty"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Provision(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	fake.SetStatus(r.ID, missingDB, nil)
	obs := &driftObserver{}
	checker := NewDriftChecker(engine, store, DriftConfig{Interval: time.Hour}, obs, nil)
	if n := len(checker.PeriodicJobs()); n != 1 {
		t.Fatalf("PeriodicJobs = %d jobs, want 1", n)
	}
	if n := len(NewDriftChecker(engine, store, DriftConfig{Disabled: true}, nil, nil).PeriodicJobs()); n != 0 {
		t.Errorf("a disabled drift check has %d periodic jobs", n)
	}
	notifier := &recorder{}
	runner, err := New(Config{
		Pool: pool, Engine: engine, Store: store, Enqueuer: enq,
		Notifiers:         map[string]Notifier{"console": notifier},
		Schema:            postgrestest.Schema(pool),
		DefaultTimeout:    5 * time.Second,
		RescueAfter:       10 * time.Second,
		RetryPolicy:       fixedRetry(10 * time.Millisecond),
		FetchPollInterval: 20 * time.Millisecond,
		Register:          func(w *river.Workers) { AddDriftWorker(w, checker) },
		Periodic:          checker.PeriodicJobs(),
		testOnly:          true,
		stopTimeout:       2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{pool: pool, store: store, engine: engine, notifier: notifier, runner: runner}
	h.start(t)
	want := "note drift: the database is missing — deleted outside idpbot?\n• database: payments_staging_db → absent"
	waitFor(t, 30*time.Second, "the drift note in the thread and the round's counts", func() (bool, string) {
		obs.mu.Lock()
		rounds := obs.rounds
		obs.mu.Unlock()
		got := notifier.recorded(r.ID)
		for _, l := range got {
			if strings.HasSuffix(l, want) && rounds > 0 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d rounds; thread:\n%s", rounds, strings.Join(got, "\n"))
	})
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if diff := cmp.Diff([]platform.DriftCount{{ServiceType: "database", Environment: "staging", Drifted: 1}}, obs.counts); diff != "" {
		t.Errorf("drifted counts after the leader's round mismatch (-want +got):\n%s", diff)
	}
}
