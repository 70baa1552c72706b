package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform"
)

// texts returns the text of each message.
func texts(msgs []slackfake.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

// firstLines returns the first line of each message.
func firstLines(msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i], _, _ = strings.Cut(m, "\n")
	}
	return out
}

func submitDB(t testing.TB, h *harness, user slackfake.User, name string) {
	t.Helper()
	h.slash(user, "create postgresql-database")
	if ack := h.submit(h.lastView(), user, map[string]string{"name": name, "team": "payments"}); ack["response_action"] != "clear" {
		t.Fatalf("submit %s: %v", name, ack)
	}
}

func TestProgressThread(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	f.Deliver(Platform, h.notifier)
	submitDB(t, h, alice, "orders-db")
	r := resources(t, f)[0]
	f.Settle(r.ID, 5*time.Second)
	f.Flush(5 * time.Second)

	msgs := h.fake.Messages(testChannel)
	if len(msgs) == 0 || msgs[0].ThreadTS != "" {
		t.Fatalf("messages in %s: %+v, want the root first", testChannel, msgs)
	}
	root := msgs[0]
	replies := h.fake.Replies(testChannel, root.TS)
	if len(replies) != len(msgs)-1 {
		t.Errorf("%d of %d messages are not in the root's thread", len(msgs)-1-len(replies), len(msgs)-1)
	}
	want := []string{
		":hourglass_flowing_sand: *Pending* — requested by alice",
		":gear: *Provisioning* — provisioning started",
		":small_blue_diamond: creating role payments_development_orders_db",
		":small_blue_diamond: creating database payments_development_orders_db",
		":white_check_mark: *Ready*",
		":lock: Connection details were sent to <@U0ALICE> by direct message.",
	}
	if diff := cmp.Diff(want, firstLines(texts(replies))); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(replies[4].Text, "`host` 127.0.0.1") {
		t.Errorf("ready reply %q does not show the outputs", replies[4].Text)
	}
	if root.Updates < 2 || !strings.Contains(string(root.Blocks), ":white_check_mark: Ready") || !strings.Contains(root.Text, "ready") {
		t.Errorf("root after %d updates: %s / %s, want it to show ready", root.Updates, root.Text, root.Blocks)
	}
	dm := h.fake.Messages("DU0ALICE")
	if len(dm) != 1 || !strings.Contains(string(dm[0].Blocks), "password=pw-") || !strings.Contains(string(dm[0].Blocks), "url=postgres://") {
		t.Fatalf("direct messages to alice: %+v, want the connection details", dm)
	}
	for _, m := range msgs {
		if strings.Contains(m.Text+string(m.Blocks), "pw-") {
			t.Errorf("a channel message holds the password: %s %s", m.Text, m.Blocks)
		}
	}
	if strings.Contains(h.logs.String(), "pw-") {
		t.Error("the logs hold the password")
	}
}

func TestRequestsChannelAndDirectMessageFallback(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, requests: "C0REQUESTS"})
	f.Deliver(Platform, h.notifier)
	submitDB(t, h, alice, "orders-db")
	f.Settle(resources(t, f)[0].ID, 5*time.Second)
	f.Flush(5 * time.Second)
	if n := len(h.fake.Messages(testChannel)); n != 0 {
		t.Errorf("%d messages in the command's channel, want all in the requests channel", n)
	}
	if msgs := h.fake.Messages("C0REQUESTS"); len(msgs) < 6 || msgs[0].ThreadTS != "" {
		t.Errorf("requests channel: %d messages", len(msgs))
	}

	// A channel the bot cannot post in: the thread goes to the requester.
	h2 := newHarness(t, harnessConfig{engine: f.Engine, requests: "C0PRIVATE"})
	h2.fake.DenyChannel("C0PRIVATE", "not_in_channel")
	r := &platform.Resource{ID: 99, Service: "postgresql-database", Name: "x", Team: "payments", Environment: "development",
		State: platform.Pending, Requester: platform.Actor{ID: "slack:U0ALICE"}, Origin: platform.Origin{Platform: Platform, Channel: testChannel}}
	if err := h2.notifier.Notify(context.Background(), r, platform.Event{ID: 1, ResourceID: 99, Kind: platform.EventTransition, To: platform.Pending}); err != nil {
		t.Fatal(err)
	}
	if msgs := h2.fake.Messages("DU0ALICE"); len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Errorf("direct messages: %+v, want the root and its first reply", msgs)
	}
}

func TestNotifyRateLimitAndOutage(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	r := &platform.Resource{ID: 7, Service: "postgresql-database", Name: "orders-db", Team: "payments", Environment: "development",
		State: platform.Pending, Requester: platform.Actor{ID: "slack:U0ALICE"}, Origin: platform.Origin{Platform: Platform, Channel: testChannel}}
	ev := platform.Event{ID: 1, ResourceID: 7, Kind: platform.EventTransition, To: platform.Pending, Message: "requested by alice"}

	h.fake.Fail("chat.postMessage", 1, http.StatusTooManyRequests, 3*time.Second)
	err := h.notifier.Notify(ctx, r, ev)
	var snooze interface{ RetryAfter() time.Duration }
	if !errors.As(err, &snooze) || snooze.RetryAfter() != 3*time.Second {
		t.Fatalf("Notify during a 429: %v, want an error with RetryAfter 3s", err)
	}
	h.clock.Advance(3 * time.Second) // the channel's bucket waits; the test does not
	// The root was posted; the reply hit a 429 after it.
	h.fake.Fail("chat.postMessage", 1, http.StatusInternalServerError, 0)
	if err := h.notifier.Notify(ctx, r, ev); err == nil || errors.As(err, &snooze) {
		t.Fatalf("Notify during a 500: %v, want a plain error", err)
	}
	if err := h.notifier.Notify(ctx, r, ev); err != nil {
		t.Fatal(err)
	}
	msgs := h.fake.Messages(testChannel)
	if len(msgs) != 2 || msgs[0].ThreadTS != "" || msgs[1].ThreadTS != msgs[0].TS {
		t.Errorf("after retries: %d messages %q, want one root and one reply", len(msgs), texts(msgs))
	}
	r.State = platform.Provisioning
	h.fake.Fail("chat.update", 1, http.StatusTooManyRequests, time.Second)
	ev2 := platform.Event{ID: 2, ResourceID: 7, Kind: platform.EventTransition, From: platform.Pending, To: platform.Provisioning}
	if err := h.notifier.Notify(ctx, r, ev2); !errors.As(err, &snooze) {
		t.Fatalf("chat.update 429: %v", err)
	}
	h.clock.Advance(time.Second)
	if err := h.notifier.Notify(ctx, r, ev2); err != nil {
		t.Fatal(err)
	}
	if msgs := h.fake.Messages(testChannel); len(msgs) != 3 || !strings.Contains(string(msgs[0].Blocks), "Provisioning") {
		t.Errorf("after the update: %q", texts(msgs))
	}
	var secret platform.Event
	secret.Kind = platform.EventSecret
	if err := h.notifier.Notify(ctx, r, secret); err != nil || len(h.fake.Messages(testChannel)) != 3 {
		t.Errorf("a secret event was posted publicly (%v)", err)
	}
}

func TestPrivateToNonSlackRequester(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	r := &platform.Resource{ID: 3, Name: "x", Requester: platform.Actor{ID: "console:bob"}}
	if err := h.notifier.Private(context.Background(), r, map[string]string{"password": "hunter2"}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.AllMessages()); n != 0 {
		t.Errorf("%d messages posted for a requester who is not on Slack", n)
	}
	if strings.Contains(h.logs.String(), "hunter2") {
		t.Error("the password was logged")
	}
	data, _ := json.Marshal(h.fake.Calls())
	if strings.Contains(string(data), "hunter2") {
		t.Error("the password was sent to Slack")
	}
}
