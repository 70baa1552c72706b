package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// A failed request's message in its thread carries the Retry button, and a
// failed deletion's the Forget button too, each running its command.
func TestFailedMessageButtonsGolden(t *testing.T) {
	t.Parallel()
	a := &Adapter{log: slog.New(slog.DiscardHandler)}
	r, _ := lifecycle()
	r.State, r.Reason = platform.Failed, "deprovisioning failed: database is in use"
	failed := map[string]platform.Event{
		"provisioning": {ID: 8, ResourceID: 12, Actor: platform.System, Kind: platform.EventTransition, From: platform.Provisioning, To: platform.Failed, Message: "the script exited with status 1"},
		"deletion":     {ID: 9, ResourceID: 12, Actor: platform.System, Kind: platform.EventTransition, From: platform.Deleting, To: platform.Failed, Message: "deprovisioning failed: database is in use"},
	}
	want := map[string][]string{
		"provisioning": {"Retry=idp_run_0:retry 12 (primary)"},
		"deletion": {"Retry=idp_run_0:retry 12 (primary)",
			`Forget (admins)=idp_ask_1:{"command":"forget 12","input":"Reason: why it cannot be deprovisioned","label":"Forget (admins)"} (danger)`},
	}
	for name, ev := range failed {
		m := a.render2(t, r, ev)
		golden(t, "failed_"+name, m)
		if got := labels(buttonsOf(t, blocksJSON(m))); strings.Join(got, "\n") != strings.Join(want[name], "\n") {
			t.Errorf("failed %s buttons = %q, want %q", name, got, want[name])
		}
		if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 {
			t.Errorf("Slack would reject the failed %s message: %q", name, p)
		}
	}
}

func (a *Adapter) render2(t *testing.T, r *platform.Resource, ev platform.Event) Msg {
	t.Helper()
	m, err := a.render(context.Background(), thread.Message{Kind: thread.Event, Resource: r, Event: ev, Actions: commands.EventActions(r, ev)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// failedMessage returns the reply in resource id's thread that tells it
// failed, once delivered.
func failedMessage(t *testing.T, h *harness, nth int) slackfake.Message {
	t.Helper()
	var found slackfake.Message
	slackfake.Eventually(t, 5*time.Second, "the failed message", func() bool {
		msgs := h.fake.Messages(testChannel)
		if len(msgs) == 0 {
			return false
		}
		n := 0
		for _, m := range h.fake.Replies(testChannel, msgs[0].TS) {
			if strings.HasPrefix(m.Text, ":x: *Failed*") {
				if n++; n == nth {
					found = m
					return true
				}
			}
		}
		return false
	})
	return found
}

// The Retry button of a failed request runs /idp retry as the clicker:
// the request is provisioned again and becomes ready.
func TestRetryButtonInTheThread(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, actions: commands.EventActions})
	f.Deliver(Platform, h.notifier)
	f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the script exited with status 1"), 1)
	r, _, err := f.Engine.Submit(context.Background(), aliceActor(), platform.Request{Service: "postgresql-database", Name: "orders-db",
		Team: "payments", Environment: "development", Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
	if err != nil {
		t.Fatal(err)
	}
	if r = f.Settle(r.ID, 5*time.Second); r.State != platform.Failed {
		t.Fatalf("state = %s, want failed", r.State)
	}
	failed := failedMessage(t, h, 1)
	h.click(alice, failed, false, "idp_run_0")
	if r = f.WaitState(r.ID, 5*time.Second, func(s platform.State) bool { return s == platform.Ready }); r.State != platform.Ready {
		t.Fatalf("after Retry: %s", r.State)
	}
	evs, _ := f.Store.Events(context.Background(), r.ID)
	var by string
	for _, ev := range evs {
		if ev.From == platform.Failed && ev.To == platform.Provisioning {
			by = ev.Actor.ID + ": " + ev.Message
		}
	}
	if by != "slack:"+alice.ID+": retry of provisioning by "+aliceActor().Display() {
		t.Errorf("retry event = %q", by)
	}
}

// After a failed deletion, the Forget button asks an admin for the reason
// and forgets the resource with it; anyone else is refused.
func TestForgetButtonInTheThread(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, actions: commands.EventActions})
	f.Deliver(Platform, h.notifier)
	r, _, err := f.Engine.Submit(context.Background(), aliceActor(), platform.Request{Service: "postgresql-database", Name: "orders-db",
		Team: "payments", Environment: "development", Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
	if err != nil {
		t.Fatal(err)
	}
	f.Settle(r.ID, 5*time.Second)
	f.Driver.Fail(platformtest.OpDeprovision, platformtest.Permanent("database is in use"), 1)
	if _, err := f.Engine.Delete(context.Background(), aliceActor(), r.Ref()); err != nil {
		t.Fatal(err)
	}
	f.WaitState(r.ID, 5*time.Second, func(s platform.State) bool { return s == platform.Failed })
	failed := failedMessage(t, h, 1)
	if !strings.Contains(failed.Text, "/idp forget #1 --reason") {
		t.Errorf("the failed deletion's message %q does not name forget", failed.Text)
	}
	h.interact(h.fake.Click(alice, failed, false, "idp_ask_1"))
	if ack := h.submit(h.lastView(), alice, map[string]string{actionInput: "it is gone"}); ack["response_action"] != "errors" ||
		!strings.Contains(fmt.Sprint(ack["errors"]), "Only admins can forget a resource") {
		t.Errorf("alice's forget = %v, want the refusal in the form", ack)
	}
	if got, _ := f.Store.Resource(context.Background(), r.ID); got.State != platform.Failed {
		t.Fatalf("a refused forget left %s", got.State)
	}
	h.interact(h.fake.Click(admin, failed, false, "idp_ask_1"))
	if ack := h.submit(h.lastView(), admin, map[string]string{actionInput: "the server was decommissioned"}); ack["response_action"] != "clear" {
		t.Fatalf("the admin's forget: %v", ack)
	}
	if got, _ := f.Store.Resource(context.Background(), r.ID); got.State != platform.Forgotten || got.Reason != "the server was decommissioned" {
		t.Errorf("after the admin's forget: %s %q", got.State, got.Reason)
	}
}
