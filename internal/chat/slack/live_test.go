package slack

import (
	"testing"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/commands"
)

// liveReply is a status reply with the Live section the router builds
// beside the record (see commands.liveSection).
func liveReply() commands.Reply {
	return commands.Reply{Title: "orders-db #12: ready", Ephemeral: true, Sections: []commands.Section{
		{Fields: []commands.KV{{Key: "Service", Value: "postgresql-database (database)"}, {Key: "Team", Value: "payments"},
			{Key: "Environment", Value: "development"}, {Key: "State", Value: "ready"}}},
		{Heading: "Live", Fields: []commands.KV{
			{Key: "Health", Value: "missing (does not match the record)"},
			{Key: "Summary", Value: "the database is missing — deleted outside idpbot?"},
			{Key: "database", Value: "payments_development_orders_db → absent (differs)"},
			{Key: "role", Value: "payments_development_orders_db → exists (ok)"},
			{Key: "Read at", Value: "2026-03-02 13:03:41 UTC (1s ago)"},
		}},
		{Heading: "History", Text: "13:02:00  pending  requested by alice\n13:02:09  ready    ready"},
	}}
}

func TestReplyStatusLiveGolden(t *testing.T) {
	t.Parallel()
	m := ReplyMessage(liveReply())
	golden(t, "reply_status_live", m)
	if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 {
		t.Errorf("Slack would reject the reply: %q", p)
	}
	for _, want := range []string{"Live", "missing (does not match the record)", "→ absent (differs)", "Read at"} {
		if !contains(m, want) {
			t.Errorf("the status reply lacks %q", want)
		}
	}
}
