package postgres

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestUpdateFollowsTheSize(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, map[string]any{"size": "small", "backup_retention_days": int64(7)})
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})
	first, err := d.Provision(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if ri, _ := lookupRoleInfo(t, admin, name); ri.ConnLimit != 20 {
		t.Fatalf("connection limit after Provision = %d, want 20", ri.ConnLimit)
	}

	old := res.Parameters
	next := *res
	next.Parameters = map[string]any{"size": "medium", "backup_retention_days": int64(14)}
	var got steps
	// Twice: an update is idempotent.
	for i := range 2 {
		out, err := d.Update(ctx, platform.Job{Resource: &next, Step: got.add}, old)
		if err != nil {
			t.Fatalf("Update %d: %v", i+1, err)
		}
		if out.Outputs["connection_limit"] != "50" || len(out.Secrets) != 0 {
			t.Errorf("Update result = %+v, want connection_limit 50 and no secrets", out)
		}
	}
	ri, ok := lookupRoleInfo(t, admin, name)
	if !ok || ri.ConnLimit != 50 {
		t.Errorf("connection limit read back from pg_roles = %d (exists %v), want 50", ri.ConnLimit, ok)
	}
	want := []string{
		"setting the connection limit of role " + name + " to 50 (was 20)",
		"recording settings (high availability: no, backups: 14 days)",
	}
	if diff := cmp.Diff(append(want, want...), got.take()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	// The password delivered at provisioning still works.
	if !passwordMatches(t, admin, name, first.Secrets["password"]) {
		t.Error("the update changed the role's password")
	}
	var comment string
	if err := admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment); err != nil {
		t.Fatal(err)
	}
	m, ok := parseMarker(&comment)
	if !ok || m.BackupRetentionDays == nil || *m.BackupRetentionDays != 14 {
		t.Errorf("database comment %q does not record 14 days of backups", comment)
	}

	next.Parameters = map[string]any{"size": "large"}
	if _, err := d.Update(ctx, platform.Job{Resource: &next}, map[string]any{"size": "medium"}); err != nil {
		t.Fatal(err)
	}
	if ri, _ := lookupRoleInfo(t, admin, name); ri.ConnLimit != 100 {
		t.Errorf("connection limit for large = %d, want 100", ri.ConnLimit)
	}
}

func TestUpdateOfAMissingDatabaseFails(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	res := testResource(t, admin, map[string]any{"size": "medium"})
	d := New(Config{AdminURL: adminURL})
	_, err := d.Update(context.Background(), platform.Job{Resource: res}, map[string]any{"size": "small"})
	if !platform.IsPermanent(err) {
		t.Fatalf("Update of what was never provisioned = %v, want a permanent error", err)
	}
	name := identifier(res.Team, res.Environment, res.Name)
	if _, ok := lookupRoleInfo(t, admin, name); ok {
		t.Error("Update created a role")
	}
}
