package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack"
	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

const (
	slackSecret  = "8f742231b10e8888abcd99yyyzzz85a5"
	slackChannel = "C0DEVOPS"
)

var slackAlice = slackfake.User{ID: "U0ALICE", Name: "alice", Email: "alice@example.com"}

// slackDM is the fake's direct message channel with alice ("D" and her id).
const slackDM = "DU0ALICE"

// slackBot is a bot serving Slack: the Slack adapter's HTTP endpoints in
// front of a fake Slack, and its thread.Notifier for the jobs runner.
type slackBot struct {
	*node
	fake     *slackfake.Server
	url      string
	notifier *thread.Notifier
	views    int // views seen so far
}

func newSlackBot(t *testing.T, nd *node) *slackBot {
	t.Helper()
	fake := slackfake.New(t)
	fake.AddUser(slackAlice)
	a, err := slack.New(slack.Config{
		BotToken: fake.BotToken, SigningSecret: slackSecret, APIURL: fake.URL(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Engine: nd.engine, Logger: nd.log,
		RateScale: 1000, // the fake enforces no limits: the stories go at once
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, a.Handler(commands.NewRouter(nd.engine, commands.Options{Logger: nd.log})), a.Wait)
	n := thread.New(thread.Config{Transport: a, Threads: nd.store, Log: nd.log})
	return &slackBot{node: nd, fake: fake, url: srv.URL, notifier: n}
}

// signed posts form fields to path, signed as Slack does.
func (b *slackBot) signed(t *testing.T, path string, body []byte) (int, []byte) {
	t.Helper()
	return post(t, b.url+path, body, slackfake.Sign(slackSecret, time.Now(), body))
}

// request asks for a staging database called name as alice would: the
// slash command opens the form, whose submission records the request.
func (b *slackBot) request(t *testing.T, name string) *platform.Resource {
	t.Helper()
	cmd := b.fake.SlashCommand(slackAlice, slackChannel, "create postgresql-database")
	if status, body := b.signed(t, "/slack/commands", []byte(cmd.Encode())); status != http.StatusOK {
		t.Fatalf("/idp create: %d %s", status, body)
	}
	slackfake.Eventually(t, 30*time.Second, "the form of "+name, func() bool { return len(b.fake.Views()) > b.views })
	vs := b.fake.Views()
	b.views = len(vs)
	payload, err := slackfake.ViewSubmission(vs[len(vs)-1], slackAlice, map[string]string{"name": name, "team": "payments", "environment": "staging"})
	if err != nil {
		t.Fatal(err)
	}
	status, body := b.signed(t, "/slack/interactions", []byte(slackfake.InteractionForm(payload).Encode()))
	var ack map[string]any
	if status != http.StatusOK || json.Unmarshal(body, &ack) != nil || ack["response_action"] != "clear" {
		t.Fatalf("submission of %s: %d %s, want the form cleared", name, status, body)
	}
	return b.resource(t, name)
}

// slackLine is an event's reply in a Slack thread.
func slackLine(r *platform.Resource, ev platform.Event) (string, bool) {
	m, ok := slack.EventMessage(r, ev)
	return m.Text, ok
}

// checkThreads waits until the thread of each of rs is complete in the
// fake Slack and checks it: its root in the channel, every event's reply
// once and in order, the connection details in alice's direct messages;
// and that Slack holds no root but theirs and no password outside those
// direct messages.
func (b *slackBot) checkThreads(t *testing.T, rs []*platform.Resource) {
	t.Helper()
	note := fmt.Sprintf(":lock: Connection details were sent to <@%s> by direct message.", slackAlice.ID)
	roots := map[string]bool{}
	var passwords []string
	for _, r := range rs {
		passwords = append(passwords, password(r))
		th := b.checkThread(t, r, slack.Platform, slackLine, note, func(th platform.Thread) []string {
			var texts []string
			for _, m := range b.fake.Replies(th.Channel, th.ThreadRef) {
				texts = append(texts, m.Text)
			}
			return texts
		})
		if th.Channel != slackChannel || th.RootRef != th.ThreadRef {
			t.Errorf("Slack thread of %s = %+v, want under a root in %s", r.Name, th, slackChannel)
		}
		roots[th.RootRef] = true
		var dms int
		for _, m := range b.fake.Messages(slackDM) {
			if strings.Contains(string(m.Blocks), "password="+password(r)) {
				dms++
			}
		}
		if dms != 1 {
			t.Errorf("%d direct messages to alice hold the password of %s, want 1", dms, r.Name)
		}
	}
	var got []string
	for _, m := range b.fake.Messages(slackChannel) {
		if m.ThreadTS == "" {
			got = append(got, m.TS)
			if !strings.Contains(string(m.Blocks), ":white_check_mark: Ready") {
				t.Errorf("Slack root %s %q was not edited to ready: %s", m.TS, m.Text, m.Blocks)
			}
			if !roots[m.TS] {
				t.Errorf("Slack root %s %q is no thread of the Slack requests", m.TS, m.Text)
			}
		}
	}
	if len(got) != len(rs) {
		t.Errorf("%d roots in %s, want %d", len(got), slackChannel, len(rs))
	}
	if n := len(b.fake.Messages(slackDM)); n != len(rs) {
		t.Errorf("%d direct messages to alice, want %d", n, len(rs))
	}
	for _, c := range b.fake.Calls() {
		params, _ := json.Marshal(c.Params)
		if holds(string(params), passwords) && (c.Method != "chat.postMessage" || c.Params["channel"] != slackDM) {
			t.Errorf("Slack call %s to %q holds a password", c.Method, c.Params["channel"])
		}
	}
}
