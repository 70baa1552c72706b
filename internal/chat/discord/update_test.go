package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform"
)

func TestUpdateSubcommand(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	f.Settle(1, 5*time.Second)

	resp := h.send(h.fake.Command(alice, testChannel, discordtest.Sub("update", discordtest.String("name", "orders-db"))))
	for _, w := range []string{"Update orders-db #1", "size", "small (one of small, medium, large)"} {
		if !strings.Contains(resp.Data.text(), w) {
			t.Errorf("update without values: %s does not contain %q", resp.Data.text(), w)
		}
	}
	resp = h.send(h.fake.Command(alice, testChannel, discordtest.Sub("update", discordtest.String("name", "orders-db"), discordtest.String("values", "size=medium"))))
	for _, w := range []string{"🔄 Updating **orders-db** #1", "size: small → medium"} {
		if !strings.Contains(resp.Data.text(), w) {
			t.Errorf("update: %s does not contain %q", resp.Data.text(), w)
		}
	}
	r := f.Settle(1, 5*time.Second)
	if r.State != platform.Ready || r.Parameters["size"] != "medium" {
		t.Errorf("after /idp update: %s %v", r.State, r.Parameters)
	}
}
