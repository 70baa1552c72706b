package postgres_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

func TestChangesRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r := created(t, s, newResource("postgresql-database", "orders-db", "production"))
	if _, err := s.OpenChange(ctx, r.ID); platform.ErrorCode(err) != platform.NotFound {
		t.Fatalf("OpenChange before any = %v, want NotFound", err)
	}
	c := &platform.Change{
		ResourceID: r.ID, Actor: alice, Status: platform.ChangePending, Needed: 1,
		Old: map[string]any{"size": "small", "backup_retention_days": int64(7)},
		New: map[string]any{"size": "medium", "backup_retention_days": int64(7)},
	}
	if err := s.AddChange(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenChange(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("OpenChange mismatch (-added +read):\n%s", diff)
	}
	if pending, err := s.PendingChanges(ctx, 10); err != nil || len(pending) != 1 || pending[0].ID != c.ID {
		t.Errorf("PendingChanges = %v, %v; want the change %d", pending, err, c.ID)
	}
	// One open change per resource.
	second := &platform.Change{ResourceID: r.ID, Actor: alice, Status: platform.ChangeApplying}
	if err := s.AddChange(ctx, second); platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("second AddChange = %v, want Conflict", err)
	}
	got.Approvers = []platform.Actor{{ID: "console:approver", Name: "approver"}}
	got.Status = platform.ChangeApplying
	if err := s.SaveChange(ctx, got); err != nil {
		t.Fatal(err)
	}
	read, err := s.OpenChange(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingChanges(ctx, 10); err != nil || len(pending) != 0 {
		t.Errorf("PendingChanges of an applying change = %v, %v; want none", pending, err)
	}
	if read.Status != platform.ChangeApplying || len(read.Approvers) != 1 || read.Approvers[0].ID != "console:approver" {
		t.Errorf("after SaveChange: %s %+v", read.Status, read.Approvers)
	}
	read.Status = platform.ChangeApplied
	if err := s.SaveChange(ctx, read); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenChange(ctx, r.ID); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("OpenChange after applied = %v, want NotFound", err)
	}
	if err := s.AddChange(ctx, second); err != nil {
		t.Errorf("AddChange after the first closed = %v", err)
	}
	if err := s.SaveChange(ctx, &platform.Change{ID: 999}); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("SaveChange of no change = %v, want NotFound", err)
	}
}
