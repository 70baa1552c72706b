package discord

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

func TestNewChecksItsConfig(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	base := Config{BotToken: "t", AppID: "1", Engine: f.Engine}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no token", func(c *Config) { c.BotToken = "" }, "DISCORD_BOT_TOKEN"},
		{"no app", func(c *Config) { c.AppID = "" }, "DISCORD_APP_ID"},
		{"bad key", func(c *Config) { c.PublicKey = "abc" }, "DISCORD_PUBLIC_KEY"},
		{"bad url", func(c *Config) { c.APIURL = "discord.com" }, "DISCORD_API_URL"},
		{"no engine", func(c *Config) { c.Engine = nil }, "Engine"},
	} {
		cfg := base
		tc.change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	if _, err := New(base); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
}

func TestRouteLabelsAreBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/api/v9/channels/1100000000000000100/messages", "POST /channels/{id}/messages"},
		{"PATCH", "/api/v9/webhooks/11/aW50ZXJhY3Rpb24tdG9rZW4/messages/@original", "PATCH /webhooks/{id}/{token}/messages/@original"},
		{"POST", "/api/v9/interactions/12/tok-en/callback", "POST /interactions/{id}/{token}/callback"},
		{"POST", "/api/v9/users/@me/channels", "POST /users/@me/channels"},
	} {
		if got := routeLabel(tc.method, tc.path); got != tc.want {
			t.Errorf("routeLabel(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

// countingMetrics records what the adapter reports.
var _ chat.Metrics = (*countingMetrics)(nil)

type countingMetrics struct {
	mu    sync.Mutex
	calls []string
	acks  []string
	cmds  []string
}

func (m *countingMetrics) Ack(_, kind string, _ time.Duration) { m.add(&m.acks, kind) }
func (m *countingMetrics) Command(_, verb, outcome string, _ time.Duration) {
	m.add(&m.cmds, verb+" "+outcome)
}
func (m *countingMetrics) Error(string, platform.Code)       {}
func (m *countingMetrics) ChatCall(_, method, status string) { m.add(&m.calls, method+" "+status) }
func (m *countingMetrics) RateLimited(string, time.Duration) {}
func (m *countingMetrics) add(s *[]string, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	*s = append(*s, v)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	fake := discordtest.New(t)
	key := discordtest.NewKey(t)
	m := &countingMetrics{}
	a, err := New(Config{BotToken: discordtest.BotToken, AppID: discordtest.AppID, PublicKey: key.Public, APIURL: fake.URL(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second}, Engine: f.Engine,
		Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	fake.RateLimit("PUT /applications/{application_id}/commands", 1, time.Second)
	if err := a.RegisterCommands(context.Background()); err == nil {
		t.Fatal("RegisterCommands rate limited = nil, want an error")
	}
	if err := a.RegisterCommands(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: fake, key: key, adapter: a}
	srv := newServer(t, a, commands.NewRouter(f.Engine, commands.Options{}))
	h.srv = srv
	h.send(fake.Command(mallory, testChannel, discordtest.Sub("list")))
	m.mu.Lock()
	defer m.mu.Unlock()
	if want := []string{"PUT /applications/{id}/commands 429", "PUT /applications/{id}/commands 200"}; !slices.Equal(m.calls, want) {
		t.Errorf("chat calls = %q, want %q", m.calls, want)
	}
	if !slices.Equal(m.acks, []string{"command"}) || !slices.Equal(m.cmds, []string{"list ok"}) {
		t.Errorf("acks %q, commands %q; want one list command", m.acks, m.cmds)
	}
}
