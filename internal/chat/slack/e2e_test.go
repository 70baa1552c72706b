package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/jobs/jobstest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
	"github.com/idpbot/idpbot/internal/tracing"
)

// stack is the bot as deployed, minus the process: a real PostgreSQL store,
// engine and River jobs runner with the Slack adapter as the "slack"
// notifier, a test driver, and the adapter's HTTP handler in front of a
// fake Slack.
type stack struct {
	*harness
	pool   *pgxpool.Pool
	store  *postgres.Store
	driver *platformtest.Driver
}

// fixedRetry retries a failed job after a short delay, to keep tests fast.
type fixedRetry time.Duration

func (d fixedRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Duration(d)) }

func newStack(t testing.TB, withJobs bool) *stack {
	t.Helper()
	pool := postgrestest.Pool(t)
	// As cmd/bot's setup: the store's events enqueue their jobs.
	var opts postgres.StoreOptions
	if withJobs {
		opts.OnEvent = jobstest.Enqueuer(t, pool, jobs.EnqueuerConfig{}).OnEvent
	}
	store := postgres.NewStore(pool, opts)
	sealer := platformtest.Sealer(t)
	drv := platformtest.NewDriver()
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: realCatalog(t), Org: testOrg(), Drivers: map[string]platform.Driver{"postgres": drv},
		Policies: []platform.Policy{productionHA{}}, Sealer: sealer, Tracer: tracing.Engine{},
	})
	h := newHarness(t, harnessConfig{engine: engine, threads: store})
	s := &stack{harness: h, pool: pool, store: store, driver: drv}
	if !withJobs {
		return s
	}
	r, err := jobs.New(jobs.Config{
		Pool: pool, Engine: engine, Store: store, Notifiers: map[string]jobs.Notifier{Platform: h.notifier},
		Logger: testLogger(&bytes.Buffer{}), Schema: postgrestest.Schema(pool),
		RetryPolicy: fixedRetry(50 * time.Millisecond), FetchPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := r.Run(ctx); err != nil {
			t.Errorf("jobs runner: %v", err)
		}
	}()
	// Registered after the harness's cleanup, so it runs first: the jobs
	// stop before the fake Slack and the database go away.
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return s
}

func (s *stack) count(table string) int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *stack) resource(name string) *platform.Resource {
	s.t.Helper()
	rs, err := s.store.Resources(context.Background(), platform.ResourceFilter{Name: name})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(rs) != 1 {
		s.t.Fatalf("%d resources called %s, want 1", len(rs), name)
	}
	return rs[0]
}

// TestSignatureRejections sends requests that would create a resource if
// they were accepted, and checks that none is: not a row in the database,
// not a call to Slack.
func TestSignatureRejections(t *testing.T) {
	t.Parallel()
	s := newStack(t, false)
	command := s.fake.SlashCommand(alice, testChannel, "create postgresql-database name=forged team=payments")
	body := []byte(command.Encode())
	now := time.Now()
	huge := url.Values{"text": {strings.Repeat("x", MaxCommandBody)}}
	hugeBody := []byte(huge.Encode())
	hugeInteraction := []byte(url.Values{"payload": {strings.Repeat("x", MaxInteractionBody)}}.Encode())
	without := func(h http.Header, key string) http.Header { h.Del(key); return h }
	for _, tc := range []struct {
		name   string
		path   string
		body   []byte
		header http.Header
		want   int
	}{
		{"forged", "/slack/commands", body, slackfake.Sign("not-the-secret", now, body), http.StatusUnauthorized},
		{"tampered", "/slack/commands", bytes.Replace(body, []byte("forged"), []byte("forgex"), 1), slackfake.Sign(testSecret, now, body), http.StatusUnauthorized},
		{"stale", "/slack/commands", body, slackfake.Sign(testSecret, now.Add(-6*time.Minute), body), http.StatusUnauthorized},
		{"future", "/slack/commands", body, slackfake.Sign(testSecret, now.Add(6*time.Minute), body), http.StatusUnauthorized},
		{"unsigned", "/slack/commands", body, without(slackfake.Sign(testSecret, now, body), "X-Slack-Signature"), http.StatusUnauthorized},
		{"no timestamp", "/slack/commands", body, without(slackfake.Sign(testSecret, now, body), "X-Slack-Request-Timestamp"), http.StatusUnauthorized},
		{"oversize command", "/slack/commands", hugeBody, slackfake.Sign(testSecret, now, hugeBody), http.StatusRequestEntityTooLarge},
		{"oversize interaction", "/slack/interactions", hugeInteraction, slackfake.Sign(testSecret, now, hugeInteraction), http.StatusRequestEntityTooLarge},
		{"forged interaction", "/slack/interactions", body, slackfake.Sign("not-the-secret", now, body), http.StatusUnauthorized},
	} {
		if status, _ := s.postRaw(tc.path, tc.body, tc.header); status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
	}
	if n, e := s.count("resources"), s.count("events"); n != 0 || e != 0 {
		t.Errorf("%d resources and %d events after rejected requests, want none", n, e)
	}
	if calls := s.fake.Calls(); len(calls) != 0 {
		t.Errorf("rejected requests called Slack: %+v", calls)
	}
	if responses := s.fake.Responses(); len(responses) != 0 {
		t.Errorf("rejected requests answered through response_url: %+v", responses)
	}
	// The same request, signed: it creates the resource, so the checks above
	// could fail.
	if status, ack := s.postRaw("/slack/commands", body, slackfake.Sign(testSecret, time.Now(), body)); status != http.StatusOK || !strings.Contains(string(ack), "Requested forged") {
		t.Fatalf("signed request: %d %s", status, ack)
	}
	if n := s.count("resources"); n != 1 {
		t.Errorf("%d resources after the signed request, want 1", n)
	}
}

// TestEndToEnd drives the bot as a person in Slack would, through a real
// database and job runner, with a rate limit on the way.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, true)

	if status, body := s.slash(alice, "create postgresql-database"); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("slash command: %d %q", status, body)
	}
	form := s.lastView()
	if cb, md := viewMeta(t, form); cb != CallbackCreate || md.Service != "postgresql-database" {
		t.Fatalf("views.open %s %+v", cb, md)
	}
	for _, id := range []string{"name", "team", "environment", "size", "high_availability", "backup_retention_days"} {
		if !slackfake.InputBlockIDs(form.JSON)[id] {
			t.Errorf("the modal has no input block %q", id)
		}
	}

	ack := s.submit(form, alice, map[string]string{"name": "Orders_DB", "team": "payments", "backup_retention_days": "0"})
	errs, _ := ack["errors"].(map[string]any)
	if ack["response_action"] != "errors" || errs["name"] == nil || errs["backup_retention_days"] == nil {
		t.Fatalf("invalid submission: %v, want errors on name and backup_retention_days", ack)
	}
	if n := s.count("resources"); n != 0 {
		t.Fatalf("%d resources after an invalid submission", n)
	}

	// Slack answers the first post with a 429: delivery waits, then
	// continues in order with nothing lost or repeated (what piled up
	// while the story waited may share a reply).
	s.fake.Fail("chat.postMessage", 1, http.StatusTooManyRequests, time.Second)
	answers := map[string]string{"name": "orders-db", "team": "payments", "size": "medium"}
	if ack := s.submit(form, alice, answers); ack["response_action"] != "clear" {
		t.Fatalf("valid submission: %v", ack)
	}
	if ack := s.submit(form, alice, answers); ack["response_action"] != "clear" {
		t.Fatalf("retried submission: %v", ack)
	}
	if n := s.count("resources"); n != 1 {
		t.Fatalf("%d resources after a submission and its retry, want 1", n)
	}

	slackfake.Eventually(t, 20*time.Second, "the connection details by direct message, and the thread's last line", func() bool {
		msgs := s.fake.Messages(testChannel)
		return len(s.fake.Messages("DU0ALICE")) == 1 && len(msgs) > 1 && strings.Contains(msgs[len(msgs)-1].Text, "Connection details were sent")
	})
	r := s.resource("orders-db")
	if r.State != platform.Ready || r.Origin != (platform.Origin{Platform: Platform, Channel: testChannel}) {
		t.Errorf("resource %+v", r)
	}
	msgs := s.fake.Messages(testChannel)
	root := msgs[0]
	th, ok, err := s.store.Thread(context.Background(), r.ID, Platform)
	if err != nil || !ok || th != (postgres.Thread{Channel: testChannel, ThreadRef: root.TS, RootRef: root.TS}) {
		t.Errorf("saved thread %+v %v %v, want the root %s", th, ok, err, root.TS)
	}
	want := []string{
		":hourglass_flowing_sand: *Pending* — requested by alice",
		":gear: *Provisioning* — provisioning started",
		":small_blue_diamond: creating role payments_development_orders_db",
		":small_blue_diamond: creating database payments_development_orders_db",
		":white_check_mark: *Ready*",
		":lock: Connection details were sent to <@U0ALICE> by direct message.",
	}
	if got := strings.Join(texts(s.fake.Replies(testChannel, root.TS)), "\n"); !linesInOrder(got, want) {
		t.Errorf("thread:\n%s\nwant every line once, in order:\n%s", got, strings.Join(want, "\n"))
	}
	if !strings.Contains(string(root.Blocks), ":white_check_mark: Ready") {
		t.Errorf("root after %d updates: %s", root.Updates, root.Blocks)
	}
	limited := 0
	for _, c := range s.fake.Calls("chat.postMessage") {
		if c.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 1 {
		t.Errorf("%d chat.postMessage calls got a 429, want 1", limited)
	}
	dm := s.fake.Messages("DU0ALICE")[0]
	password := "pw-" + strings.TrimPrefix(r.Ref(), "#") + "-orders-db"
	if !strings.Contains(string(dm.Blocks), "password="+password) || strings.Contains(dm.Text, password) {
		t.Errorf("direct message %s / %s, want the password in the blocks only", dm.Text, dm.Blocks)
	}
	for _, m := range s.fake.Messages(testChannel) {
		if strings.Contains(m.Text+string(m.Blocks), password) {
			t.Errorf("a channel message holds the password: %s", m.Text)
		}
	}
	if strings.Contains(s.logs.String(), password) {
		t.Error("the logs hold the password")
	}

	// Delete with the confirmation button; the thread tells the deletion.
	_, body := s.slash(alice, "delete orders-db")
	var confirm struct {
		Blocks []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(body, &confirm); err != nil {
		t.Fatal(err)
	}
	yes := ""
	for _, b := range confirm.Blocks {
		for _, e := range b.Elements {
			if e.ActionID == ActionConfirm {
				yes = e.Value
			}
		}
	}
	if yes == "" {
		t.Fatalf("delete answer %s has no confirm button", body)
	}
	s.interact(s.fake.ButtonClick(alice, testChannel, "confirm", ActionConfirm, yes))
	slackfake.Eventually(t, 20*time.Second, "the deletion in the thread", func() bool {
		replies := s.fake.Replies(testChannel, root.TS)
		return strings.Contains(replies[len(replies)-1].Text, ":white_circle: *Deleted*")
	})
	want = []string{
		":wastebasket: *Deleting* — deletion requested by alice",
		":small_blue_diamond: dropping database payments_development_orders_db",
		":small_blue_diamond: dropping role payments_development_orders_db",
		":white_circle: *Deleted*",
	}
	all := strings.Join(texts(s.fake.Replies(testChannel, root.TS)), "\n")
	if _, deletion, _ := strings.Cut(all, "by direct message."); !linesInOrder(deletion, want) {
		t.Errorf("thread of the deletion:\n%s\nwant every line once, in order:\n%s", deletion, strings.Join(want, "\n"))
	}
	if resp := s.fake.Responses(); len(resp) != 1 || !resp[0].ReplaceOriginal {
		t.Errorf("responses %+v, want the question replaced by the result", resp)
	}
	if got := s.fake.Messages(testChannel)[0]; !strings.Contains(string(got.Blocks), "Deleted") {
		t.Errorf("root after deletion: %s", got.Blocks)
	}
	if r := s.resource("orders-db"); r.State != platform.Deleted {
		t.Errorf("state %s, want deleted", r.State)
	}
	checkScopes(t, s.fake)
}

// TestApprovalButtonsEndToEnd requests a production database, which needs
// an approval, and approves it with the button of its thread, as an admin
// in Slack would: through a real database, job runner and signed
// interactions.
func TestApprovalButtonsEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, true)
	s.slash(alice, "create postgresql-database")
	answers := map[string]string{"name": "ledger-db", "team": "payments", "environment": "production", "high_availability": "true"}
	if ack := s.submit(s.lastView(), alice, answers); ack["response_action"] != "clear" {
		t.Fatalf("submission: %v", ack)
	}
	var waiting slackfake.Message
	slackfake.Eventually(t, 20*time.Second, "the request awaiting approval in its thread", func() bool {
		for _, m := range s.fake.Messages(testChannel) {
			if strings.HasPrefix(m.Text, ":raised_hand: *Awaiting approval*") {
				waiting = m
				return true
			}
		}
		return false
	})
	r := s.resource("ledger-db")
	id := strconv.FormatInt(r.ID, 10)
	if got := labels(buttonsOf(t, waiting.Blocks)); len(got) != 2 || got[0] != "Approve=idp_run_0:approve "+id+" (primary)" {
		t.Fatalf("buttons %q, want Approve and Reject", got)
	}
	// alice is no approver: her click changes nothing.
	if got := s.click(alice, waiting, false, "idp_run_0"); !strings.Contains(got.Params["text"], "Only approvers") {
		t.Errorf("alice's Approve click = %q", got.Params["text"])
	}
	if st := s.resource("ledger-db").State; st != platform.AwaitingApproval {
		t.Fatalf("after alice's click: %s", st)
	}
	got := s.click(admin, waiting, false, "idp_run_0")
	if got.Params["user"] != admin.ID || got.Params["thread_ts"] != waiting.ThreadTS || !strings.Contains(got.Params["text"], "Approved ledger-db") {
		t.Errorf("admin's Approve click = %+v, want the approval for the admin alone, in the thread", got.Params)
	}
	slackfake.Eventually(t, 20*time.Second, "the approved request to be ready", func() bool {
		replies := s.fake.Replies(testChannel, waiting.ThreadTS)
		return len(replies) > 0 && strings.HasPrefix(replies[len(replies)-1].Text, ":lock: Connection details were sent")
	})
	r = s.resource("ledger-db")
	evs, err := s.store.Events(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var approver string
	for _, ev := range evs {
		if ev.From == platform.AwaitingApproval {
			approver = ev.Actor.ID
		}
	}
	if r.State != platform.Ready || approver != "slack:"+admin.ID {
		t.Errorf("state %s approved by %q, want ready, approved by the admin who clicked", r.State, approver)
	}
	checkScopes(t, s.fake)
}

// linesInOrder reports whether text holds each of want once, in order
// (a thread whose replies may each tell several events).
func linesInOrder(text string, want []string) bool {
	at := 0
	for _, w := range want {
		i := strings.Index(text[at:], w)
		if i < 0 || strings.Count(text, w) != 1 {
			return false
		}
		at += i + len(w)
	}
	return true
}
