package jobs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5/pgxpool"

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
