package jobs

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// A change waiting for approval is posted to the approvals channels, as a
// notice without buttons; other notes are not.
func TestChangeRequestTellsTheApprovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	e := testEnqueuer(t, pool, map[string]string{"slack": "C0APPROVALS"})
	r := &platform.Resource{ID: 5, Name: "prod-db", Service: "postgresql-database", Team: "payments", Environment: "production", State: platform.Ready}
	events := []platform.Event{
		{ID: 1, ResourceID: 5, Kind: platform.EventNote, Message: "expiry extended by 7d"},
		{ID: 2, ResourceID: 5, Kind: platform.EventNote, Message: "change requested by dev1: size: small → medium; needs 1 approval(s)"},
	}
	for _, ev := range events {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return e.OnEvent(ctx, tx, r, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT args FROM river_job WHERE kind = $1`, PostArgs{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	var posts []PostArgs
	for rows.Next() {
		var raw []byte
		var p PostArgs
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		posts = append(posts, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(posts) != 1 {
		t.Fatalf("posts = %+v, want one notice", posts)
	}
	p := posts[0]
	if p.Channel != "C0APPROVALS" || p.ResourceID != 0 || len(p.Actions) != 0 ||
		!strings.HasPrefix(p.Title, "Change waiting for approval: prod-db #5") || len(p.Sections) == 0 || !strings.Contains(p.Sections[0].Text, "size: small → medium") {
		t.Errorf("notice = %+v", p)
	}
}
