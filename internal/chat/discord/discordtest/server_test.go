package discordtest

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func TestSpecMatchesTheMostLiteralRoute(t *testing.T) {
	t.Parallel()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/users/@me/channels", "POST /users/@me/channels"},
		{"PATCH", "/webhooks/1/tok/messages/@original", "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"},
		{"PATCH", "/webhooks/1/tok/messages/2", "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"},
		{"POST", "/channels/1/messages/2/threads", "POST /channels/{channel_id}/messages/{message_id}/threads"},
	} {
		r, _, ok := spec.Match(tc.method, tc.path)
		if !ok || r.Name() != tc.want {
			t.Errorf("Match(%s %s) = %v, want %s", tc.method, tc.path, r, tc.want)
		}
	}
	if r, _, ok := spec.Match("POST", "/channels/1/nonsense"); ok {
		t.Errorf("Match of an unknown route = %s", r.Name())
	}
}

// call calls the fake with the bot token (send's status and body).
func call(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	a := send(t, s, method, path, body)
	return a.status, a.body
}

func TestViolationsGetDiscordsErrors(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.Lenient()
	s.AddChannel("10")
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		violation                string
	}{
		{"unknown route", "POST", "/channels/10/nonsense", `{}`, 404, "not a route of Discord's API"},
		{"missing required property", "PUT", "/applications/" + AppID + "/commands", `[{"description":"no name"}]`, 400, "missing property 'name'"},
		{"too long", "POST", "/channels/10/messages", `{"content":"` + strings.Repeat("x", 2001) + `"}`, 400, "more than 2000"},
		{"empty message", "POST", "/channels/10/messages", `{"content":""}`, 400, "empty message"},
		{"unknown query", "GET", "/gateway?shard=1", ``, 200, "unknown query parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.Violations())
			status, body := call(t, s, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Errorf("status %d (%s), want %d", status, body, tc.status)
			}
			v := s.Violations()
			if len(v) != before+1 || !strings.Contains(v[len(v)-1], tc.violation) {
				t.Errorf("violations = %q, want one more saying %q", v[before:], tc.violation)
			}
		})
	}
	req, _ := http.NewRequest("GET", s.URL()+"/v9/gateway/bot", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bot route without the token answered %d, want 401", resp.StatusCode)
	}
}

// rewrite sends discordgo's calls to the fake.
type rewrite struct{ base *url.URL }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.URL.Path = r.base.Path + strings.TrimPrefix(req.URL.Path, "/api")
	req.Host = r.base.Host
	return http.DefaultTransport.RoundTrip(req)
}

func TestFaultsThroughDiscordgo(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddChannel("10")
	base, _ := url.Parse(s.URL())
	dg, err := discordgo.New("Bot " + BotToken)
	if err != nil {
		t.Fatal(err)
	}
	dg.Client = &http.Client{Transport: rewrite{base}, Timeout: 5 * time.Second}
	dg.ShouldRetryOnRateLimit = false
	s.RateLimit("POST /channels/{channel_id}/messages", 1, 1500*time.Millisecond)
	_, err = dg.ChannelMessageSend("10", "hello")
	var rl *discordgo.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("send while rate limited = %v, want a RateLimitError after 1.5s", err)
	}
	s.Inject(Fault{Route: "POST /channels/{channel_id}/messages", Times: 1, Status: 500, Lost: true})
	if _, err := dg.ChannelMessageSend("10", "hello"); err == nil {
		t.Fatal("send with a lost response = nil, want an error")
	}
	m, err := dg.ChannelMessageSend("10", "again")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Messages("10")
	if len(got) != 2 || got[0].Content != "hello" || got[1].ID != m.ID {
		t.Errorf("messages = %+v, want the lost one then the last", got)
	}
	if _, err := dg.ChannelMessageSend("99", "nowhere"); err == nil {
		t.Error("send to an unknown channel = nil, want Unknown Channel")
	}
	for range 2 {
		if _, err := dg.RequestWithBucketID("POST", discordgo.EndpointChannelMessages("10"), map[string]any{"content": "x", "nonce": "n1", "enforce_nonce": true}, "b"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Messages("10")); n != 3 {
		t.Errorf("%d messages after posting the same nonce twice, want 3", n)
	}
}

func TestMessagesReadDeletedAndClicked(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddChannel("10")
	status, body := call(t, s, "POST", "/channels/10/messages",
		`{"content":"card","components":[{"type":1,"components":[{"type":2,"style":1,"label":"Go","custom_id":"idp:run:go"}]}]}`)
	if status != http.StatusOK {
		t.Fatalf("post: %d %s", status, body)
	}
	m := s.Messages("10")[0]
	if status, body := call(t, s, "GET", "/channels/10/messages/"+m.ID, ""); status != http.StatusOK || !strings.Contains(body, `"content":"card"`) {
		t.Errorf("get message: %d %s", status, body)
	}
	in := s.ClickOn(User{ID: "5", Username: "u"}, m, "idp:run:go")
	if !strings.Contains(string(in.Body), `"custom_id":"idp:run:go"`) || !strings.Contains(string(in.Body), `"message":{`) {
		t.Errorf("click = %s, want the custom id and the message", in.Body)
	}
	s.DeleteMessage(m.ID)
	if status, _ := call(t, s, "GET", "/channels/10/messages/"+m.ID, ""); status != http.StatusNotFound || len(s.Messages("10")) != 0 {
		t.Errorf("get a deleted message: %d, %d messages left", status, len(s.Messages("10")))
	}
	// A reply to a deleted message that need not exist is a plain one.
	status, body = call(t, s, "POST", "/channels/10/messages", `{"content":"x","message_reference":{"message_id":"`+m.ID+`","fail_if_not_exists":false}}`)
	if status != http.StatusOK || s.Messages("10")[0].ReplyTo != "" || len(s.Violations()) != 0 {
		t.Errorf("reply to a deleted message: %d %s, violations %q", status, body, s.Violations())
	}
}
