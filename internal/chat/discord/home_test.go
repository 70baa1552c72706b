package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
)

func TestHomeSubcommand(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	f.Settle(1, 5*time.Second)

	resp := h.send(h.fake.Command(alice, testChannel, discordtest.Sub("home")))
	ephemeralContent(t, resp)
	text := resp.Data.text()
	for _, want := range []string{"Your idpbot home", "Your teams' resources", "orders-db #1", "Catalog", "PostgreSQL Database"} {
		if !strings.Contains(text, want) {
			t.Errorf("/idp home lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Waiting for your approval") {
		t.Errorf("alice approves nothing; her home shows approvals:\n%s", text)
	}
	buttons := string(resp.Data.Components)
	for _, want := range []string{"Status #1", "Delete #1", "Create postgresql-database"} {
		if !strings.Contains(buttons, want) {
			t.Errorf("/idp home has no button %q: %s", want, buttons)
		}
	}
	if n := len(resp.Data.rows()); n > maxRows {
		t.Errorf("/idp home has %d rows of buttons", n)
	}

	for _, tc := range []struct {
		name string
		opts []discordtest.Option
		want string
	}{
		{"list state", []discordtest.Option{discordtest.Sub("list", discordtest.String("state", "ready"))}, "1 resource of your teams, ready"},
		{"list state typo", []discordtest.Option{discordtest.Sub("list", discordtest.String("state", "redy"))}, "Did you mean ready?"},
		{"list pending", []discordtest.Option{discordtest.Sub("list", discordtest.Boolean("pending", true))}, "You are not an approver; /idp list shows your team's resources."},
	} {
		resp := h.send(h.fake.Command(alice, testChannel, tc.opts...))
		ephemeralContent(t, resp)
		if !strings.Contains(resp.Data.text(), tc.want) {
			t.Errorf("%s: %s, want %q", tc.name, resp.Data.text(), tc.want)
		}
	}
}
