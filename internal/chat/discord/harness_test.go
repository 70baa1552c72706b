package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/chat/thread/threadtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// IDs of the test guild.
const (
	testChannel     = "1100000000000000100"
	requestsChannel = "1100000000000000101"
	platformRole    = "1100000000000000200"
)

// Discord users of the test organisation.
var (
	// alice is in payments and platform by user id.
	alice = discordtest.User{ID: "1100000000000000301", Username: "alice"}
	// bob is in platform through its Discord role.
	bob = discordtest.User{ID: "1100000000000000302", Username: "bob", Roles: []string{"1100000000000000299", platformRole}}
	// mallory is in no team.
	mallory = discordtest.User{ID: "1100000000000000303", Username: "mallory"}
)

func testOrg() *platform.Org {
	return &platform.Org{
		Teams: []platform.Team{
			{Name: "payments", Members: []string{"discord:" + alice.ID}},
			{Name: "platform", Members: []string{"discord:" + alice.ID}, Groups: []string{"discord-role:" + platformRole}},
		},
		Environments: []platform.Environment{
			{Name: "development"}, {Name: "staging"}, {Name: "production", Approvals: 1},
		},
		DefaultQuotas: map[string]int{"postgresql-database": 5, "web-application": 10, "api-gateway": 5},
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

// fixture returns an in-memory engine with the shipped catalog, the test
// organisation and background provisioning.
func fixture(t testing.TB, opts ...platformtest.Option) *platformtest.Fixture {
	t.Helper()
	base := []platformtest.Option{platformtest.WithCatalog(realCatalog(t)), platformtest.WithOrg(testOrg()), platformtest.WithJobs(1),
		platformtest.WithPolicies(productionHA{})}
	return platformtest.Engine(t, append(base, opts...)...)
}

// harness is the adapter's HTTP handler behind httptest, in front of a fake
// Discord.
type harness struct {
	t       testing.TB
	fake    *discordtest.Server
	key     discordtest.Key
	adapter *Adapter
	// notifier tells stories and posts through adapter, as the bot does.
	notifier *thread.Notifier
	// clock is the notifier's pacer's: Advance moves past a 429's wait.
	clock  *platformtest.WallClock
	srv    *httptest.Server
	engine *platform.Engine
	logs   *lockedBuffer
}

type harnessConfig struct {
	engine    *platform.Engine
	threads   thread.Store
	ackBudget time.Duration
	requests  string
	guild     string
	actions   func(*platform.Resource, platform.Event) []commands.Action
	// now is the router's clock (nil: time.Now).
	now func() time.Time
	// rateScale is the adapter's RateScale (default 1000: the fake
	// enforces no limit unless a test asks, and the stories of tests go
	// at once).
	rateScale float64
}

// lockedBuffer collects logs written concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newHarness(t testing.TB, hc harnessConfig) *harness {
	t.Helper()
	fake := discordtest.New(t)
	fake.AddChannel(testChannel)
	fake.AddChannel(requestsChannel)
	key := discordtest.NewKey(t)
	if hc.threads == nil {
		hc.threads = &threadtest.Threads{}
	}
	logs := &lockedBuffer{}
	log := testLogger(logs)
	if hc.rateScale == 0 {
		hc.rateScale = 1000
	}
	a, err := New(Config{
		BotToken:        discordtest.BotToken,
		AppID:           discordtest.AppID,
		PublicKey:       key.Public,
		GuildID:         hc.guild,
		APIURL:          fake.URL(),
		HTTPClient:      &http.Client{Timeout: 5 * time.Second},
		Engine:          hc.engine,
		RequestsChannel: hc.requests,
		Logger:          log,
		AckBudget:       hc.ackBudget,
		RateScale:       hc.rateScale,
	})
	if err != nil {
		t.Fatal(err)
	}
	router := commands.NewRouter(hc.engine, commands.Options{Logger: log, Now: hc.now})
	srv := newServer(t, a, router)
	clock := &platformtest.WallClock{}
	n := thread.New(thread.Config{Transport: a, Threads: hc.threads, RequestsChannel: hc.requests, EventActions: hc.actions, Log: log,
		Pacer: thread.NewPacer(clock.Now)})
	return &harness{t: t, fake: fake, key: key, adapter: a, notifier: n, clock: clock, srv: srv, engine: hc.engine, logs: logs}
}

// newServer serves a's handler until the test ends, then waits for its
// background work.
func newServer(t testing.TB, a *Adapter, router *commands.Router) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(a.Handler(router))
	t.Cleanup(func() {
		srv.Close()
		a.Wait()
	})
	return srv
}

// postRaw sends body with header to the interactions endpoint.
func (h *harness) postRaw(body []byte, header http.Header) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+InteractionsPath, bytes.NewReader(body))
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

// response is an interaction response as the tests read it (discordgo's
// cannot decode components).
type response struct {
	Type discordgo.InteractionResponseType `json:"type"`
	Data *responseData                     `json:"data"`
}

type responseData struct {
	Content         string                                      `json:"content,omitempty"`
	Embeds          []*discordgo.MessageEmbed                   `json:"embeds,omitempty"`
	Components      json.RawMessage                             `json:"components,omitempty"`
	Flags           discordgo.MessageFlags                      `json:"flags,omitempty"`
	AllowedMentions json.RawMessage                             `json:"allowed_mentions,omitempty"`
	Choices         []*discordgo.ApplicationCommandOptionChoice `json:"choices,omitempty"`
	CustomID        string                                      `json:"custom_id,omitempty"`
	Title           string                                      `json:"title,omitempty"`
}

// rows returns the component rows of a message.
func (d *responseData) rows() []json.RawMessage {
	var rows []json.RawMessage
	_ = json.Unmarshal(d.Components, &rows)
	return rows
}

var mdEscape = regexp.MustCompile("\\\\([\\\\*_~`|<>\\[\\]#-])")

// unescape removes Discord markdown escapes, leaving what a person reads.
func unescape(s string) string { return mdEscape.ReplaceAllString(s, "$1") }

// text is everything a message shows, as a person reads it.
func (d *responseData) text() string {
	var b strings.Builder
	b.WriteString(d.Content)
	for _, e := range d.Embeds {
		b.WriteString("\n" + e.Title + "\n" + e.Description)
		for _, f := range e.Fields {
			b.WriteString("\n" + f.Name + ": " + f.Value)
		}
	}
	return unescape(b.String())
}

// send posts a signed interaction and returns the response, checked
// against Discord's schema of interaction responses.
func (h *harness) send(in discordtest.Interaction) response {
	h.t.Helper()
	status, body := h.postRaw(in.Body, h.key.Sign(time.Now(), in.Body))
	if status != http.StatusOK {
		h.t.Fatalf("interaction %s: status %d: %s", in.ID, status, body)
	}
	if err := h.fake.Spec().ValidateCallback(body); err != nil {
		h.t.Errorf("response to interaction %s: %v\n%s", in.ID, err, body)
	}
	var resp response
	if err := json.Unmarshal(body, &resp); err != nil {
		h.t.Fatalf("response %s: %v", body, err)
	}
	return resp
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
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// contains reports whether the JSON of v contains s.
func contains(v any, s string) bool {
	data, _ := json.Marshal(v)
	return strings.Contains(string(data), s)
}

// create is the /idp create <service> interaction with options.
func create(service string, opts ...discordtest.Option) []discordtest.Option {
	return []discordtest.Option{discordtest.Group("create", discordtest.Sub(service, opts...))}
}
