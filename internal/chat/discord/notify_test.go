package discord

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/chat/thread/threadtest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// recordingNotifier passes deliveries to the adapter and keeps the errors.
type recordingNotifier struct {
	a    *thread.Notifier
	mu   sync.Mutex
	errs []error
}

func (n *recordingNotifier) Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error {
	return n.record(n.a.Notify(ctx, r, ev))
}

func (n *recordingNotifier) Private(ctx context.Context, r *platform.Resource, secrets map[string]string) error {
	return n.record(n.a.Private(ctx, r, secrets))
}

func (n *recordingNotifier) record(err error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		n.errs = append(n.errs, err)
	}
	return err
}

// deliveringHarness is the adapter with an in-memory engine whose events
// are delivered to it in order, once each, as the outbox does.
func deliveringHarness(t *testing.T, hc harnessConfig) (*harness, *platformtest.Fixture, *recordingNotifier) {
	t.Helper()
	f := fixture(t)
	hc.engine = f.Engine
	h := newHarness(t, hc)
	n := &recordingNotifier{a: h.notifier}
	f.Deliver(Platform, n)
	return h, f, n
}

// request creates orders-db as user from the interaction in, settles it
// and waits for its events to be delivered.
func request(t *testing.T, h *harness, f *platformtest.Fixture, in discordtest.Interaction) *platform.Resource {
	t.Helper()
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "recorded") {
		t.Fatalf("answer = %q", got)
	}
	r := f.Settle(1, 5*time.Second)
	f.Flush(5 * time.Second)
	return r
}

func ordersDB() []discordtest.Option {
	return create("postgresql-database", discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))
}

func TestRootInTheRequestsChannel(t *testing.T) {
	t.Parallel()
	h, f, n := deliveringHarness(t, harnessConfig{requests: requestsChannel})
	in := h.fake.Command(alice, testChannel, ordersDB()...)
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "Follow it in the thread in <#"+requestsChannel+">") {
		t.Errorf("answer = %q, want it to point to the requests channel", got)
	}
	f.Settle(1, 5*time.Second)
	f.Flush(5 * time.Second)
	if len(h.fake.Messages(testChannel)) != 0 || len(h.fake.Messages(requestsChannel)) != 1 {
		t.Errorf("root messages: %d in the command's channel, %d in the requests channel; want 0 and 1",
			len(h.fake.Messages(testChannel)), len(h.fake.Messages(requestsChannel)))
	}
	if n.errs != nil {
		t.Errorf("delivery errors: %v", n.errs)
	}
}

func TestThreadInDirectMessages(t *testing.T) {
	t.Parallel()
	h, f, n := deliveringHarness(t, harnessConfig{})
	in := h.fake.CommandInDM(alice, ordersDB()...)
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "Follow it in the thread in this conversation") {
		t.Errorf("answer = %q", got)
	}
	f.Settle(1, 5*time.Second)
	f.Flush(5 * time.Second)
	dm, _ := h.fake.DM(alice.ID)
	ms := h.fake.Messages(dm)
	// No thread in a DM: the root, replies to it, then the details.
	if len(ms) < 4 || len(ms[0].Embeds) != 1 || ms[1].ReplyTo != ms[0].ID || !strings.Contains(ms[len(ms)-1].Content, "password=") {
		t.Fatalf("direct messages = %q, want the root, replies to it and the connection details", contents(ms))
	}
	for _, m := range ms {
		if strings.Contains(m.Content, "were sent to") {
			t.Errorf("a note that details were sent, in the conversation that has them: %q", m.Content)
		}
	}
	if n.errs != nil {
		t.Errorf("delivery errors: %v", n.errs)
	}
}

func TestLostChannelMovesToDirectMessages(t *testing.T) {
	t.Parallel()
	h, f, n := deliveringHarness(t, harnessConfig{})
	// The thread is deleted while provisioning runs.
	release := f.Driver.Hold()
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, ordersDB()...)))
	f.Driver.WaitCalls(t, platformtest.OpProvision, 1, 5*time.Second)
	var root string
	h.fake.WaitFor(5*time.Second, "the thread", func() bool {
		ms := h.fake.Messages(testChannel)
		if len(ms) == 0 {
			return false
		}
		root = ms[0].ID
		th, ok := h.fake.Channel(root)
		return ok && len(th.Messages) >= 2
	})
	h.fake.DeleteChannel(root)
	release()
	f.Settle(1, 5*time.Second)
	f.Flush(5 * time.Second)
	dm, _ := h.fake.DM(alice.ID)
	ms := h.fake.Messages(dm)
	if len(ms) < 3 || ms[0].Embeds[0].Title != "⚙️ orders-db #1" && ms[0].Embeds[0].Title != "✅ orders-db #1" {
		t.Fatalf("direct messages = %q, want the story to go on there under a new root", contents(ms))
	}
	if n.errs != nil {
		t.Errorf("delivery errors: %v", n.errs)
	}
}

func TestRequesterWhoRefusesDirectMessages(t *testing.T) {
	t.Parallel()
	h, f, n := deliveringHarness(t, harnessConfig{})
	h.fake.RefuseDMs(alice.ID)
	request(t, h, f, h.fake.Command(alice, testChannel, ordersDB()...))
	root := h.fake.Messages(testChannel)[0]
	thread := contents(h.fake.Messages(root.ID))
	last := thread[len(thread)-1]
	if !strings.Contains(last, "could not be sent to <@"+alice.ID+">") {
		t.Errorf("last thread message = %q, want a note that the details could not be sent", last)
	}
	for _, m := range thread {
		if strings.Contains(m, "pw-") {
			t.Errorf("thread message shows the password: %q", m)
		}
	}
	if n.errs != nil {
		t.Errorf("delivery errors: %v", n.errs)
	}
}

func TestNotifyIsIdempotentAfterAPartialFirstAttempt(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	threads := &threadtest.Threads{}
	h := newHarness(t, harnessConfig{engine: f.Engine, threads: threads})
	r := resource(platform.Pending)
	r.ID = 7
	ev := platform.Event{ID: 1, Kind: platform.EventTransition, To: platform.Pending, Message: "requested by alice"}
	// The first attempt posts the root, then the thread cannot be started.
	h.fake.Inject(discordtest.Fault{Route: "POST /channels/{channel_id}/messages/{message_id}/threads", Times: 1, Status: 503})
	if err := h.notifier.Notify(context.Background(), r, ev); err == nil {
		t.Fatal("Notify with Discord down = nil, want an error to retry")
	}
	// The retry starts the thread from the root posted before; a third
	// delivery of the same event posts nothing new.
	for range 2 {
		if err := h.notifier.Notify(context.Background(), r, ev); err != nil {
			t.Fatalf("Notify = %v", err)
		}
	}
	roots := h.fake.Messages(testChannel)
	if len(roots) != 1 {
		t.Fatalf("%d root messages, want 1", len(roots))
	}
	th, _, _ := threads.Thread(context.Background(), 7, Platform)
	if diff := cmp.Diff([]string{"⏳ **Pending** — requested by alice"}, contents(h.fake.Messages(th.ThreadRef))); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	// A 429 is a RateLimitError with Discord's retry_after.
	h.fake.RateLimit("POST /channels/{channel_id}/messages", 1, 1500*time.Millisecond)
	err := h.notifier.Notify(context.Background(), r, platform.Event{ID: 2, Kind: platform.EventStep, Message: "creating role"})
	var rl interface{ RetryAfter() time.Duration }
	if !errors.As(err, &rl) || rl.RetryAfter() != 1500*time.Millisecond {
		t.Errorf("Notify rate limited = %v, want a RetryAfter of 1.5s", err)
	}
	// The thread's bucket waits that long; the test does not.
	h.clock.Advance(1500 * time.Millisecond)
	// So is one on the root's edit, and on opening the direct message.
	h.fake.RateLimit("PATCH /channels/{channel_id}/messages/{message_id}", 1, time.Second)
	r.State = platform.Provisioning
	err = h.notifier.Notify(context.Background(), r, platform.Event{ID: 3, Kind: platform.EventTransition, From: platform.Pending, To: platform.Provisioning})
	if !errors.As(err, &rl) || rl.RetryAfter() != time.Second {
		t.Errorf("Notify with the root's edit rate limited = %v, want a RetryAfter of 1s", err)
	}
	h.clock.Advance(time.Second)
	// alice's direct messages were opened as her story began; mallory's
	// are opened for the hand-over.
	other := *r
	other.Requester = platform.Actor{ID: Platform + ":" + mallory.ID, Name: mallory.Username}
	h.fake.RateLimit("POST /users/@me/channels", 1, 2*time.Second)
	err = h.notifier.Private(context.Background(), &other, map[string]string{"password": "x"})
	if !errors.As(err, &rl) || rl.RetryAfter() != 2*time.Second {
		t.Errorf("Private rate limited = %v, want a RetryAfter of 2s", err)
	}
	h.clock.Advance(2 * time.Second)
	if dm, ok := h.fake.DM(mallory.ID); ok && len(h.fake.Messages(dm)) != 0 {
		t.Errorf("a rate-limited Private sent %d messages", len(h.fake.Messages(dm)))
	}
}
