package jobs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// step is an event reduced to what the thread shows.
type step struct {
	Kind     platform.EventKind
	From, To platform.State
	Message  string
}

func steps(evs []platform.Event) []step {
	out := make([]step, len(evs))
	for i, ev := range evs {
		out[i] = step{ev.Kind, ev.From, ev.To, ev.Message}
	}
	return out
}

var provisionedSteps = []step{
	{platform.EventTransition, "", platform.Pending, "requested by Alice"},
	{platform.EventTransition, platform.Pending, platform.Provisioning, "provisioning started"},
	{platform.EventStep, "", "", "creating database"},
	{platform.EventTransition, platform.Provisioning, platform.Ready, "ready"},
	{platform.EventSecret, "", "", ""},
}

func TestProvisionToReady(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.start(t)
	sub := h.submit(t, "orders-db")

	r, evs := h.waitSettled(t, sub.ID, platform.Ready)
	if diff := cmp.Diff(provisionedSteps, steps(evs)); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(expectedThread(r, evs), h.notifier.recorded(r.ID)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if r.Outputs["host"] != "db.test" || r.ReadyAt.IsZero() {
		t.Errorf("ready resource outputs %v, ready at %v; want host db.test and a time", r.Outputs, r.ReadyAt)
	}
	// The delivered secret no longer waits in the database (erased when
	// the delivery commits, just after the notifier returned).
	waitFor(t, 5*time.Second, "the delivered secret to be erased", func() (bool, string) {
		evs, err := h.store.Events(context.Background(), r.ID)
		if err != nil {
			return false, err.Error()
		}
		last := evs[len(evs)-1]
		return last.Kind == platform.EventSecret && last.Sealed == nil, fmt.Sprintf("%+v", last)
	})
	if calls, creations := h.driver.counts(); calls != 1 || creations != 1 {
		t.Errorf("driver calls, creations = %d, %d; want 1, 1", calls, creations)
	}
}

func TestNotifierOutageDelaysButDeliversOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.notifier.failures = 4
	h.start(t)
	sub := h.submit(t, "orders-db")

	r, evs := h.waitSettled(t, sub.ID, platform.Ready)
	if diff := cmp.Diff(expectedThread(r, evs), h.notifier.recorded(r.ID)); diff != "" {
		t.Errorf("thread after an outage mismatch (-want +got):\n%s", diff)
	}
	if h.notifier.failed != 4 {
		t.Errorf("notifier failed %d times, want 4", h.notifier.failed)
	}
}

// rateWaits records what the notify worker reports of rate limits.
type rateWaits struct {
	mu    sync.Mutex
	waits map[string]time.Duration
}

func (r *rateWaits) Job(string, string, time.Duration) {}
func (r *rateWaits) RateLimited(platform string, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits[platform] += wait
}

func TestRateLimitDelaysDeliveryByRetryAfter(t *testing.T) {
	t.Parallel()
	waits := &rateWaits{waits: map[string]time.Duration{}}
	h := newHarness(t, func(c *Config) { c.Metrics = waits })
	h.notifier.limited, h.notifier.limitedCalls = 1500*time.Millisecond, 1
	h.start(t)
	sub := h.submit(t, "orders-db")

	r, evs := h.waitSettled(t, sub.ID, platform.Ready)
	waitFor(t, 10*time.Second, "the whole thread to be delivered", func() (bool, string) {
		got := h.notifier.recorded(r.ID)
		return len(got) == len(expectedThread(r, evs)), strings.Join(got, "\n")
	})
	if diff := cmp.Diff(expectedThread(r, evs), h.notifier.recorded(r.ID)); diff != "" {
		t.Errorf("thread after a rate limit mismatch (-want +got):\n%s", diff)
	}
	h.notifier.mu.Lock()
	limitedAt, firstDelivered := h.notifier.limitedAt[0], h.notifier.at[0]
	h.notifier.mu.Unlock()
	if d := firstDelivered.Sub(limitedAt); d < 1500*time.Millisecond {
		t.Errorf("first message delivered %v after the 429, want at least its Retry-After of 1.5s", d)
	}
	waits.mu.Lock()
	defer waits.mu.Unlock()
	if w := waits.waits["console"]; w < 1500*time.Millisecond {
		t.Errorf("rate-limit waits recorded = %v, want at least the 1.5s asked", waits.waits)
	}
}

func TestPermanentDriverErrorFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.driver.fail = func(int) error {
		return platform.Errorf(platform.Invalid, "size large is not offered on this server")
	}
	h.start(t)
	sub := h.submit(t, "orders-db")

	r, evs := h.waitSettled(t, sub.ID, platform.Failed)
	if r.Reason != "size large is not offered on this server" {
		t.Errorf("Reason = %q, want the driver's message", r.Reason)
	}
	if last := evs[len(evs)-1]; last.To != platform.Failed || last.Message != r.Reason {
		t.Errorf("last event = %+v, want the failure with its reason", last)
	}
	if calls, _ := h.driver.counts(); calls != 1 {
		t.Errorf("driver called %d times, want 1: a permanent error is not retried", calls)
	}
}

// observed counts job runs by kind and outcome.
type observed struct {
	mu   sync.Mutex
	runs map[string]int
}

func (o *observed) Job(kind, outcome string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.runs == nil {
		o.runs = map[string]int{}
	}
	o.runs[kind+" "+outcome]++
}

func (o *observed) count(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runs[key]
}

func TestTransientDriverErrorRetriesThenFails(t *testing.T) {
	t.Parallel()
	obs := &observed{}
	h := newHarness(t, func(c *Config) { c.Metrics = obs })
	h.driver.fail = func(int) error {
		return fmt.Errorf("dial target: %w", platform.Errorf(platform.Unavailable, "the database server is not answering"))
	}
	h.start(t)
	sub := h.submit(t, "orders-db")

	r, _ := h.waitSettled(t, sub.ID, platform.Failed)
	want := fmt.Sprintf("provisioning failed after %d attempts: the database server is not answering", ProvisionMaxAttempts)
	if r.Reason != want {
		t.Errorf("Reason = %q, want %q", r.Reason, want)
	}
	if calls, creations := h.driver.counts(); calls != ProvisionMaxAttempts || creations != 0 {
		t.Errorf("driver calls, creations = %d, %d; want %d, 0", calls, creations, ProvisionMaxAttempts)
	}
	waitFor(t, 5*time.Second, "the last provision run to be observed", func() (bool, string) {
		return obs.count("provision failed") == 1, fmt.Sprint(obs.runs)
	})
	if got := obs.count("provision retried"); got != ProvisionMaxAttempts-1 {
		t.Errorf("observed %d retried provision runs, want %d", got, ProvisionMaxAttempts-1)
	}
	if obs.count("notify completed") == 0 {
		t.Error("no completed notify run observed")
	}
}

func TestTransientDriverErrorRecovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.driver.fail = func(n int) error {
		if n <= 2 {
			return errors.New("connection reset by peer")
		}
		return nil
	}
	h.start(t)
	sub := h.submit(t, "orders-db")

	_, evs := h.waitSettled(t, sub.ID, platform.Ready)
	// Each retry resumes the resource already provisioning.
	resumed := 0
	for _, ev := range evs {
		if ev.Message == "resuming provisioning" {
			resumed++
		}
	}
	if calls, creations := h.driver.counts(); calls != 3 || creations != 1 || resumed != 2 {
		t.Errorf("driver calls, creations, resumptions = %d, %d, %d; want 3, 1, 2", calls, creations, resumed)
	}
}

func TestDeleteDeprovisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	h.start(t)
	sub := h.submit(t, "orders-db")
	h.waitSettled(t, sub.ID, platform.Ready)

	if _, err := h.engine.Delete(ctx, alice, "orders-db"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	r, evs := h.waitSettled(t, sub.ID, platform.Deleted)
	if got := steps(evs[len(evs)-2:]); !cmp.Equal(got, []step{
		{platform.EventTransition, platform.Ready, platform.Deleting, "deletion requested by Alice"},
		{platform.EventTransition, platform.Deleting, platform.Deleted, "deleted"},
	}) {
		t.Errorf("last events = %+v", got)
	}
	if diff := cmp.Diff(expectedThread(r, evs), h.notifier.recorded(r.ID)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	h.driver.mu.Lock()
	defer h.driver.mu.Unlock()
	if h.driver.deprovisioned[r.ID] != 1 {
		t.Errorf("deprovisioned %d times, want 1", h.driver.deprovisioned[r.ID])
	}
}

// TestEnqueue checks which jobs each event enqueues, in the event's own
// transaction, without working them.
func TestEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	s := h.store

	type job struct{ Kind, Queue, Args string }
	jobsSince := func(after int64) ([]job, int64) {
		rows, err := h.pool.Query(ctx, `SELECT id, kind, queue, args::text FROM river_job WHERE id > $1 ORDER BY id`, after)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []job
		last := after
		for rows.Next() {
			var j job
			if err := rows.Scan(&last, &j.Kind, &j.Queue, &j.Args); err != nil {
				t.Fatal(err)
			}
			out = append(out, j)
		}
		return out, last
	}
	var last int64
	expect := func(what string, want []job) {
		t.Helper()
		var got []job
		got, last = jobsSince(last)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: jobs mismatch (-want +got):\n%s", what, diff)
		}
	}
	notify := func(id, ev int64) job {
		return job{"notify", "notify_console", fmt.Sprintf(`{"event_id": %d, "platform": "console", "resource_id": %d}`, ev, id)}
	}

	lastEvent := func(id int64) int64 {
		evs, err := s.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return evs[len(evs)-1].ID
	}

	r := &platform.Resource{Service: "test-db", Name: "a", Team: "payments", Environment: "staging", State: platform.Pending,
		Requester: alice, Origin: platform.Origin{Platform: "console"}}
	if err := s.CreateResource(ctx, r, platform.Event{Actor: alice, To: platform.Pending}, nil); err != nil {
		t.Fatal(err)
	}
	expect("new request", []job{{"provision", "default", fmt.Sprintf(`{"resource_id": %d}`, r.ID)}, notify(r.ID, lastEvent(r.ID))})

	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventStep, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	expect("step", []job{notify(r.ID, lastEvent(r.ID))})
	// Connection details are handed over by a job of their own, in a
	// queue of its own beside the deliveries waiting their turn; the
	// thread's delivery tells them.
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventSecret, Sealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	expect("secret", []job{{"handover", "handover_console", fmt.Sprintf(`{"event_id": %d, "platform": "console", "resource_id": %d}`, lastEvent(r.ID), r.ID)},
		notify(r.ID, lastEvent(r.ID))})

	for _, to := range []platform.State{platform.Provisioning, platform.Ready} {
		if _, err := s.Transition(ctx, r.ID, to, platform.Event{Actor: platform.System}, nil); err != nil {
			t.Fatal(err)
		}
		expect(string(to), []job{notify(r.ID, lastEvent(r.ID))})
	}
	if _, err := s.Transition(ctx, r.ID, platform.Deleting, platform.Event{Actor: alice}, nil); err != nil {
		t.Fatal(err)
	}
	expect("deleting", []job{{"deprovision", "default", fmt.Sprintf(`{"resource_id": %d}`, r.ID)}, notify(r.ID, lastEvent(r.ID))})
	// Each delivery job replaced those of the request still waiting to
	// run: one is left, for the last event.
	rows, err := h.pool.Query(ctx, `SELECT args::text FROM river_job WHERE kind = 'notify' AND (args->>'resource_id')::bigint = $1`, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{notify(r.ID, lastEvent(r.ID)).Args}; !cmp.Equal(waiting, want) {
		t.Errorf("delivery jobs left = %q, want only %q", waiting, want)
	}

	// A request needing approval is provisioned once approved.
	a := &platform.Resource{Service: "test-db", Name: "b", Team: "payments", Environment: "staging", State: platform.AwaitingApproval,
		Requester: alice, Origin: platform.Origin{Platform: "console"}}
	if err := s.CreateResource(ctx, a, platform.Event{Actor: alice, To: platform.AwaitingApproval}, nil); err != nil {
		t.Fatal(err)
	}
	expect("awaiting approval", []job{notify(a.ID, lastEvent(a.ID))})
	if _, err := s.Transition(ctx, a.ID, platform.Provisioning, platform.Event{Actor: alice, Message: "approved"}, nil); err != nil {
		t.Fatal(err)
	}
	expect("approved", []job{{"provision", "default", fmt.Sprintf(`{"resource_id": %d}`, a.ID)}, notify(a.ID, lastEvent(a.ID))})

	// A platform without a notifier in this process still gets its
	// notification jobs, in its own queue, for the processes that serve
	// it; a request refused by its check enqueues nothing.
	sl := &platform.Resource{Service: "test-db", Name: "c", Team: "payments", Environment: "staging", State: platform.Pending,
		Requester: alice, Origin: platform.Origin{Platform: "slack", Channel: "C1"}}
	if err := s.CreateResource(ctx, sl, platform.Event{Actor: alice, To: platform.Pending}, nil); err != nil {
		t.Fatal(err)
	}
	expect("slack request", []job{{"provision", "default", fmt.Sprintf(`{"resource_id": %d}`, sl.ID)},
		{"notify", "notify_slack", fmt.Sprintf(`{"event_id": %d, "platform": "slack", "resource_id": %d}`, lastEvent(sl.ID), sl.ID)}})
	refused := &platform.Resource{Service: "test-db", Name: "d", Team: "payments", Environment: "staging", State: platform.Pending,
		Requester: alice, Origin: platform.Origin{Platform: "console"}}
	errQuota := errors.New("over quota")
	if err := s.CreateResource(ctx, refused, platform.Event{Actor: alice, To: platform.Pending}, func(int) error { return errQuota }); !errors.Is(err, errQuota) {
		t.Fatalf("CreateResource over quota = %v", err)
	}
	expect("refused request", nil)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New(Config{}) succeeded, want an error for the missing pool, engine and store")
	}
	h := newHarness(t, nil)
	_, err := New(Config{Pool: h.pool, Engine: h.engine, Store: h.store, DefaultTimeout: time.Minute, RescueAfter: time.Second})
	if err == nil {
		t.Error("New with RescueAfter < DefaultTimeout succeeded")
	}
	// An unset DefaultTimeout follows a short RescueAfter.
	if _, err := New(Config{Pool: h.pool, Engine: h.engine, Store: h.store, RescueAfter: 30 * time.Second}); err != nil {
		t.Errorf("New with only a short RescueAfter = %v", err)
	}
}

func TestReconcileReenqueuesAnOrphanedRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	sub := h.submit(t, "orphan-db")
	// The request loses its job (as when River's rescuer discards a job on
	// its last attempt) and has not changed for an hour.
	ctx := context.Background()
	tag, err := h.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'provision'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("delete the provision job: %v (%d rows)", err, tag.RowsAffected())
	}
	if _, err := h.pool.Exec(ctx, `UPDATE resources SET updated_at = now() - interval '1 hour' WHERE id = $1`, sub.ID); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	h.waitSettled(t, sub.ID, platform.Ready)
	if calls, creations := h.driver.counts(); calls != 1 || creations != 1 {
		t.Errorf("driver calls, creations = %d, %d; want 1, 1", calls, creations)
	}
}

func TestReconcileLeavesRequestsWithAJobAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	sub := h.submit(t, "busy-db")
	ctx := context.Background()
	if _, err := h.pool.Exec(ctx, `UPDATE resources SET updated_at = now() - interval '1 hour' WHERE id = $1`, sub.ID); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	h.waitSettled(t, sub.ID, platform.Ready)
	var n int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'provision'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("provision jobs = %d, want 1 (no duplicate for a request that had its job)", n)
	}
}

func TestDeferredPrivateWaitsWithoutHoldingOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.notifier.deferPrivate = 2
	h.start(t)
	first := h.submit(t, "first-db")
	r1, evs1 := h.waitSettled(t, first.ID, platform.Ready)
	// A second request's thread goes on while the first one's details wait.
	second := h.submit(t, "second-db")
	r2, evs2 := h.waitSettled(t, second.ID, platform.Ready)
	for _, c := range []struct {
		r   *platform.Resource
		evs []platform.Event
	}{{r2, evs2}, {r1, evs1}} {
		want := expectedThread(c.r, c.evs)
		waitFor(t, 15*time.Second, "the whole thread", func() (bool, string) {
			got := h.notifier.recorded(c.r.ID)
			return len(got) == len(want), strings.Join(got, "\n")
		})
		if diff := cmp.Diff(want, h.notifier.recorded(c.r.ID)); diff != "" {
			t.Errorf("thread of #%d mismatch (-want +got):\n%s", c.r.ID, diff)
		}
	}
}

// TestPerPersonQueues: on a platform delivered per person (the console),
// a request's deliveries wait in its requester's own queue, which only
// their process works, so one person's console never takes another's.
func TestPerPersonQueues(t *testing.T) {
	t.Parallel()
	for audience, want := range map[string]string{
		"":              "notify_console",
		"alice":         "notify_console_alice_2bd806c9",
		"Dr. O'Neil.Jr": "notify_console_droneiljr_",
		"émilie":        "notify_console_milie_",
		"---":           "notify_console_",
	} {
		got := NotifyQueue("console", audience)
		if !strings.HasPrefix(got, want) || len(got) > 64 || !regexp.MustCompile(`^[a-z0-9]+(?:_[a-z0-9]+)*$`).MatchString(got) {
			t.Errorf("NotifyQueue(console, %q) = %q, want a valid River queue name starting %q", audience, got, want)
		}
	}
	if NotifyQueue("console", "alice") == NotifyQueue("console", "Alice") {
		t.Error("two people share a queue")
	}
	if got, want := HandOverQueue("console", "alice"), "handover_console_alice_2bd806c9"; got != want {
		t.Errorf("HandOverQueue(console, alice) = %q, want %q", got, want)
	}

	ctx := context.Background()
	pool := postgrestest.Pool(t)
	enq, err := NewEnqueuer(EnqueuerConfig{Pool: pool, Schema: postgrestest.Schema(pool), PerPerson: []string{"console"}})
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	queues := func(id int64) []string {
		rows, err := pool.Query(ctx, `SELECT queue FROM river_job WHERE kind = 'notify' AND (args->>'resource_id')::bigint = $1`, id)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return qs
	}
	for _, origin := range []platform.Origin{{Platform: "console"}, {Platform: "slack", Channel: "C1"}} {
		r := &platform.Resource{Service: "test-db", Name: "q-" + origin.Platform, Team: "payments", Environment: "staging", State: platform.Pending,
			Requester: platform.Actor{ID: origin.Platform + ":alice", Name: "alice"}, Origin: origin}
		if err := s.CreateResource(ctx, r, platform.Event{Actor: r.Requester, To: platform.Pending}, nil); err != nil {
			t.Fatal(err)
		}
		want := NotifyQueue(origin.Platform, "")
		if origin.Platform == "console" {
			want = NotifyQueue("console", "alice")
		}
		if got := queues(r.ID); !cmp.Equal(got, []string{want}) {
			t.Errorf("%s request's deliveries in %q, want %q", origin.Platform, got, want)
		}
	}
}
