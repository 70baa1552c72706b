package discordtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// newClock is a hand-moved clock for the limits (it moves only on
// Advance).
func newClock() *platformtest.Clock {
	return platformtest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), 0)
}

// limited returns a fake enforcing l on a clock of its own, with channel
// 10.
func limited(t *testing.T, l Limits) (*Server, *platformtest.Clock) {
	s := New(t)
	clk := newClock()
	l.Now = clk.Now
	s.SetLimits(l)
	s.AddChannel("10")
	return s, clk
}

// answer is a response of the fake.
type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) rateLimit(t *testing.T) (retryAfter float64, global bool) {
	t.Helper()
	var b struct {
		Message    string   `json:"message"`
		RetryAfter *float64 `json:"retry_after"`
		Global     *bool    `json:"global"`
	}
	if err := json.Unmarshal([]byte(a.body), &b); err != nil || b.RetryAfter == nil || b.Global == nil || b.Message != "You are being rate limited." {
		t.Fatalf("429 body %s is not Discord's rate limit response (%v)", a.body, err)
	}
	return *b.RetryAfter, *b.Global
}

func send(t *testing.T, s *Server, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+"/v10"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot "+BotToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(out)}
}

func postIn(t *testing.T, s *Server, channel, content string) answer {
	t.Helper()
	return send(t, s, "POST", "/channels/"+channel+"/messages", `{"content":"`+content+`"}`)
}

func session(t *testing.T, s *Server) *discordgo.Session {
	t.Helper()
	base, _ := url.Parse(s.URL())
	dg, err := discordgo.New("Bot " + BotToken)
	if err != nil {
		t.Fatal(err)
	}
	dg.Client = &http.Client{Transport: rewrite{base}, Timeout: 30 * time.Second}
	return dg
}

func TestLimitsAreOffByDefault(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddChannel("10")
	dg := session(t, s)
	dg.ShouldRetryOnRateLimit = false
	for i := range 60 {
		if _, err := dg.ChannelMessageSend("10", fmt.Sprint("m", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	a := postIn(t, s, "10", "plain")
	if a.status != http.StatusOK || a.header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("post without limits: %d with X-RateLimit-Limit %q, want 200 and no rate-limit headers", a.status, a.header.Get("X-RateLimit-Limit"))
	}
	st := s.Stats()
	if st.Routes[RouteCreateMessage] != (RouteStats{Calls: 61}) || st.Posts["10"] != 61 || st.Global != 0 {
		t.Errorf("Stats = %+v, want 61 posts and no 429", st)
	}
}

func TestRouteBucketPerChannel(t *testing.T) {
	t.Parallel()
	s, clk := limited(t, DocumentedLimits())
	s.AddChannel("11")
	var first string
	for i := range 5 {
		a := postIn(t, s, "10", fmt.Sprint("m", i))
		if a.status != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, a.status, a.body)
		}
		h := a.header
		if h.Get("X-RateLimit-Limit") != "5" || h.Get("X-RateLimit-Remaining") != fmt.Sprint(4-i) || h.Get("X-RateLimit-Reset-After") != "5.001" ||
			h.Get("X-RateLimit-Bucket") != BucketHash(RouteCreateMessage) {
			t.Errorf("post %d: headers %v, want limit 5, remaining %d, reset after 5.001, the route's bucket", i, h, 4-i)
		}
		if i == 0 {
			first = h.Get("X-RateLimit-Reset")
			if want := fmt.Sprintf("%d.000", clk.Now().Add(5*time.Second).Unix()); first != want {
				t.Errorf("X-RateLimit-Reset = %s, want %s", first, want)
			}
		}
	}
	clk.Advance(2500 * time.Millisecond)
	a := postIn(t, s, "10", "one too many")
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("sixth post: %d %s, want 429", a.status, a.body)
	}
	if after, global := a.rateLimit(t); after != 2.501 || global {
		t.Errorf("429 body: retry_after %v global %v, want 2.501 and false", after, global)
	}
	h := a.header
	if h.Get("Retry-After") != "3" || h.Get("X-RateLimit-Scope") != "user" || h.Get("X-RateLimit-Remaining") != "0" ||
		h.Get("X-RateLimit-Reset-After") != "2.501" || h.Get("X-RateLimit-Reset") != first || h.Get("X-RateLimit-Global") != "" {
		t.Errorf("429 headers = %v", h)
	}
	if n := len(s.Messages("10")); n != 5 {
		t.Errorf("%d messages in 10, want 5: a limited post has no effect", n)
	}
	// Other channels and routes have buckets of their own.
	if a := postIn(t, s, "11", "elsewhere"); a.status != http.StatusOK {
		t.Errorf("post in 11: %d %s", a.status, a.body)
	}
	m := s.Messages("10")[0]
	if a := send(t, s, "PATCH", "/channels/10/messages/"+m.ID, `{"content":"edited"}`); a.status != http.StatusOK || a.header.Get("X-RateLimit-Bucket") != BucketHash(RouteEditMessage) {
		t.Errorf("edit in 10: %d %v", a.status, a.header)
	}
	if a := send(t, s, "GET", "/channels/10", ""); a.status != http.StatusOK || a.header.Get("X-RateLimit-Limit") != "5" || a.header.Get("X-RateLimit-Reset-After") != "1.001" {
		t.Errorf("get channel 10 (default bucket): %d %v", a.status, a.header)
	}
	clk.Advance(2499 * time.Millisecond)
	if a := postIn(t, s, "10", "still too soon"); a.status != http.StatusTooManyRequests {
		t.Errorf("post 1ms before the window closes: %d, want 429", a.status)
	}
	clk.Advance(time.Millisecond)
	if a := postIn(t, s, "10", "next window"); a.status != http.StatusOK || a.header.Get("X-RateLimit-Remaining") != "4" {
		t.Errorf("post in the next window: %d remaining %s", a.status, a.header.Get("X-RateLimit-Remaining"))
	}
	st := s.Stats()
	if st.Routes[RouteCreateMessage] != (RouteStats{Calls: 9, RateLimited: 2}) || st.Buckets[RouteCreateMessage+" 10"] != 2 || st.Posts["10"] != 6 || st.Posts["11"] != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestGlobalLimit(t *testing.T) {
	t.Parallel()
	s := New(t)
	clk := newClock()
	s.SetLimits(Limits{Global: Rate{Limit: 50, Per: time.Second}, Now: clk.Now})
	for i := range 10 {
		s.AddChannel(fmt.Sprint(20 + i))
	}
	in := s.Command(User{ID: "5", Username: "u"}, "20")
	for i := range 50 {
		if a := postIn(t, s, fmt.Sprint(20+i%10), fmt.Sprint("m", i)); a.status != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, a.status, a.body)
		}
	}
	clk.Advance(400 * time.Millisecond)
	a := send(t, s, "GET", "/users/@me", "")
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("request 51: %d, want 429", a.status)
	}
	if after, global := a.rateLimit(t); after != 0.601 || !global {
		t.Errorf("429 body: retry_after %v global %v, want 0.601 and true", after, global)
	}
	if h := a.header; h.Get("X-RateLimit-Scope") != "global" || h.Get("X-RateLimit-Global") != "true" || h.Get("Retry-After") != "1" || h.Get("X-RateLimit-Reset-After") != "0.601" {
		t.Errorf("429 headers = %v", h)
	}
	// Interaction endpoints are exempt.
	if a := send(t, s, "POST", "/interactions/"+in.ID+"/"+in.Token+"/callback", `{"type":5}`); a.status != http.StatusNoContent {
		t.Errorf("interaction callback under the global limit: %d %s", a.status, a.body)
	}
	if a := send(t, s, "POST", "/webhooks/"+AppID+"/"+in.Token+"?wait=true", `{"content":"follow-up"}`); a.status != http.StatusOK {
		t.Errorf("follow-up under the global limit: %d %s", a.status, a.body)
	}
	clk.Advance(600 * time.Millisecond)
	if a := postIn(t, s, "20", "next second"); a.status != http.StatusOK {
		t.Errorf("post a second later: %d %s", a.status, a.body)
	}
	if st := s.Stats(); st.Global != 1 || st.Routes["GET /users/@me"] != (RouteStats{Calls: 1, RateLimited: 1}) || st.Posts["20"] != 6 {
		t.Errorf("Stats = %+v, want one global 429", st)
	}
}

func TestDiscordgoPacesItselfByTheHeaders(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.SetLimits(DocumentedLimits().Scaled(10)) // 5 messages per 500 ms per channel
	s.AddChannel("10")
	dg := session(t, s)
	dg.ShouldRetryOnRateLimit = true
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			if _, err := dg.ChannelMessageSend("10", fmt.Sprint("burst ", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("send: %v", err)
	}
	st := s.Stats()
	if st.Routes[RouteCreateMessage] != (RouteStats{Calls: 10}) || st.Posts["10"] != 10 {
		t.Errorf("Stats = %+v, want 10 calls, none answered 429", st)
	}
}

func TestA429ReachesTheBotWithoutRetries(t *testing.T) {
	t.Parallel()
	s, _ := limited(t, DocumentedLimits())
	dg := session(t, s)
	dg.ShouldRetryOnRateLimit = false
	// Each call has its own bucket id, so discordgo's limiter does not
	// hold the sixth back and the fake's 429 comes through.
	for i := range 6 {
		_, err := dg.RequestWithBucketID("POST", discordgo.EndpointChannelMessages("10"), map[string]any{"content": fmt.Sprint("m", i)}, fmt.Sprint("b", i))
		var rl *discordgo.RateLimitError
		switch {
		case i < 5 && err != nil:
			t.Fatalf("send %d: %v", i, err)
		case i == 5 && (!errors.As(err, &rl) || rl.RetryAfter != 5001*time.Millisecond):
			t.Fatalf("send 6: %v, want a RateLimitError after 5.001s", err)
		}
	}
}

func TestScaled(t *testing.T) {
	t.Parallel()
	l := DocumentedLimits().Scaled(10)
	if l.Routes[RouteCreateMessage] != (Rate{Limit: 5, Per: 500 * time.Millisecond}) || l.Global != (Rate{Limit: 50, Per: 100 * time.Millisecond}) || l.Default.Per != 100*time.Millisecond {
		t.Errorf("Scaled(10) = %+v", l)
	}
	if DocumentedLimits().Routes[RouteCreateMessage].Per != 5*time.Second {
		t.Error("Scaled changed the documented limits")
	}
	s, clk := limited(t, l)
	for i := range 5 {
		postIn(t, s, "10", fmt.Sprint(i))
	}
	if a := postIn(t, s, "10", "x"); a.status != http.StatusTooManyRequests || a.header.Get("X-RateLimit-Reset-After") != "0.501" {
		t.Errorf("sixth post: %d reset after %s, want 429 and 0.501", a.status, a.header.Get("X-RateLimit-Reset-After"))
	}
	clk.Advance(500 * time.Millisecond)
	if a := postIn(t, s, "10", "y"); a.status != http.StatusOK {
		t.Errorf("post 500ms later: %d", a.status)
	}
	s.SetLimits(Limits{})
	for i := range 10 {
		if a := postIn(t, s, "10", fmt.Sprint("free ", i)); a.status != http.StatusOK {
			t.Fatalf("post %d with limits off: %d", i, a.status)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Scaled(-1) did not panic")
		}
	}()
	DocumentedLimits().Scaled(-1)
}

func TestDuplicatesAndNonces(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddChannel("10")
	s.AddChannel("11")
	for _, tc := range []struct{ channel, body string }{
		{"10", `{"content":"hello"}`},
		{"10", `{"content":"hello"}`}, // duplicate
		{"11", `{"content":"hello"}`},
		{"10", `{"content":"hello","embeds":[{"title":"t"}]}`},
		{"10", `{"content":"hello", "embeds":[{"title":"t"}]}`}, // duplicate
		{"10", `{"content":"n","nonce":"k1","enforce_nonce":true}`},
		{"10", `{"content":"n","nonce":"k1","enforce_nonce":true}`}, // the first message again: no post
	} {
		if a := send(t, s, "POST", "/channels/"+tc.channel+"/messages", tc.body); a.status != http.StatusOK {
			t.Fatalf("post %s: %d %s", tc.body, a.status, a.body)
		}
	}
	st := s.Stats()
	var got []string
	for _, m := range st.Duplicates {
		got = append(got, fmt.Sprintf("%s %s %d", m.ChannelID, m.Content, len(m.Embeds)))
	}
	if strings.Join(got, "; ") != "10 hello 0; 10 hello 1" || st.Posts["10"] != 5 || st.Posts["11"] != 1 {
		t.Errorf("duplicates %q, posts %v; want the two repeats in 10, 5 posts in 10 and 1 in 11", got, st.Posts)
	}
}
