package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/jobs/jobstest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

var _ jobs.Notifier = (*thread.Notifier)(nil)

// fixedRetry retries failed jobs after a short fixed delay, to keep tests
// fast.
type fixedRetry time.Duration

func (d fixedRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Duration(d)) }

// dbHarness is the adapter on a real PostgreSQL store and engine, with (or
// without) the River runner delivering its threads.
type dbHarness struct {
	*harness
	pool   *pgxpool.Pool
	store  *postgres.Store
	driver *platformtest.Driver
}

func newDBHarness(t *testing.T, withJobs bool) *dbHarness {
	t.Helper()
	pool := postgrestest.Pool(t)
	// As cmd/bot's setup: the store's events enqueue their jobs.
	var opts postgres.StoreOptions
	if withJobs {
		opts.OnEvent = jobstest.Enqueuer(t, pool, jobs.EnqueuerConfig{}).OnEvent
	}
	store := postgres.NewStore(pool, opts)
	sealer := platformtest.Sealer(t)
	driver := platformtest.NewDriver()
	driver.AttemptTimeout = 10 * time.Second
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: realCatalog(t), Org: testOrg(), Sealer: sealer,
		Drivers:  map[string]platform.Driver{"postgres": driver},
		Policies: []platform.Policy{productionHA{}},
	})
	h := newHarness(t, harnessConfig{engine: engine, threads: store})
	if withJobs {
		runner, err := jobs.New(jobs.Config{
			Pool: pool, Engine: engine, Store: store,
			Notifiers:         map[string]jobs.Notifier{Platform: h.notifier},
			Logger:            slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Schema:            postgrestest.Schema(pool),
			DefaultTimeout:    10 * time.Second,
			RescueAfter:       time.Minute,
			RetryPolicy:       fixedRetry(20 * time.Millisecond),
			FetchPollInterval: 50 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runner.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("jobs Run = %v", err)
			}
		})
	}
	return &dbHarness{harness: h, pool: pool, store: store, driver: driver}
}

// resources returns every resource in the database.
func (h *dbHarness) resources() []*platform.Resource {
	h.t.Helper()
	rs, err := h.store.Resources(context.Background(), platform.ResourceFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

// thread returns the saved thread of resource id.
func (h *dbHarness) thread(id int64) postgres.Thread {
	h.t.Helper()
	th, ok, err := h.store.Thread(context.Background(), id, Platform)
	if err != nil || !ok {
		h.t.Fatalf("thread of #%d: %v, found %v", id, err, ok)
	}
	return th
}

// expectedThread is what resource id's thread must hold once delivered:
// every event but the secret one, in order, and at the secret's place the
// note that connection details went by direct message.
func (h *dbHarness) expectedThread(id int64) []string {
	h.t.Helper()
	ctx := context.Background()
	r, err := h.store.Resource(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	evs, err := h.store.Events(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == platform.EventSecret {
			out = append(out, fmt.Sprintf("🔒 Connection details were sent to <@%s> by direct message.", alice.ID))
			continue
		}
		if line, ok := EventMessage(r, ev); ok {
			out = append(out, line)
		}
	}
	return out
}

func contents(ms []discordtest.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Content
	}
	return out
}

// waitThread waits until resource id is in state want and its thread holds
// every event, then returns the thread's messages.
func (h *dbHarness) waitThread(id int64, want platform.State) []discordtest.Message {
	h.t.Helper()
	var got []discordtest.Message
	h.fake.WaitFor(20*time.Second, fmt.Sprintf("#%d to be %s with its thread delivered", id, want), func() bool {
		r, err := h.store.Resource(context.Background(), id)
		if err != nil || r.State != want {
			return false
		}
		th, ok, err := h.store.Thread(context.Background(), id, Platform)
		if err != nil || !ok {
			return false
		}
		got = h.fake.Messages(th.ThreadRef)
		return len(got) >= len(h.expectedThread(id))
	})
	return got
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	h := newDBHarness(t, true)
	ctx := context.Background()

	// Invalid options: each field and reason, ephemerally, nothing recorded.
	bad := ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "Orders_DB"), discordtest.String("team", "payments"), discordtest.String("environment", "production"))...)))
	if !strings.Contains(bad, "**name**: must be lowercase letters") {
		t.Errorf("answer to an invalid name = %q", bad)
	}
	denied := ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"), discordtest.String("environment", "production"))...)))
	if !strings.Contains(denied, "denied by policy") || !strings.Contains(denied, "high\\_availability enabled") {
		t.Errorf("answer to a denied request = %q", denied)
	}
	if rs := h.resources(); len(rs) != 0 {
		t.Fatalf("invalid requests recorded %d resources", len(rs))
	}

	// A valid request: recorded, answered ephemerally, provisioned, told in
	// a thread under a root message, connection details by DM.
	in := h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"), discordtest.String("environment", "staging"),
		discordtest.String("size", "medium"))...)
	ok := ephemeralContent(t, h.send(in))
	if !strings.Contains(ok, "✅ Request #1 recorded: **orders-db**, postgresql-database for payments in staging") {
		t.Fatalf("answer = %q", ok)
	}
	rs := h.resources()
	if len(rs) != 1 || rs[0].IdempotencyKey != "discord:interaction:"+in.ID+":discord:"+alice.ID {
		t.Fatalf("resources = %+v, want one keyed by the interaction", rs)
	}
	id := rs[0].ID
	thread := h.waitThread(id, platform.Ready)
	if diff := cmp.Diff(h.expectedThread(id), contents(thread)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	th := h.thread(id)
	roots := h.fake.Messages(testChannel)
	if len(roots) != 1 || th.Channel != testChannel || th.RootRef != roots[0].ID || th.ThreadRef != roots[0].ID {
		t.Fatalf("root messages %+v, saved thread %+v: want one root whose thread is saved", roots, th)
	}
	// The root shows the request ready: edited to, or posted so when the
	// story's first delivery came after provisioning (the later job of
	// the resource delivers what the earlier ones would have).
	root := roots[0]
	if len(root.Embeds) != 1 || root.Embeds[0].Title != "✅ orders-db #1" || !contains(root.Embeds[0].Fields, "✅ Ready") {
		t.Errorf("root message = %+v (%d edits), want it showing ready", root.Embeds, root.Edits)
	}
	if c, _ := h.fake.Channel(th.ThreadRef); c.ParentID != testChannel || c.Name != "orders-db #1 · postgresql-database" {
		t.Errorf("thread channel = %+v", c)
	}
	password := fmt.Sprintf("pw-%d-orders-db", id)
	dm, found := h.fake.DM(alice.ID)
	if !found {
		t.Fatal("no direct message channel with alice was opened")
	}
	dms := h.fake.Messages(dm)
	if len(dms) != 1 || !strings.Contains(dms[0].Content, "password="+password) || !strings.Contains(dms[0].Content, "postgres://") {
		t.Errorf("direct messages = %q, want the connection details", contents(dms))
	}
	for _, ch := range []string{testChannel, th.ThreadRef} {
		for _, m := range h.fake.Messages(ch) {
			if contains(m, password) {
				t.Errorf("message %s in channel %s shows the password", m.ID, ch)
			}
		}
	}
	if strings.Contains(h.logs.String(), password) {
		t.Error("the password is in the logs")
	}

	// Discord redelivers the interaction: the same request, not a second.
	again := ephemeralContent(t, h.send(discordtest.Interaction{ID: in.ID, Token: in.Token, Body: in.Body}))
	if !strings.Contains(again, "Request #1 recorded") {
		t.Errorf("answer to the redelivery = %q", again)
	}
	if rs := h.resources(); len(rs) != 1 {
		t.Errorf("after a redelivery there are %d resources, want 1", len(rs))
	}

	// Delete, confirmed with the button.
	confirm := h.send(h.fake.Command(alice, testChannel, discordtest.Sub("delete", discordtest.String("name", "orders-db"))))
	var rows []struct {
		Components []struct {
			CustomID string `json:"custom_id"`
		} `json:"components"`
	}
	if err := json.Unmarshal(confirm.Data.Components, &rows); err != nil || len(rows) != 1 || len(rows[0].Components) != 2 {
		t.Fatalf("confirmation components = %s", confirm.Data.Components)
	}
	if got := rows[0].Components[0].CustomID; got != "idp:delete:#1" {
		t.Errorf("Delete button custom_id = %q, want the resource's ref", got)
	}
	if r, _ := h.store.Resource(ctx, id); r.State != platform.Ready {
		t.Fatalf("state after asking to confirm = %s, want ready", r.State)
	}
	done := h.send(h.fake.Click(alice, testChannel, rows[0].Components[0].CustomID))
	if done.Type != 7 || !strings.Contains(done.Data.Content, "Deleting **orders-db** #1") {
		t.Errorf("answer to the confirmation = %+v", done.Data)
	}
	thread = h.waitThread(id, platform.Deleted)
	if diff := cmp.Diff(h.expectedThread(id), contents(thread)); diff != "" {
		t.Errorf("thread after deletion mismatch (-want +got):\n%s", diff)
	}
	if root, _ := h.fake.Message(th.RootRef); root.Embeds[0].Title != "⚪ orders-db #1" {
		t.Errorf("root after deletion = %q, want deleted", root.Embeds[0].Title)
	}
	if n := h.driver.Count(platformtest.OpDeprovision); n != 1 {
		t.Errorf("deprovisioned %d times, want 1", n)
	}
}

func TestRateLimitsAndLostResponsesDelayButLoseNothing(t *testing.T) {
	t.Parallel()
	h := newDBHarness(t, true)
	// Thread messages: two 429s, then a message whose response is lost
	// after Discord created it.
	h.fake.Inject(discordtest.Fault{Route: "POST /channels/{channel_id}/messages", InThread: true, Times: 2,
		Status: http.StatusTooManyRequests, RetryAfter: 50 * time.Millisecond})
	h.fake.Inject(discordtest.Fault{Route: "POST /channels/{channel_id}/messages", InThread: true, Times: 1, Status: http.StatusInternalServerError, Lost: true})

	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	id := h.resources()[0].ID
	thread := h.waitThread(id, platform.Ready)
	if diff := cmp.Diff(h.expectedThread(id), contents(thread)); diff != "" {
		t.Errorf("thread mismatch (-want +got), want every event once, in order:\n%s", diff)
	}
	// A 429 delays the calls of its bucket (the thread's channel), and only
	// those: the direct message and the root's channel go on.
	var limited, lost int
	limitedAt := map[string]time.Time{}
	for _, c := range h.fake.Calls() {
		ch := c.Params["channel_id"]
		if at, ok := limitedAt[ch]; ok && c.Route == "POST /channels/{channel_id}/messages" {
			if gap := c.At.Sub(at); gap < 50*time.Millisecond {
				t.Errorf("a thread message was retried %v after a 429 asking to wait 50ms", gap)
			}
			delete(limitedAt, ch)
		}
		switch c.Status {
		case http.StatusTooManyRequests:
			limited++
			limitedAt[ch] = c.At
		case http.StatusInternalServerError:
			lost++
		}
	}
	if limited != 2 || lost != 1 {
		t.Errorf("fake answered %d 429s and %d lost responses, want 2 and 1", limited, lost)
	}
	if dm, _ := h.fake.DM(alice.ID); len(h.fake.Messages(dm)) != 1 {
		t.Errorf("%d direct messages, want 1", len(h.fake.Messages(dm)))
	}
	if root := h.fake.Messages(testChannel); len(root) != 1 || root[0].Embeds[0].Title != "✅ orders-db #1" {
		t.Errorf("root messages = %d, want 1 edited to ready", len(root))
	}
	if !strings.Contains(h.logs.String(), "rate limited") {
		t.Error("the delivery job did not see a rate limit error")
	}
}

func TestSignatureChecksComeFirst(t *testing.T) {
	t.Parallel()
	h := newDBHarness(t, false)
	other := discordtest.NewKey(t)
	in := h.fake.Command(alice, testChannel, create("postgresql-database", discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)
	now := time.Now()
	signed := h.key.Sign(now, in.Body)
	without := func(name string) http.Header {
		hd := signed.Clone()
		hd.Del(name)
		return hd
	}
	huge := append(append([]byte(nil), in.Body[:len(in.Body)-1]...), []byte(`,"padding":"`+strings.Repeat("x", MaxInteractionBody)+`"}`)...)
	for _, tc := range []struct {
		name   string
		body   []byte
		header http.Header
		want   int
	}{
		{"signed by another key", in.Body, other.Sign(now, in.Body), http.StatusUnauthorized},
		{"no signature", in.Body, without("X-Signature-Ed25519"), http.StatusUnauthorized},
		{"no timestamp", in.Body, without("X-Signature-Timestamp"), http.StatusUnauthorized},
		{"malformed signature", in.Body, func() http.Header { hd := signed.Clone(); hd.Set("X-Signature-Ed25519", "zz"); return hd }(), http.StatusUnauthorized},
		{"body changed", []byte(strings.Replace(string(in.Body), "orders-db", "evil-db", 1)), signed, http.StatusUnauthorized},
		{"timestamp changed", in.Body, func() http.Header {
			hd := signed.Clone()
			hd.Set("X-Signature-Timestamp", fmt.Sprint(now.Unix()+1))
			return hd
		}(), http.StatusUnauthorized},
		{"stale", in.Body, h.key.Sign(now.Add(-MaxRequestAge-time.Minute), in.Body), http.StatusUnauthorized},
		{"from the future", in.Body, h.key.Sign(now.Add(MaxRequestAge+time.Minute), in.Body), http.StatusUnauthorized},
		{"oversize", huge, h.key.Sign(now, huge), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := h.postRaw(tc.body, tc.header); status != tc.want {
				t.Errorf("status %d (%s), want %d", status, body, tc.want)
			}
		})
	}
	if rs := h.resources(); len(rs) != 0 {
		t.Errorf("rejected requests recorded %d resources", len(rs))
	}
	if calls := h.fake.Calls(); len(calls) != 0 {
		t.Errorf("rejected requests made %d Discord calls", len(calls))
	}
	// The same request, properly signed, is served: the checks above
	// would have let it through had they been broken.
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "Request #1 recorded") {
		t.Errorf("signed request answered %q", got)
	}
	if rs := h.resources(); len(rs) != 1 {
		t.Errorf("signed request recorded %d resources, want 1", len(rs))
	}
}

func TestPingPong(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	in := h.fake.Ping()
	status, body := h.postRaw(in.Body, h.key.Sign(time.Now(), in.Body))
	if status != http.StatusOK || strings.TrimSpace(string(body)) != `{"type":1}` {
		t.Errorf("PING answered %d %s, want 200 {\"type\":1}", status, body)
	}
	if status, _ := h.postRaw(in.Body, discordtest.NewKey(t).Sign(time.Now(), in.Body)); status != http.StatusUnauthorized {
		t.Errorf("PING with a bad signature answered %d, want 401", status)
	}
}
