package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

var alice = platform.Actor{ID: "console:alice", Name: "Alice"}

// testDriver provisions nothing real but behaves like a driver: it reports
// a step, is idempotent (a retried job finds what an earlier attempt made)
// and counts what it created and removed.
type testDriver struct {
	timeout time.Duration
	// fail returns the error of the nth call to Provision (1-based), if any.
	fail func(n int) error
	// onStart is called when Provision starts.
	onStart func(id int64)

	mu            sync.Mutex
	calls         int
	created       map[int64]bool
	creations     int
	deprovisioned map[int64]int
	// failUpdates and updates are Update's (update_test.go).
	failUpdates int
	updates     []update
}

var _ platform.Driver = (*testDriver)(nil)

func (d *testDriver) Check() error           { return nil }
func (d *testDriver) Timeout() time.Duration { return d.timeout }

func (d *testDriver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	id := job.Resource.ID
	if d.onStart != nil {
		d.onStart(id)
	}
	d.mu.Lock()
	d.calls++
	n := d.calls
	d.mu.Unlock()
	job.Step("creating database")
	if d.fail != nil {
		if err := d.fail(n); err != nil {
			return platform.Result{}, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.created == nil {
		d.created = map[int64]bool{}
	}
	if !d.created[id] {
		d.created[id] = true
		d.creations++
	}
	return platform.Result{
		Outputs: map[string]string{"host": "db.test"},
		Secrets: map[string]string{"password": "s3cret-" + job.Resource.Name},
	}, nil
}

func (d *testDriver) Deprovision(ctx context.Context, job platform.Job) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deprovisioned == nil {
		d.deprovisioned = map[int64]int{}
	}
	d.deprovisioned[job.Resource.ID]++
	delete(d.created, job.Resource.ID)
	return nil
}

func (d *testDriver) counts() (calls, creations int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls, d.creations
}

// recorder is a Notifier that records what it was asked to post, after
// failing its first `failures` calls like a chat platform in an outage.
type recorder struct {
	mu       sync.Mutex
	failures int
	failed   int
	// limited, when set, makes the next call answer a rate limit of that
	// long, limitedCalls times; like a platform's bucket, every call
	// until that wait is over is refused too, with what is left of it.
	limited      time.Duration
	limitedCalls int
	limitedAt    []time.Time
	closedUntil  time.Time
	lines        []string
	at           []time.Time
	// deferPrivate makes Private defer this many times (the requester is
	// not at this console).
	deferPrivate int
}

// notHere is a Deferred error, like the console's for someone else's
// connection details.
type notHere struct{}

func (notHere) Error() string           { return "not here" }
func (notHere) DeferFor() time.Duration { return time.Second }

// rateLimited is a notifier error asking to wait, like a chat API's 429.
type rateLimited time.Duration

func (e rateLimited) Error() string             { return "rate limited" }
func (e rateLimited) RetryAfter() time.Duration { return time.Duration(e) }

var _ Notifier = (*recorder)(nil)

func (n *recorder) Notify(_ context.Context, r *platform.Resource, ev platform.Event) error {
	return n.record(fmt.Sprintf("#%d event %d %s %s", r.ID, ev.ID, ev.Kind, ev.Message))
}

func (n *recorder) Private(_ context.Context, r *platform.Resource, secrets map[string]string) error {
	n.mu.Lock()
	if n.deferPrivate > 0 {
		n.deferPrivate--
		n.mu.Unlock()
		return notHere{}
	}
	n.mu.Unlock()
	return n.record(fmt.Sprintf("#%d private to %s: password=%s", r.ID, r.Requester.ID, secrets["password"]))
}

func (n *recorder) record(line string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failed < n.failures {
		n.failed++
		return fmt.Errorf("chat platform unavailable (call %d)", n.failed)
	}
	if left := time.Until(n.closedUntil); left > 0 {
		return rateLimited(left)
	}
	if n.limitedCalls > 0 {
		n.limitedCalls--
		n.limitedAt = append(n.limitedAt, time.Now())
		n.closedUntil = time.Now().Add(n.limited)
		return rateLimited(n.limited)
	}
	n.lines = append(n.lines, line)
	n.at = append(n.at, time.Now())
	return nil
}

// recorded returns what was posted about resource id.
func (n *recorder) recorded(id int64) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, l := range n.lines {
		if strings.HasPrefix(l, fmt.Sprintf("#%d ", id)) {
			out = append(out, l)
		}
	}
	return out
}

// expectedThread is what a recorder must have received for the events of r:
// every event, in order, the secret one as a private message.
func expectedThread(r *platform.Resource, evs []platform.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Kind == platform.EventSecret {
			out = append(out, fmt.Sprintf("#%d private to %s: password=s3cret-%s", r.ID, r.Requester.ID, r.Name))
			continue
		}
		out = append(out, fmt.Sprintf("#%d event %d %s %s", r.ID, ev.ID, ev.Kind, ev.Message))
	}
	return out
}

// fixedRetry retries failed jobs after a short fixed delay, to keep tests
// fast.
type fixedRetry time.Duration

func (d fixedRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Duration(d)) }

// harness is a real store, engine and River runner on a fresh schema.
type harness struct {
	pool     *pgxpool.Pool
	store    *postgres.Store
	engine   *platform.Engine
	driver   *testDriver
	notifier *recorder
	runner   *Runner
}

func testEngine(t testing.TB, store platform.Store, d platform.Driver) *platform.Engine {
	t.Helper()
	e, err := buildEngine(store, d)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// buildEngine returns an engine with one service, test-db, provisioned by
// driver d, and one team, payments, of which alice is a member.
func buildEngine(store platform.Store, d platform.Driver) (*platform.Engine, error) {
	cat, err := platform.NewCatalog(&platform.ServiceDefinition{
		Name:  "test-db",
		Title: "Test database",
		Type:  "database",
		Fields: []platform.Field{
			{Name: "size", Kind: platform.KindEnum, Options: []string{"small", "large"}, Default: "small"},
		},
		Provisioners: []platform.Binding{{Driver: "test"}},
	})
	if err != nil {
		return nil, err
	}
	sealer, err := platform.NewSealer(platformtest.SealerKey)
	if err != nil {
		return nil, err
	}
	return platform.NewEngine(platform.EngineConfig{
		Store:   store,
		Catalog: cat,
		Org: &platform.Org{
			Teams:        []platform.Team{{Name: "payments", Members: []string{alice.ID}}},
			Environments: []platform.Environment{{Name: "staging"}},
		},
		Drivers: map[string]platform.Driver{"test": d},
		Sealer:  sealer,
	}), nil
}

// newHarness builds everything on a fresh schema with fast test timings;
// configure adjusts the runner's Config.
func newHarness(t testing.TB, configure func(*Config)) *harness {
	t.Helper()
	pool := postgrestest.Pool(t)
	return newHarnessOn(t, pool, &testDriver{timeout: 5 * time.Second}, configure)
}

func newHarnessOn(t testing.TB, pool *pgxpool.Pool, d *testDriver, configure func(*Config)) *harness {
	t.Helper()
	h := &harness{pool: pool, driver: d, notifier: &recorder{}}
	enq := testEnqueuer(t, pool, nil)
	h.store = postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	h.engine = testEngine(t, h.store, h.driver)
	cfg := Config{
		Pool:              pool,
		Engine:            h.engine,
		Store:             h.store,
		Enqueuer:          enq,
		Notifiers:         map[string]Notifier{"console": h.notifier},
		Schema:            postgrestest.Schema(pool),
		DefaultTimeout:    5 * time.Second,
		RescueAfter:       10 * time.Second,
		RetryPolicy:       fixedRetry(10 * time.Millisecond),
		FetchPollInterval: 20 * time.Millisecond,
		testOnly:          true,
		stopTimeout:       2 * time.Second,
	}
	if configure != nil {
		configure(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	h.runner = r
	return h
}

// testEnqueuer enqueues events' jobs on pool's schema, posting approval
// cards to approvals.
func testEnqueuer(t testing.TB, pool *pgxpool.Pool, approvals map[string]string) *Enqueuer {
	t.Helper()
	e, err := NewEnqueuer(EnqueuerConfig{Pool: pool, Schema: postgrestest.Schema(pool), ApprovalChannels: approvals})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs the runner until the test ends.
func (h *harness) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func (h *harness) submit(t testing.TB, name string) *platform.Resource {
	t.Helper()
	r, _, err := h.engine.Submit(context.Background(), alice, platform.Request{
		Service: "test-db", Name: name, Team: "payments", Environment: "staging",
		Origin: platform.Origin{Platform: "console", Channel: "tty"},
	})
	if err != nil {
		t.Fatalf("Submit(%s) = %v", name, err)
	}
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSettled waits until resource id is in state want and the notifier
// has been handed its whole history.
func (h *harness) waitSettled(t testing.TB, id int64, want platform.State) (*platform.Resource, []platform.Event) {
	t.Helper()
	ctx := context.Background()
	var (
		r   *platform.Resource
		evs []platform.Event
	)
	waitFor(t, 20*time.Second, fmt.Sprintf("#%d to be %s and fully delivered", id, want), func() (bool, string) {
		var err error
		if r, err = h.store.Resource(ctx, id); err != nil {
			return false, err.Error()
		}
		if evs, err = h.store.Events(ctx, id); err != nil {
			return false, err.Error()
		}
		got := h.notifier.recorded(id)
		state := fmt.Sprintf("state %s, delivered:\n%s", r.State, strings.Join(got, "\n"))
		return r.State == want && len(got) >= len(evs), state
	})
	return r, evs
}
