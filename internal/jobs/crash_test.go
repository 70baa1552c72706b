package jobs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	pgdriver "github.com/idpbot/idpbot/internal/drivers/postgres"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// The crash child: the test binary, run with these variables, acts as a
// bot process that is killed (SIGKILL) at a kill point of crashMode, where
// it prints killPoint and hangs.
const (
	crashChildEnv = "IDPBOT_JOBS_CRASH_CHILD_SCHEMA"
	crashModeEnv  = "IDPBOT_JOBS_CRASH_MODE"
	killPoint     = "KILL-POINT"
)

// Kill points.
const (
	// inDriver: the driver has started provisioning.
	inDriver = "driver"
	// afterDatabase: the real postgres driver has created the role and
	// the database, and not yet returned.
	afterDatabase = "database"
	// inDelivery: the notifier has posted the "ready" message and not yet
	// returned.
	inDelivery = "delivery"
)

func TestMain(m *testing.M) {
	if schema := os.Getenv(crashChildEnv); schema != "" {
		if err := crashChild(schema, os.Getenv(crashModeEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hangAt stops the calling goroutine at the kill point until ctx ends.
func hangAt(ctx context.Context, id int64) error {
	fmt.Println(killPoint, id)
	<-ctx.Done()
	return ctx.Err()
}

// crashDriver wraps a driver: hang, if set, is told each step and says
// whether to hang at it; entered, if set, is told when Provision starts.
type crashDriver struct {
	platform.Driver
	hang    func(step string) bool
	entered func()
}

func (d *crashDriver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	if d.entered != nil {
		d.entered()
	}
	if d.hang != nil {
		step := job.Step
		job.Step = func(m string) {
			step(m)
			if d.hang(m) {
				_ = hangAt(ctx, job.Resource.ID)
			}
		}
	}
	return d.Driver.Provision(ctx, job)
}

// tableNotifier posts thread messages as rows of crash_thread, shared by
// both processes. Under a redelivery it first looks for the message, as a
// chat adapter does (find-by-key). hang, if set, hangs after posting.
type tableNotifier struct {
	pool *pgxpool.Pool
	hang func(ev platform.Event) bool
}

var _ Notifier = (*tableNotifier)(nil)

func (n *tableNotifier) post(ctx context.Context, line string) error {
	q := `INSERT INTO crash_thread (line) VALUES ($1)`
	if platform.Redelivery(ctx) {
		q = `INSERT INTO crash_thread (line) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM crash_thread WHERE line = $1)`
	}
	_, err := n.pool.Exec(ctx, q, line)
	return err
}

func (n *tableNotifier) Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error {
	if err := n.post(ctx, threadLine(r, ev)); err != nil {
		return err
	}
	if n.hang != nil && n.hang(ev) {
		return hangAt(ctx, r.ID)
	}
	return nil
}

func (n *tableNotifier) Private(ctx context.Context, r *platform.Resource, _ map[string]string) error {
	return n.post(ctx, threadLine(r, platform.Event{Kind: platform.EventSecret}))
}

// threadLine is how tableNotifier posts ev; secrets are private messages.
func threadLine(r *platform.Resource, ev platform.Event) string {
	if ev.Kind == platform.EventSecret {
		return fmt.Sprintf("#%d private to %s", r.ID, r.Requester.ID)
	}
	return fmt.Sprintf("#%d event %d %s %s", r.ID, ev.ID, ev.Kind, ev.Message)
}

// crashRig is one bot process's store, engine and runner on a schema.
type crashRig struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	engine *platform.Engine
	runner *Runner
}

// newCrashRig builds a process on pool with driver d and notifier n.
// timings, if set, replace the lease's.
func newCrashRig(pool *pgxpool.Pool, d platform.Driver, n Notifier, timings *leaseTimings, leader bool) (*crashRig, error) {
	schema := pool.Config().ConnConfig.RuntimeParams["search_path"]
	enq, err := NewEnqueuer(EnqueuerConfig{Pool: pool, Schema: schema})
	if err != nil {
		return nil, err
	}
	rig := &crashRig{pool: pool, store: postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})}
	if rig.engine, err = buildEngine(rig.store, d); err != nil {
		return nil, err
	}
	// River's own rescue (RescueAfter) is far off: what resumes the jobs
	// of a killed process here is the lease.
	rig.runner, err = New(Config{
		Pool: pool, Engine: rig.engine, Store: rig.store, Schema: schema,
		Notifiers:      map[string]Notifier{"console": n},
		DefaultTimeout: time.Minute, RescueAfter: 10 * time.Minute,
		RetryPolicy: fixedRetry(10 * time.Millisecond), FetchPollInterval: 20 * time.Millisecond,
		testOnly: true, stopTimeout: 2 * time.Second, leaseTimings: timings,
		// The killed process must not be the leader whose term the
		// survivor waits for; the lease does not depend on leadership.
		leaderElectionDisabled: !leader,
	})
	return rig, err
}

// crashDrivers returns the driver of a process for mode: the killed one's
// hangs at the kill point.
func crashDrivers(mode string, killed bool) platform.Driver {
	switch mode {
	case afterDatabase:
		d := &crashDriver{Driver: pgdriver.New(pgdriver.Config{AdminURL: os.Getenv("DATABASE_URL")})}
		if killed {
			var sawDatabase bool
			d.hang = func(step string) bool {
				if sawDatabase { // the step after creating it
					return true
				}
				sawDatabase = strings.HasPrefix(step, "creating database")
				return false
			}
		}
		return d
	case inDriver:
		d := &crashDriver{Driver: &testDriver{timeout: time.Minute}}
		if killed {
			d.hang = func(string) bool { return true }
		}
		return d
	default:
		return &crashDriver{Driver: &testDriver{timeout: time.Minute}}
	}
}

// crashChild runs a bot process on schema until it is killed (or a minute
// passes, should the parent test die first).
func crashChild(schema, mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := postgres.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	n := &tableNotifier{pool: pool}
	if mode == inDelivery {
		n.hang = func(ev platform.Event) bool { return ev.To == platform.Ready }
	}
	rig, err := newCrashRig(pool, crashDrivers(mode, true), n, nil, false)
	if err != nil {
		return err
	}
	return rig.runner.Run(ctx)
}

// killChild starts the crash child on pool's schema, waits until it
// reaches its kill point for resource id, and kills it.
func killChild(t testing.TB, pool *pgxpool.Pool, mode string, id int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+postgrestest.Schema(pool), crashModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	reached := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), killPoint) {
				reached <- sc.Text()
				return
			}
		}
		close(reached)
	}()
	select {
	case line, ok := <-reached:
		if want := fmt.Sprintf("%s %d", killPoint, id); !ok || line != want {
			t.Fatalf("the killed process printed %q, want %q", line, want)
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("the killed process never reached its kill point (%s)", mode)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
}

// crashSetup makes a schema with the shared thread table and a request
// for a database named after the test, and kills a process at mode's kill
// point while it works on that request.
func crashSetup(t testing.TB, mode string) (*pgxpool.Pool, *platform.Resource) {
	t.Helper()
	pool := postgrestest.Pool(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE crash_thread (id bigserial PRIMARY KEY, line text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// Named per schema: the real driver's role and database are global.
	name := "crash-" + strings.TrimPrefix(postgrestest.Schema(pool), "t_")
	submitter, err := newCrashRig(pool, crashDrivers(mode, false), &tableNotifier{pool: pool}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := submitter.engine.Submit(context.Background(), alice, platform.Request{
		Service: "test-db", Name: name, Team: "payments", Environment: "staging",
		Origin: platform.Origin{Platform: "console", Channel: "tty"},
	})
	if err != nil {
		t.Fatalf("Submit(%s) = %v", name, err)
	}
	killChild(t, pool, mode, r.ID)
	return pool, r
}

// startRig runs rig's runner until the test ends.
func startRig(t testing.TB, rig *crashRig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rig.runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// TestCrashResume kills a process (SIGKILL) at each kill point; a second
// process takes over its lease and finishes the request: ready, created
// once, its thread complete with no message twice.
func TestCrashResume(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{inDriver, afterDatabase, inDelivery} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool, sub := crashSetup(t, mode)
			if mode == afterDatabase {
				t.Cleanup(func() { dropProvisioned(t, pool, sub) })
			}
			// What the killed process did before it died, which the second
			// must neither redo nor lose.
			switch mode {
			case afterDatabase:
				var exists bool
				if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, provisionedName(sub)).Scan(&exists); err != nil || !exists {
					t.Fatalf("database %s exists at the kill = %v, %v; want true", provisionedName(sub), exists, err)
				}
			case inDelivery:
				if th := threadOf(t, pool); len(th) == 0 || !strings.HasSuffix(th[len(th)-1], " ready") {
					t.Fatalf("thread at the kill: %q; want it to end with the ready message", th)
				}
			}
			var (
				mu    sync.Mutex
				calls int
			)
			d := crashDrivers(mode, false).(*crashDriver)
			d.entered = func() { mu.Lock(); calls++; mu.Unlock() }
			rig, err := newCrashRig(pool, d, &tableNotifier{pool: pool}, &fastLease, true)
			if err != nil {
				t.Fatal(err)
			}
			startRig(t, rig)

			var (
				r      *platform.Resource
				evs    []platform.Event
				thread []string
			)
			waitFor(t, 60*time.Second, fmt.Sprintf("#%d to be resumed, ready and delivered", sub.ID), func() (bool, string) {
				var err error
				if r, err = rig.store.Resource(ctx, sub.ID); err != nil {
					return false, err.Error()
				}
				if evs, err = rig.store.Events(ctx, sub.ID); err != nil {
					return false, err.Error()
				}
				thread = threadOf(t, pool)
				// The killed process's job is taken over once its lease
				// runs out, which may come after another job completed the
				// thread: wait for both.
				var taken bool
				if err := pool.QueryRow(ctx, `SELECT coalesce(bool_or(errors::text LIKE '%lost its lease%'), false) FROM river_job`).Scan(&taken); err != nil {
					return false, err.Error()
				}
				return r.State == platform.Ready && len(thread) >= len(evs) && taken, fmt.Sprintf("%s, thread %q, job taken over %v", r.State, thread, taken)
			})
			var want []string
			for _, ev := range evs {
				want = append(want, threadLine(r, ev))
			}
			if strings.Join(thread, "\n") != strings.Join(want, "\n") {
				t.Errorf("thread:\n%s\nwant every event once, in order:\n%s", strings.Join(thread, "\n"), strings.Join(want, "\n"))
			}
			mu.Lock()
			defer mu.Unlock()
			if wantCalls := map[bool]int{true: 0, false: 1}[mode == inDelivery]; calls != wantCalls {
				t.Errorf("the second process's driver ran %d times, want %d", calls, wantCalls)
			}
			if mode == afterDatabase {
				checkProvisionedOnce(t, pool, r)
			}
		})
	}
}

// threadOf returns what was posted, in order.
func threadOf(t testing.TB, pool *pgxpool.Pool) []string {
	rows, err := pool.Query(context.Background(), `SELECT line FROM crash_thread ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}
