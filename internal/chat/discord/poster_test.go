package discord

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

const (
	routeMessages = "POST /channels/{channel_id}/messages"
	routeThread   = "POST /channels/{channel_id}/messages/{message_id}/threads"
	routeGet      = "GET /channels/{channel_id}/messages/{message_id}"
)

// approvalCard is a card as the approval job posts it.
func approvalCard() commands.Reply {
	return commands.Reply{
		Title: "Approval needed: orders-db #12",
		Sections: []commands.Section{{Heading: "postgresql-database for payments in production", Fields: []commands.KV{
			{Key: "Requested by", Value: "alice"}, {Key: "Parameters", Value: "size=large high_availability=true"},
		}}},
		Actions: []commands.Action{
			{Label: "Approve", Command: "approve 12", Style: "primary"},
			{Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"},
		},
	}
}

// calls returns the routes of the calls the fake received.
func routes(cs []discordtest.Call) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Route)
	}
	return out
}

func TestPostAndPostInThread(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	ref, err := h.notifier.Post(ctx, requestsChannel, approvalCard())
	if err != nil {
		t.Fatalf("Post = %v", err)
	}
	posted := h.fake.Calls(routeMessages)
	if len(posted) != 1 {
		t.Fatalf("%d messages posted, want 1", len(posted))
	}
	var body any
	if err := json.Unmarshal(posted[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	golden(t, "post_card", body)
	card, ok := h.fake.Message(ref)
	if !ok || card.ChannelID != requestsChannel || !strings.Contains(string(card.Components), `"custom_id":"idp:run:approve 12"`) {
		t.Fatalf("Post returned %q, message %+v; want the card with its buttons in the channel", ref, card)
	}
	// A retry after a lost response is the same message.
	if again, err := h.notifier.Post(ctx, requestsChannel, approvalCard()); err != nil || again != ref {
		t.Errorf("Post again = %q, %v; want the same message %s", again, err, ref)
	}

	// The first message in the thread starts it, named after the card;
	// the next ones go straight in.
	if err := h.notifier.PostInThread(ctx, requestsChannel, ref, commands.Reply{Title: "Approved by bob"}); err != nil {
		t.Fatalf("PostInThread = %v", err)
	}
	if err := h.notifier.PostInThread(ctx, requestsChannel, ref, commands.Reply{Title: "Provisioning started", Actions: []commands.Action{{Label: "Status", Command: "status #12"}}}); err != nil {
		t.Fatalf("second PostInThread = %v", err)
	}
	th, ok := h.fake.Channel(ref)
	if !ok || th.Type != discordgo.ChannelTypeGuildPublicThread || th.ParentID != requestsChannel || th.Name != "Approval needed: orders-db #12" {
		t.Fatalf("thread = %+v, want a public thread of the requests channel named after the card", th)
	}
	ms := h.fake.Messages(ref)
	if diff := cmp.Diff([]string{"**Approved by bob**", "**Provisioning started**"}, contents(ms)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if len(ms) == 2 && !strings.Contains(string(ms[1].Components), "idp:run:status #12") {
		t.Errorf("thread message components = %s, want the Status button", ms[1].Components)
	}
	if got := routes(h.fake.Calls(routeThread, routeGet)); !cmp.Equal(got, []string{routeGet, routeThread}) {
		t.Errorf("thread calls = %q, want one read of the card and one thread started", got)
	}
	if got := h.fake.Messages(requestsChannel); len(got) != 1 {
		t.Errorf("%d messages in the channel, want only the card", len(got))
	}
	// A thread someone else started (another replica, a person) is used.
	other, err := h.notifier.Post(ctx, testChannel, commands.Reply{Title: "Support ticket 7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.adapter.s.MessageThreadStartComplex(testChannel, other, &discordgo.ThreadStart{Name: "by hand"}); err != nil {
		t.Fatal(err)
	}
	if err := h.notifier.PostInThread(ctx, testChannel, other, commands.Reply{Title: "Answered"}); err != nil {
		t.Fatalf("PostInThread in an existing thread = %v", err)
	}
	if got := contents(h.fake.Messages(other)); !cmp.Equal(got, []string{"**Answered**"}) {
		t.Errorf("existing thread holds %q", got)
	}
	// A command too long for a button is posted as text, and logged.
	long := commands.Reply{Title: "Digest", Actions: []commands.Action{{Label: "Everything", Command: "list --all " + strings.Repeat("--team payments ", 10)}}}
	id, err := h.notifier.Post(ctx, testChannel, long)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := h.fake.Message(id); !strings.Contains(m.Content, "Everything: `/idp run text:list --all --team payments") || len(m.Components) != 0 {
		t.Errorf("posted %q with components %s, want the command as text", m.Content, m.Components)
	}
	if !strings.Contains(h.logs.String(), "action shown as text instead of a button") {
		t.Errorf("logs do not report the action that is not a button:\n%s", h.logs)
	}
}

func TestPostInThreadWhereThreadsCannotBe(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	// Direct messages have no threads: the post answers the card.
	dm, err := h.adapter.DirectChannel(ctx, platform.Actor{ID: "discord:" + alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := h.notifier.Post(ctx, dm, commands.Reply{Title: "How likely are you to recommend the platform?"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.notifier.PostInThread(ctx, dm, ref, commands.Reply{Title: "Thanks!"}); err != nil {
		t.Fatalf("PostInThread in a DM = %v", err)
	}
	ms := h.fake.Messages(dm)
	if len(ms) != 2 || ms[1].ReplyTo != ref || ms[1].Content != "**Thanks!**" {
		t.Errorf("direct messages = %+v, want the card and an answer to it", ms)
	}
	// A deleted card: the post goes in its channel.
	gone, err := h.notifier.Post(ctx, testChannel, commands.Reply{Title: "Weekly digest"})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.DeleteMessage(gone)
	if err := h.notifier.PostInThread(ctx, testChannel, gone, commands.Reply{Title: "Corrected figures"}); err != nil {
		t.Fatalf("PostInThread under a deleted message = %v", err)
	}
	if got := contents(h.fake.Messages(testChannel)); !cmp.Equal(got, []string{"**Corrected figures**"}) {
		t.Errorf("channel holds %q, want the post", got)
	}
}

func TestPostErrors(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	card := approvalCard()
	var rl interface{ RetryAfter() time.Duration }

	h.fake.RateLimit(routeMessages, 1, 2500*time.Millisecond)
	_, err := h.notifier.Post(ctx, testChannel, card)
	if !errors.As(err, &rl) || rl.RetryAfter() != 2500*time.Millisecond {
		t.Errorf("Post rate limited = %v, want a RetryAfter of 2.5s", err)
	}
	// The channel's bucket is closed for that long: the next post waits
	// its turn without calling the API, until the wait is over.
	if _, err := h.notifier.Post(ctx, testChannel, card); !errors.As(err, &rl) || !platform.NotSent(err) {
		t.Errorf("Post during the wait = %v, want it held back", err)
	}
	h.clock.Advance(2500 * time.Millisecond)
	ref, err := h.notifier.Post(ctx, testChannel, card)
	if err != nil {
		t.Fatalf("Post after the rate limit = %v", err)
	}
	h.fake.RateLimit(routeMessages, 1, time.Second)
	err = h.notifier.PostInThread(ctx, testChannel, ref, commands.Reply{Title: "Approved"})
	if !errors.As(err, &rl) || rl.RetryAfter() != time.Second {
		t.Errorf("PostInThread rate limited = %v, want a RetryAfter of 1s", err)
	}
	h.clock.Advance(time.Second)

	h.fake.Inject(discordtest.Fault{Route: routeMessages, Times: 1, Status: http.StatusServiceUnavailable})
	_, err = h.notifier.Post(ctx, testChannel, card)
	if err == nil || errors.As(err, &rl) || platform.ErrorCode(err) != platform.Internal {
		t.Errorf("Post with Discord failing = %v (code %s), want a plain error to retry", err, platform.ErrorCode(err))
	}

	h.fake.DeleteChannel(testChannel)
	_, err = h.notifier.Post(ctx, testChannel, card)
	if platform.ErrorCode(err) != platform.NotFound || !strings.Contains(platform.ErrorMessage(err), testChannel) {
		t.Errorf("Post in a deleted channel = %v (code %s), want not found", err, platform.ErrorCode(err))
	}
	err = h.notifier.PostInThread(ctx, testChannel, ref, commands.Reply{Title: "Approved"})
	if platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("PostInThread in a deleted channel = %v (code %s), want not found", err, platform.ErrorCode(err))
	}

	for _, tc := range []struct {
		name    string
		channel string
		reply   commands.Reply
	}{
		{"not a channel id", "#general", card},
		{"empty reply", requestsChannel, commands.Reply{}},
	} {
		if _, err := h.notifier.Post(ctx, tc.channel, tc.reply); platform.ErrorCode(err) != platform.Invalid {
			t.Errorf("Post (%s) = %v, want invalid", tc.name, err)
		}
	}
	if err := h.notifier.PostInThread(ctx, requestsChannel, "../x", card); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("PostInThread under a bad ref = %v, want invalid", err)
	}
	if n := len(h.fake.Messages(requestsChannel)); n != 0 {
		t.Errorf("invalid posts sent %d messages", n)
	}
}

// TestChannelMembers: a channel everyone on the server sees counts the
// server's members, the bot not counted; a channel hidden from @everyone,
// a server whose @everyone sees nothing, a direct message and a thread
// are unknown (0), as Discord does not list them without a privileged
// intent; a rate limit is returned to wait on.
func TestChannelMembers(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	const guild, closed = "900000000000000001", "900000000000000002"
	h.fake.AddGuild(discordtest.Guild{ID: guild, Members: 42, EveryonePermissions: discordgo.PermissionViewChannel | discordgo.PermissionSendMessages})
	h.fake.AddGuild(discordtest.Guild{ID: closed, Members: 9, EveryonePermissions: discordgo.PermissionSendMessages})
	everyone := func(allow, deny int64) discordgo.PermissionOverwrite {
		return discordgo.PermissionOverwrite{ID: guild, Type: discordgo.PermissionOverwriteTypeRole, Allow: allow, Deny: deny}
	}
	h.fake.AddGuildChannel("910000000000000001", guild)
	h.fake.AddGuildChannel("910000000000000002", guild, everyone(0, discordgo.PermissionViewChannel))
	h.fake.AddGuildChannel("910000000000000003", guild, discordgo.PermissionOverwrite{ID: "77", Type: discordgo.PermissionOverwriteTypeRole, Deny: discordgo.PermissionViewChannel})
	h.fake.AddGuildChannel("910000000000000004", closed)
	h.fake.AddGuildChannel("910000000000000005", closed, discordgo.PermissionOverwrite{ID: closed, Type: discordgo.PermissionOverwriteTypeRole, Allow: discordgo.PermissionViewChannel})
	for _, tc := range []struct {
		channel string
		want    int
	}{
		{"910000000000000001", 41}, // everyone sees it
		{"910000000000000002", 0},  // hidden from @everyone
		{"910000000000000003", 41}, // hidden from one role only: still about everyone
		{"910000000000000004", 0},  // @everyone sees no channel of that server
		{"910000000000000005", 8},  // but this one is opened to @everyone
		{testChannel, 0},           // no server known: a channel of the harness
	} {
		got, err := h.adapter.ChannelMembers(ctx, tc.channel)
		if err != nil || got != tc.want {
			t.Errorf("ChannelMembers(%s) = %d, %v; want %d", tc.channel, got, err, tc.want)
		}
	}
	var rl interface{ RetryAfter() time.Duration }
	h.fake.RateLimit("GET /channels/{channel_id}", 1, 2*time.Second)
	if _, err := h.adapter.ChannelMembers(ctx, "910000000000000001"); !errors.As(err, &rl) {
		t.Errorf("ChannelMembers rate limited = %v, want a RetryAfter", err)
	}
	if _, err := h.adapter.ChannelMembers(ctx, "#general"); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("ChannelMembers(#general) = %v, want invalid", err)
	}
	h.fake.DeleteChannel("910000000000000001")
	if _, err := h.adapter.ChannelMembers(ctx, "910000000000000001"); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("ChannelMembers of a deleted channel = %v, want not found", err)
	}
}

// TestVerify: the bot token is checked with GET /users/@me; Discord out of
// reach leaves the adapter not ready until a check succeeds; a token
// Discord refuses is Forbidden, with what to do.
func TestVerify(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ctx := context.Background()
	if err := h.adapter.Verify(ctx); err != nil || h.adapter.Ready() != nil {
		t.Fatalf("Verify = %v, Ready = %v", err, h.adapter.Ready())
	}
	h.fake.Inject(discordtest.Fault{Route: "GET /users/@me", Times: 1, Status: http.StatusServiceUnavailable})
	if err := h.adapter.Verify(ctx); err == nil || platform.ErrorCode(err) == platform.Forbidden {
		t.Errorf("Verify with Discord down = %v, want a plain error", err)
	}
	if err := h.adapter.Ready(); err == nil || !strings.Contains(err.Error(), "discord bot token not verified") {
		t.Errorf("Ready after a failed Verify = %v", err)
	}
	if err := h.adapter.Verify(ctx); err != nil || h.adapter.Ready() != nil {
		t.Errorf("Verify once Discord answers = %v, Ready = %v", err, h.adapter.Ready())
	}

	h.fake.Lenient() // the wrong token is the point
	bad, err := New(Config{BotToken: "not-the-token", AppID: discordtest.AppID, PublicKey: h.key.Public, APIURL: h.fake.URL(),
		Engine: f.Engine})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Verify(ctx)
	if platform.ErrorCode(err) != platform.Forbidden || !strings.Contains(platform.ErrorMessage(err), "Discord refused DISCORD_BOT_TOKEN") ||
		strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("Verify with a wrong token = %v", err)
	}
	if bad.Ready() == nil {
		t.Error("ready with a wrong token")
	}
}
