package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// syncBuffer is a bytes.Buffer safe for the bot's concurrent log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeWithSlackAndDiscord runs the server as deployed (bot serve) with
// both adapters against fake Slack and Discord APIs: signed requests are
// answered on the shared listener, forged ones refused, /readyz reports
// every part, /metrics passes promtool, no token reaches the log, and
// shutdown drains and returns.
func TestServeWithSlackAndDiscord(t *testing.T) {
	t.Parallel()
	sf := slackfake.New(t)
	df := discordtest.New(t)
	key := discordtest.NewKey(t)
	addr := freeAddr(t)
	const signing = "slack-signing-secret-for-test"
	getenv, _ := testEnv(t, map[string]string{
		"IDPBOT_HTTP_ADDR":     addr,
		"IDPBOT_LOG_LEVEL":     "debug",
		"IDPBOT_LOG_FORMAT":    "json",
		"SLACK_BOT_TOKEN":      slackfake.DefaultBotToken,
		"SLACK_SIGNING_SECRET": signing,
		"SLACK_API_URL":        sf.URL(),
		"SLACK_RATE_SCALE":     "1000",
		"DISCORD_BOT_TOKEN":    discordtest.BotToken,
		"DISCORD_APP_ID":       discordtest.AppID,
		"DISCORD_PUBLIC_KEY":   key.Public,
		"DISCORD_API_URL":      df.URL(),
		"DISCORD_RATE_SCALE":   "1000",
	})
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, strings.NewReader(""), io.Discard, logs) }()
	t.Cleanup(cancel)
	base := "http://" + addr

	deadline := time.Now().Add(30 * time.Second)
	var ready map[string]any
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&ready)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s: %v %v\nlogs:\n%s", err, ready, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	checks, _ := ready["checks"].(map[string]any)
	for _, part := range []string{"database", "migrations", "slack", "discord"} {
		if checks[part] != "ok" {
			t.Errorf("/readyz %s = %v, want ok (%v)", part, checks[part], ready)
		}
	}

	// Slack: a signed /idp help is answered; a forged one is refused.
	user := slackfake.User{ID: "U0ALICE", Name: "alice"}
	sf.AddUser(user)
	body := []byte(sf.SlashCommand(user, "C0REQUESTS", "help").Encode())
	post := func(path string, h http.Header, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, out := post("/slack/commands", slackfake.Sign(signing, time.Now(), body), body); code != http.StatusOK || !strings.Contains(out, "ephemeral") {
		t.Errorf("signed /idp help = %d %s, want 200 and an ephemeral answer", code, out)
	}
	if code, _ := post("/slack/commands", slackfake.Sign("forged", time.Now(), body), body); code != http.StatusUnauthorized {
		t.Errorf("forged /idp help = %d, want 401", code)
	}

	// Slack's Events API: a signed app_home_opened publishes alice's Home
	// tab (the migrations made its table); a forged one is refused.
	event := sf.AppHomeOpened(user)
	eventHeader := func(secret string) http.Header {
		h := slackfake.Sign(secret, time.Now(), event)
		h.Set("Content-Type", "application/json")
		return h
	}
	if code, _ := post("/slack/events", eventHeader("forged"), event); code != http.StatusUnauthorized {
		t.Errorf("forged app_home_opened = %d, want 401", code)
	}
	if code, _ := post("/slack/events", eventHeader(signing), event); code != http.StatusOK {
		t.Errorf("signed app_home_opened = %d, want 200", code)
	}
	slackfake.Eventually(t, 10*time.Second, "alice's Home tab", func() bool { return len(sf.Home(user.ID)) == 1 })
	if v := sf.Home(user.ID)[0]; !strings.Contains(string(v.JSON), "Catalog") {
		t.Errorf("alice's Home tab:\n%s", v.JSON)
	}

	// Discord: a signed PING is answered with PONG; a forged one refused.
	ping := df.Ping()
	if code, out := post("/discord/interactions", key.Sign(time.Now(), ping.Body), ping.Body); code != http.StatusOK || !strings.Contains(out, `"type":1`) {
		t.Errorf("signed PING = %d %s, want 200 PONG", code, out)
	}
	other := discordtest.NewKey(t)
	if code, _ := post("/discord/interactions", other.Sign(time.Now(), ping.Body), ping.Body); code != http.StatusUnauthorized {
		t.Errorf("forged PING = %d, want 401", code)
	}

	// Metrics: the bot's and the seed metrics, in a valid exposition.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`idpbot_commands_total{outcome="ok",platform="slack",verb="help"} 1`, `idpbot_resources{state="ready"} 0`, `idpbot_db_pool_connections{state="max"}`,
		`idp_support_tickets_total{category="access"} 0`} {
		if !bytes.Contains(scrape, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	promtool(t, scrape)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after shutdown = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of shutdown")
	}
	for _, secret := range []string{slackfake.DefaultBotToken, signing, discordtest.BotToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
	if !strings.Contains(logs.String(), `"level":"DEBUG"`) {
		t.Errorf("debug logging was not on, so the secret check proves little; logs:\n%s", logs.String())
	}
	checkLogKeys(t, logs.String())
}

// TestServeStopsOnRefusedTokens: a bot token Slack or Discord refuses
// stops startup with what to do, instead of a bot that acknowledges
// commands and never posts.
func TestServeStopsOnRefusedTokens(t *testing.T) {
	t.Parallel()
	sf := slackfake.New(t)
	sf.Refuse("auth.test", "invalid_auth")
	df := discordtest.New(t)
	df.Lenient() // the wrong token is the point
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"slack", map[string]string{"SLACK_BOT_TOKEN": slackfake.DefaultBotToken, "SLACK_SIGNING_SECRET": "slack-signing-secret-for-test", "SLACK_API_URL": sf.URL()},
			"Slack refused SLACK_BOT_TOKEN (invalid_auth)"},
		{"discord", map[string]string{"DISCORD_BOT_TOKEN": "not-the-token", "DISCORD_APP_ID": discordtest.AppID,
			"DISCORD_PUBLIC_KEY": discordtest.NewKey(t).Public, "DISCORD_API_URL": df.URL()},
			"Discord refused DISCORD_BOT_TOKEN (401 Unauthorized)"},
	} {
		tc.env["IDPBOT_HTTP_ADDR"] = freeAddr(t)
		getenv, _ := testEnv(t, tc.env)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, []string{"serve"}, getenv, strings.NewReader(""), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: serve with a refused token = %v, want it to stop naming the token", tc.name, err)
		}
	}
}

// checkLogKeys fails the test for a JSON log line that is not an object or
// repeats a key: log pipelines keep one of the values, or drop the line.
func checkLogKeys(t *testing.T, log string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Errorf("log line is not a JSON object: %s", line)
			continue
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Errorf("log line is not JSON: %s", line)
				break
			}
			key, _ := tok.(string)
			if seen[key] {
				t.Errorf("log line repeats the key %q: %s", key, line)
			}
			seen[key] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Errorf("log line is not JSON: %s", line)
				break
			}
		}
	}
}

// promtool checks a scrape with `promtool check metrics`. CI installs it;
// elsewhere the check is skipped when it is missing.
func promtool(t *testing.T, scrape []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (CI installs it from Debian's prometheus package)")
		}
		t.Log("promtool not installed: scrape not checked")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
