package discord

import (
	"context"
	"log/slog"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// A failed request's message in its thread carries the Retry button, and a
// failed deletion's the Forget button too.
func TestFailedMessageButtonsGolden(t *testing.T) {
	t.Parallel()
	a := &Adapter{log: slog.New(slog.DiscardHandler)}
	r := resource(platform.Failed)
	failed := map[string]platform.Event{
		"provisioning": {ID: 8, ResourceID: 12, Kind: platform.EventTransition, From: platform.Provisioning, To: platform.Failed, Message: "the script exited with status 1"},
		"deletion":     {ID: 9, ResourceID: 12, Kind: platform.EventTransition, From: platform.Deleting, To: platform.Failed, Message: "deprovisioning failed: database is in use"},
	}
	want := map[string][]string{"provisioning": {"Retry"}, "deletion": {"Retry", "Forget (admins)"}}
	for name, ev := range failed {
		ms, err := a.renderMessage(context.Background(), thread.Message{Kind: thread.Event, Resource: r, Event: ev, Actions: commands.EventActions(r, ev)})
		if err != nil || len(ms) != 1 {
			t.Fatalf("render failed %s = %d messages, %v", name, len(ms), err)
		}
		golden(t, "failed_"+name, ms[0])
		checkMessage(t, ms[0])
		var got []string
		for _, row := range ms[0].Components {
			if r, ok := row.(discordgo.ActionsRow); ok {
				for _, c := range r.Components {
					if b, ok := c.(discordgo.Button); ok {
						got = append(got, b.Label)
					}
				}
			}
		}
		if len(got) != len(want[name]) || got[0] != "Retry" || len(got) == 2 && got[1] != want[name][1] {
			t.Errorf("failed %s buttons = %q, want %q", name, got, want[name])
		}
	}
}
