package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
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

// retry, credentials and forget are subcommands of their own.
func TestDayTwoSubcommands(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the script exited with status 1"), 1)
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	if r := f.Settle(1, 5*time.Second); r.State != platform.Failed {
		t.Fatalf("before the retry: %s, want failed", r.State)
	}
	steps := []struct {
		sub  discordtest.Option
		want string
	}{
		{discordtest.Sub("retry", discordtest.String("name", "orders-db")), "Retrying the provisioning of orders-db #1"},
		{discordtest.Sub("credentials", discordtest.String("name", "orders-db")), "shown only once"},
		{discordtest.Sub("credentials", discordtest.String("name", "orders-db"), discordtest.Boolean("rotate", true)), "cannot be rotated by its driver"},
		{discordtest.Sub("forget", discordtest.String("name", "orders-db"), discordtest.String("reason", "it's locked")), "Only admins can forget"},
	}
	for i, s := range steps {
		resp := h.send(h.fake.Command(alice, testChannel, s.sub))
		if !strings.Contains(resp.Data.text(), s.want) {
			t.Errorf("step %d: %s does not contain %q", i, resp.Data.text(), s.want)
		}
		if i == 0 {
			if r := f.Settle(1, 5*time.Second); r.State != platform.Ready {
				t.Fatalf("after /idp retry: %s, want ready", r.State)
			}
		}
	}
}
