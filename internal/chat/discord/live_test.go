package discord

import (
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/commands"
)

func TestReplyStatusLiveGolden(t *testing.T) {
	t.Parallel()
	// Built here rather than by the router, so that the golden pins the
	// renderer of the Live section the router adds beside the record.
	rep := commands.Reply{Title: "orders-db #12: ready", Ephemeral: true, Sections: []commands.Section{
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
	m := ReplyMessage(rep)
	checkMessage(t, m)
	golden(t, "reply_status_live", m)
	var live bool
	for _, e := range m.Embeds {
		if e.Title == "Live" {
			live = true
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Name+"="+f.Value)
			}
			if s := strings.Join(got, ";"); !strings.Contains(s, "Health=missing") || !strings.Contains(s, "→ absent (differs)") || !strings.Contains(s, "Read at=") {
				t.Errorf("the Live embed's fields = %s", s)
			}
		}
	}
	if !live {
		t.Errorf("no Live embed in %+v", m.Embeds)
	}
}
