package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/chat/thread/threadtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	testSecret  = "8f742231b10e8888abcd99yyyzzz85a5"
	testChannel = "C0DEVOPS"
)

// Slack users of the test organisation.
var (
	// alice is in payments and platform by user id.
	alice = slackfake.User{ID: "U0ALICE", Name: "alice", Email: "alice@example.com"}
	// carol is in platform by email.
	carol = slackfake.User{ID: "U0CAROL", Name: "carol", Email: "carol@example.com"}
	// dave is in platform through the user group S0PLATFORM.
	dave = slackfake.User{ID: "U0DAVE", Name: "dave", Email: "dave@example.com"}
	// mallory is in no team.
	mallory = slackfake.User{ID: "U0MALLORY", Name: "mallory", Email: "mallory@example.com"}
	// admin is an admin, and so an approver.
	admin = slackfake.User{ID: "U0ADMIN", Name: "admin", Email: "admin@example.com"}
)

func testOrg() *platform.Org {
	return &platform.Org{
		Teams: []platform.Team{
			{Name: "payments", Members: []string{"slack:U0ALICE"}},
			{Name: "platform", Members: []string{"slack:U0ALICE", "email:carol@example.com"}, Groups: []string{"slack-usergroup:S0PLATFORM"}},
		},
		Environments: []platform.Environment{
			{Name: "development"}, {Name: "staging"}, {Name: "production", Approvals: 1},
		},
		DefaultQuotas: map[string]int{"postgresql-database": 5, "web-application": 10, "api-gateway": 5},
		Admins:        []string{"slack:U0ADMIN"},
	}
}

// realCatalog is the catalog idpbot ships.
func realCatalog(t testing.TB) *platform.Catalog {
	t.Helper()
	c, err := catalogload.Load(catalog.FS)
	if err != nil {
		t.Fatalf("load the shipped catalog: %v", err)
	}
	return c
}

// productionHA denies a production database without high availability,
// with no field of its own, like a CEL rule of the config file.
type productionHA struct{}

func (productionHA) Evaluate(_ context.Context, in platform.PolicyInput) ([]platform.Verdict, error) {
	if in.Environment != "production" {
		return nil, nil
	}
	if ha, ok := in.Parameters["high_availability"].(bool); ok && !ha {
		return []platform.Verdict{{Rule: "production-high-availability", Outcome: platform.Deny,
			Message: "Production resources must have high_availability enabled"}}, nil
	}
	return nil, nil
}

// harness is the adapter's HTTP handler behind httptest, in front of a fake
// Slack.
type harness struct {
	t       testing.TB
	fake    *slackfake.Server
	adapter *Adapter
	// notifier tells stories and posts through adapter, as the bot does.
	notifier *thread.Notifier
	// clock is the notifier's pacer's: Advance moves past a 429's wait.
	clock *platformtest.WallClock
	// router answers the commands the adapter serves.
	router *commands.Router
	srv    *httptest.Server
	engine *platform.Engine
	logs   *bytes.Buffer
	views  int // views returned by lastView so far
}

type harnessConfig struct {
	engine    *platform.Engine
	threads   thread.Store
	ackBudget time.Duration
	requests  string
	appToken  string
	client    *http.Client
	actions   func(r *platform.Resource, ev platform.Event) []commands.Action
	// rateScale is the adapter's RateScale (default 1000: the fake
	// enforces no limit unless a test asks, and the stories of tests go
	// at once).
	rateScale float64
	// options are the router's (its Logger is the harness's).
	options commands.Options
}

func testLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newHarness(t testing.TB, hc harnessConfig) *harness {
	t.Helper()
	fake := slackfake.New(t)
	for _, u := range []slackfake.User{alice, carol, dave, mallory, admin} {
		fake.AddUser(u)
	}
	fake.SetUsergroup("S0PLATFORM", dave.ID)
	if hc.threads == nil {
		hc.threads = &threadtest.Threads{}
	}
	logs := &bytes.Buffer{}
	log := testLogger(logs)
	if hc.client == nil {
		hc.client = &http.Client{Timeout: 5 * time.Second}
	}
	hc.options.Logger = log
	if hc.rateScale == 0 {
		hc.rateScale = 1000
	}
	a, err := New(Config{
		BotToken:      fake.BotToken,
		SigningSecret: testSecret,
		AppToken:      hc.appToken,
		APIURL:        fake.URL(),
		HTTPClient:    hc.client,
		Engine:        hc.engine,
		Logger:        log,
		AckBudget:     hc.ackBudget,
		RateScale:     hc.rateScale,
	})
	if err != nil {
		t.Fatal(err)
	}
	router := commands.NewRouter(hc.engine, hc.options)
	srv := httptest.NewServer(a.Handler(router))
	t.Cleanup(func() {
		srv.Close()
		a.Wait()
	})
	clock := &platformtest.WallClock{}
	n := thread.New(thread.Config{Transport: a, Threads: hc.threads, RequestsChannel: hc.requests, EventActions: hc.actions, Log: log,
		Pacer: thread.NewPacer(clock.Now)})
	return &harness{t: t, fake: fake, adapter: a, notifier: n, clock: clock, router: router, srv: srv, engine: hc.engine, logs: logs}
}

// fixture returns a platformtest engine with the shipped catalog, the test
// organisation and background provisioning.
func fixture(t testing.TB, opts ...platformtest.Option) *platformtest.Fixture {
	t.Helper()
	base := []platformtest.Option{platformtest.WithCatalog(realCatalog(t)), platformtest.WithOrg(testOrg()), platformtest.WithJobs(1),
		platformtest.WithPolicies(productionHA{})}
	return platformtest.Engine(t, append(base, opts...)...)
}

// post sends a signed form to path and returns the status and body.
func (h *harness) post(path string, form url.Values) (int, []byte) {
	h.t.Helper()
	body := []byte(form.Encode())
	return h.postRaw(path, body, slackfake.Sign(testSecret, time.Now(), body))
}

func (h *harness) postRaw(path string, body []byte, header http.Header) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header = header
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// slash runs "/idp text" as user in testChannel and returns the ack.
func (h *harness) slash(user slackfake.User, text string) (int, []byte) {
	h.t.Helper()
	return h.post("/slack/commands", h.fake.SlashCommand(user, testChannel, text))
}

// interact posts an interaction payload and returns the ack.
func (h *harness) interact(payload json.RawMessage, err error) (int, []byte) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	return h.post("/slack/interactions", slackfake.InteractionForm(payload))
}

// lastView waits for a view opened since the previous call and returns
// the latest one: modals open right after the acknowledgement.
func (h *harness) lastView() slackfake.View {
	h.t.Helper()
	slackfake.Eventually(h.t, 5*time.Second, "views.open", func() bool { return len(h.fake.Views()) > h.views })
	vs := h.fake.Views()
	h.views = len(vs)
	return vs[len(vs)-1]
}

// submit submits view as user with answers and returns the decoded ack.
func (h *harness) submit(v slackfake.View, user slackfake.User, answers map[string]string) map[string]any {
	h.t.Helper()
	status, body := h.interact(slackfake.ViewSubmission(v, user, answers))
	if status != http.StatusOK {
		h.t.Fatalf("view_submission: status %d: %s", status, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		h.t.Fatalf("view_submission ack %q: %v", body, err)
	}
	if out["response_action"] == "errors" {
		errs := map[string]string{}
		for k, v := range out["errors"].(map[string]any) {
			errs[k] = v.(string)
		}
		if p := slackfake.CheckErrorsResponse(v.JSON, errs); len(p) > 0 {
			h.t.Errorf("Slack would not show these errors: %q", p)
		}
	}
	return out
}

// golden compares got (JSON) with testdata/name.golden.json, or rewrites
// it under -update.
func golden(t testing.TB, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(data)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// contains reports whether the JSON of v contains s.
func contains(v any, s string) bool {
	data, _ := json.Marshal(v)
	return strings.Contains(string(data), s)
}
