// Package e2e tests idpbot across packages: several bots, each with its
// real chat adapter in front of a fake chat platform, on one database.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/jobs/jobstest"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// testOrg has one team, payments, of which alice is a member on both
// platforms.
func testOrg() *platform.Org {
	return &platform.Org{
		Teams: []platform.Team{{Name: "payments", Members: []string{
			"slack:" + slackAlice.ID, "discord:" + discordAlice.ID,
		}}},
		Environments:  []platform.Environment{{Name: "development"}, {Name: "staging"}},
		DefaultQuotas: map[string]int{"postgresql-database": 20},
	}
}

// fixedRetry retries a failed job after a short delay, to keep tests fast.
type fixedRetry time.Duration

func (d fixedRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Duration(d)) }

// logs collects a bot's logs, written concurrently.
type logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// node is what one bot process has of its own on the shared database, as
// cmd/bot wires it: a store whose events enqueue their jobs, an engine with
// the shipped catalog and its own driver, and (per run) a jobs runner.
type node struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	engine *platform.Engine
	enq    *jobs.Enqueuer
	driver *platformtest.Driver
	logs   *logs
	log    *slog.Logger
}

func newNode(t testing.TB, pool *pgxpool.Pool, drv *platformtest.Driver) *node {
	t.Helper()
	cat, err := catalogload.Load(catalog.FS)
	if err != nil {
		t.Fatalf("load the shipped catalog: %v", err)
	}
	enq := jobstest.Enqueuer(t, pool, jobs.EnqueuerConfig{})
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: cat, Org: testOrg(), Sealer: platformtest.Sealer(t),
		Drivers: map[string]platform.Driver{"postgres": drv},
	})
	l := &logs{}
	return &node{pool: pool, store: store, engine: engine, enq: enq, driver: drv, logs: l,
		log: slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// run starts a jobs runner delivering platformName's threads through n,
// with settings that keep tests fast; stop (also called at cleanup) stops
// it and waits for it.
func (nd *node) run(t testing.TB, platformName string, n *thread.Notifier) (r *jobs.Runner, stop func()) {
	t.Helper()
	return nd.start(t, jobs.Config{
		Notifiers:         map[string]jobs.Notifier{platformName: n},
		DefaultTimeout:    10 * time.Second,
		RescueAfter:       20 * time.Second,
		RetryPolicy:       fixedRetry(20 * time.Millisecond),
		FetchPollInterval: 50 * time.Millisecond,
	})
}

// start starts a jobs runner of nd with cfg (its pool, engine, store,
// enqueuer, logger and schema filled in).
func (nd *node) start(t testing.TB, cfg jobs.Config) (r *jobs.Runner, stop func()) {
	t.Helper()
	cfg.Pool, cfg.Engine, cfg.Store, cfg.Enqueuer, cfg.Logger = nd.pool, nd.engine, nd.store, nd.enq, nd.log
	cfg.Schema = postgrestest.Schema(nd.pool)
	r, err := jobs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("jobs Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

// serve serves h until the test ends, then waits for wait (the adapter's
// background work).
func serve(t *testing.T, h http.Handler, wait func()) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		wait()
	})
	return srv
}

// post sends body with header to url and returns the status and body.
func post(t *testing.T, url string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// waitFor polls cond until it holds, failing t after timeout with what and
// cond's last account of the state.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
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
		time.Sleep(20 * time.Millisecond)
	}
}

// resource waits for the request called name to be recorded (an adapter
// may answer before its command is done) and returns it.
func (nd *node) resource(t *testing.T, name string) *platform.Resource {
	t.Helper()
	var r *platform.Resource
	waitFor(t, 30*time.Second, "request "+name+" to be recorded", func() (bool, string) {
		rs, err := nd.store.Resources(context.Background(), platform.ResourceFilter{Name: name})
		if err != nil || len(rs) != 1 {
			return false, fmt.Sprintf("%d requests, %v", len(rs), err)
		}
		r = rs[0]
		return true, ""
	})
	return r
}

// waitReady waits until every resource of rs is ready.
func (nd *node) waitReady(t *testing.T, rs ...*platform.Resource) {
	t.Helper()
	for _, r := range rs {
		waitFor(t, 30*time.Second, fmt.Sprintf("%s %s to be ready", r.Name, r.Ref()), func() (bool, string) {
			got, err := nd.store.Resource(context.Background(), r.ID)
			if err != nil {
				return false, err.Error()
			}
			return got.State == platform.Ready, string(got.State)
		})
	}
}

// checkThread waits until the thread of r on platformName, as messages
// reads it from the fake platform, holds every event, then checks it holds
// each once and in order: the events that show a line rendered by line,
// and at the secret's place the note that connection details went by
// direct message. It returns the thread saved for r.
func (nd *node) checkThread(t *testing.T, r *platform.Resource, platformName string,
	line func(*platform.Resource, platform.Event) (string, bool), note string, messages func(platform.Thread) []string) platform.Thread {
	t.Helper()
	ctx := context.Background()
	var (
		th        platform.Thread
		want, got []string
	)
	waitFor(t, 30*time.Second, fmt.Sprintf("the %s thread of %s %s", platformName, r.Name, r.Ref()), func() (bool, string) {
		cur, err := nd.store.Resource(ctx, r.ID)
		if err != nil {
			return false, err.Error()
		}
		evs, err := nd.store.Events(ctx, r.ID)
		if err != nil {
			return false, err.Error()
		}
		want = nil
		for _, ev := range evs {
			if ev.Kind == platform.EventSecret {
				want = append(want, note)
			} else if l, ok := line(cur, ev); ok {
				want = append(want, l)
			}
		}
		var found bool
		if th, found, err = nd.store.Thread(ctx, r.ID, platformName); err != nil || !found {
			return false, fmt.Sprintf("no thread saved (%v)", err)
		}
		got = messages(th)
		return cur.State == platform.Ready && len(got) >= len(want), fmt.Sprintf("state %s, thread:\n%s", cur.State, strings.Join(got, "\n"))
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s thread of %s mismatch (-want +got):\n%s", platformName, r.Name, diff)
	}
	return th
}

// provisions returns how many times d provisioned resource id.
func provisions(d *platformtest.Driver, id int64) int {
	n := 0
	for _, c := range d.Calls() {
		if c.Op == platformtest.OpProvision && c.ResourceID == id {
			n++
		}
	}
	return n
}

// password is what platformtest.DefaultResult gives r as its password.
func password(r *platform.Resource) string {
	return fmt.Sprintf("pw-%d-%s", r.ID, r.Name)
}

// holds reports whether s holds any of the passwords.
func holds(s string, passwords []string) bool {
	for _, p := range passwords {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
