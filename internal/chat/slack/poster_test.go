package slack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

const requestsChannel = "C0REQUESTS"

func TestPostAndPostInThread(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	ref, err := h.notifier.Post(ctx, requestsChannel, approvalCard())
	if err != nil {
		t.Fatalf("Post = %v", err)
	}
	posted := h.fake.Calls("chat.postMessage")
	if len(posted) != 1 {
		t.Fatalf("%d messages posted, want 1", len(posted))
	}
	var blocks any
	if err := posted[0].JSON("blocks", &blocks); err != nil {
		t.Fatal(err)
	}
	golden(t, "post_card", map[string]any{"channel": posted[0].Params["channel"], "text": posted[0].Params["text"], "blocks": blocks})
	card := h.fake.Messages(requestsChannel)
	if len(card) != 1 || card[0].TS != ref || card[0].ThreadTS != "" {
		t.Fatalf("Post returned %q; channel holds %+v; want the card", ref, card)
	}
	if got := labels(buttonsOf(t, card[0].Blocks)); len(got) != 2 || !strings.HasPrefix(got[0], "Approve=idp_run_0:approve 12") {
		t.Errorf("card buttons = %q, want Approve and Reject", got)
	}

	// The first reply starts the card's thread; the next joins it.
	if err := h.notifier.PostInThread(ctx, requestsChannel, ref, commands.Reply{Title: "Approved by bob"}); err != nil {
		t.Fatalf("PostInThread = %v", err)
	}
	status := commands.Reply{Title: "Provisioning started", Actions: []commands.Action{{Label: "Status", Command: "status #12"}}}
	if err := h.notifier.PostInThread(ctx, requestsChannel, ref, status); err != nil {
		t.Fatalf("second PostInThread = %v", err)
	}
	replies := h.fake.Replies(requestsChannel, ref)
	if diff := cmp.Diff([]string{"Approved by bob", "Provisioning started"}, texts(replies)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if len(replies) == 2 && !cmp.Equal(labels(buttonsOf(t, replies[1].Blocks)), []string{"Status=idp_run_0:status #12"}) {
		t.Errorf("thread reply blocks = %s, want the Status button", replies[1].Blocks)
	}
	if n := len(h.fake.Messages(requestsChannel)); n != 3 {
		t.Errorf("%d messages in the channel, want the card and its two replies", n)
	}
	// A command too long for a button is posted as text, and logged.
	long := commands.Reply{Title: "Digest", Actions: []commands.Action{{Label: "Everything", Command: "list --all " + strings.Repeat("--team payments ", 150)}}}
	ts, err := h.notifier.Post(ctx, testChannel, long)
	if err != nil {
		t.Fatal(err)
	}
	if m := h.fake.Messages(testChannel); len(m) != 1 || m[0].TS != ts || !strings.Contains(string(m[0].Blocks), "Everything: `/idp list --all --team payments") ||
		buttonsOf(t, m[0].Blocks) != nil {
		t.Errorf("posted %+v, want the command as text and no button", m)
	}
	if !strings.Contains(h.logs.String(), "action shown as text instead of a button") {
		t.Errorf("logs do not report the action that is not a button:\n%s", h.logs)
	}
	for _, c := range h.fake.Calls() {
		if c.Method != "chat.postMessage" {
			t.Errorf("Post and PostInThread called %s", c.Method)
		}
	}
}

func TestPostErrors(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	card := approvalCard()
	var rl interface{ RetryAfter() time.Duration }

	h.fake.Fail("chat.postMessage", 1, http.StatusTooManyRequests, 2*time.Second)
	_, err := h.notifier.Post(ctx, testChannel, card)
	if !errors.As(err, &rl) || rl.RetryAfter() != 2*time.Second {
		t.Errorf("Post rate limited = %v, want a RetryAfter of 2s", err)
	}
	// The channel's bucket is closed for that long: the next post waits
	// its turn without calling the API, until the wait is over.
	if _, err := h.notifier.Post(ctx, testChannel, card); !errors.As(err, &rl) || !platform.NotSent(err) {
		t.Errorf("Post during the wait = %v, want it held back", err)
	}
	h.clock.Advance(2 * time.Second)
	ref, err := h.notifier.Post(ctx, testChannel, card)
	if err != nil {
		t.Fatalf("Post after the rate limit = %v", err)
	}
	h.fake.Fail("chat.postMessage", 1, http.StatusTooManyRequests, time.Second)
	err = h.notifier.PostInThread(ctx, testChannel, ref, commands.Reply{Title: "Approved"})
	if !errors.As(err, &rl) || rl.RetryAfter() != time.Second {
		t.Errorf("PostInThread rate limited = %v, want a RetryAfter of 1s", err)
	}
	h.clock.Advance(time.Second)
	h.fake.Fail("chat.postMessage", 1, http.StatusServiceUnavailable, 0)
	_, err = h.notifier.Post(ctx, testChannel, card)
	if err == nil || errors.As(err, &rl) || platform.ErrorCode(err) != platform.Internal {
		t.Errorf("Post with Slack failing = %v (code %s), want a plain error to retry", err, platform.ErrorCode(err))
	}

	for _, tc := range []struct {
		slackCode string
		code      platform.Code
		message   string
	}{
		{"channel_not_found", platform.NotFound, "The Slack channel C0GONE does not exist any more"},
		{"not_in_channel", platform.Forbidden, "idpbot may not post in the Slack channel C0GONE (not_in_channel): invite it"},
		{"is_archived", platform.Forbidden, "The Slack channel C0GONE is archived"},
	} {
		h.fake.DenyChannel("C0GONE", tc.slackCode)
		_, err := h.notifier.Post(ctx, "C0GONE", card)
		if platform.ErrorCode(err) != tc.code || !strings.HasPrefix(platform.ErrorMessage(err), tc.message) {
			t.Errorf("Post with %s = %v (code %s), want %s: %q", tc.slackCode, err, platform.ErrorCode(err), tc.code, tc.message)
		}
		if err := h.notifier.PostInThread(ctx, "C0GONE", ref, card); platform.ErrorCode(err) != tc.code {
			t.Errorf("PostInThread with %s = %v, want %s", tc.slackCode, err, tc.code)
		}
	}

	for _, tc := range []struct {
		name    string
		channel string
		reply   commands.Reply
	}{
		{"not a channel id", "#general", card},
		{"a token", "xoxb-1", card},
		{"empty reply", requestsChannel, commands.Reply{}},
	} {
		if _, err := h.notifier.Post(ctx, tc.channel, tc.reply); platform.ErrorCode(err) != platform.Invalid {
			t.Errorf("Post (%s) = %v, want invalid", tc.name, err)
		}
	}
	for _, bad := range []string{"", "../x", "1700000000", "1700000000.1; x"} {
		if err := h.notifier.PostInThread(ctx, requestsChannel, bad, card); platform.ErrorCode(err) != platform.Invalid {
			t.Errorf("PostInThread under %q = %v, want invalid", bad, err)
		}
	}
	if n := len(h.fake.Messages(requestsChannel)); n != 0 {
		t.Errorf("invalid posts sent %d messages", n)
	}
}

func TestChannelMembers(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	h.fake.SetChannel(slackfake.Channel{ID: "C0GENERAL", Members: 42, IsMember: true})
	h.fake.SetChannel(slackfake.Channel{ID: "C0PUBLIC", Members: 7})
	for channel, want := range map[string]int{"C0GENERAL": 41, "C0PUBLIC": 7} {
		if n, err := h.adapter.ChannelMembers(ctx, channel); err != nil || n != want {
			t.Errorf("ChannelMembers(%s) = %d, %v; want %d (the bot not counted)", channel, n, err, want)
		}
	}
	calls := h.fake.Calls("conversations.info")
	if len(calls) != 2 || calls[0].Params["include_num_members"] != "true" {
		t.Errorf("calls %+v, want conversations.info with include_num_members", calls)
	}
	if _, err := h.adapter.ChannelMembers(ctx, "C0NOWHERE"); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("ChannelMembers of an unknown channel = %v, want not found", err)
	}
	if _, err := h.adapter.ChannelMembers(ctx, "general"); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("ChannelMembers(general) = %v, want invalid", err)
	}
	h.fake.Fail("conversations.info", 1, http.StatusTooManyRequests, time.Second)
	var rl interface{ RetryAfter() time.Duration }
	if _, err := h.adapter.ChannelMembers(ctx, "C0GENERAL"); !errors.As(err, &rl) {
		t.Errorf("ChannelMembers rate limited = %v, want a RetryAfter", err)
	}
	// Without channels:read the count is unknown: 0 and no error.
	h.fake.Refuse("conversations.info", "missing_scope")
	if n, err := h.adapter.ChannelMembers(ctx, "C0GENERAL"); n != 0 || err != nil {
		t.Errorf("ChannelMembers without the scope = %d, %v; want 0, nil", n, err)
	}
	if !strings.Contains(h.logs.String(), "channels:read") {
		t.Error("the missing scope was not logged")
	}
}

// TestClickAckIsImmediate checks that a click is acknowledged at once,
// before its answer is posted, as Slack's 3 s window requires.
func TestClickAckIsImmediate(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ordersDB(t, f)
	card := statusCard(t, h)
	h.fake.Delay("chat.postEphemeral", 500*time.Millisecond)
	payload, err := h.fake.Click(alice, card, false, "idp_run_0")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status, body := h.post("/slack/interactions", slackfake.InteractionForm(payload))
	if took := time.Since(start); status != http.StatusOK || len(body) != 0 || took > 300*time.Millisecond {
		t.Errorf("click ack %d %q after %v, want an empty 200 before the answer is posted", status, body, took)
	}
	slackfake.Eventually(t, 5*time.Second, "the answer", func() bool { return len(h.fake.Ephemeral()) == 1 })
	var sent []any
	if err := h.fake.Ephemeral()[0].JSON("blocks", &sent); err != nil || len(sent) == 0 {
		t.Errorf("ephemeral answer blocks %v (%v), want the status rendered", sent, err)
	}
}
