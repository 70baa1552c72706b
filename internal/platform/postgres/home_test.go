package postgres_test

import (
	"context"
	"testing"

	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

func TestHomeOpeners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	slack, discord := postgres.NewHomeOpeners(pool, "slack"), postgres.NewHomeOpeners(pool, "discord")
	has := func(h *postgres.HomeOpeners, user string) bool {
		t.Helper()
		ok, err := h.HasOpenedHome(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if has(slack, "U0ALICE") {
		t.Error("alice opened nothing yet")
	}
	for range 2 { // opening again is fine
		if err := slack.OpenedHome(ctx, "U0ALICE"); err != nil {
			t.Fatal(err)
		}
	}
	if !has(slack, "U0ALICE") || has(slack, "U0BOB") || has(discord, "U0ALICE") {
		t.Error("openers are per user and per platform")
	}
	// Another replica (another value on the same database) knows it too.
	if !has(postgres.NewHomeOpeners(pool, "slack"), "U0ALICE") {
		t.Error("a second HomeOpeners does not see alice's opening")
	}
}
