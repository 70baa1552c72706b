package slack

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
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
