package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

// The test server trusts local connections, so a wrong password would
// still log in: the old password's refusal is checked against the
// verifier the server stores in pg_authid, which is what a server that
// checks passwords compares with.
func TestRotate(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, map[string]any{"size": "medium"})
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})
	first, err := d.Provision(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	before, _ := lookupRoleInfo(t, admin, name)

	var got steps
	secrets, err := d.Rotate(ctx, platform.Job{Resource: res, Step: got.add})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if diff := cmp.Diff([]string{"setting a new password for role " + name}, got.take()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	oldPW, newPW := first.Secrets["password"], secrets["password"]
	if len(newPW) != passwordLength || newPW == oldPW {
		t.Fatalf("new password has %d characters and equals the old: %v", len(newPW), newPW == oldPW)
	}
	if !passwordMatches(t, admin, name, newPW) {
		t.Error("the server does not accept the new password")
	}
	if passwordMatches(t, admin, name, oldPW) {
		t.Error("the server still accepts the old password")
	}
	if want := strings.Replace(first.Secrets["url"], oldPW, newPW, 1); secrets["url"] != want {
		t.Errorf("url = %q, want the first one with the new password", secrets["url"])
	}
	user := connect(t, secrets["url"])
	var who string
	if err := user.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != name {
		t.Errorf("connected with the new url as %q (%v), want %s", who, err, name)
	}
	after, _ := lookupRoleInfo(t, admin, name)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("rotation changed the role's attributes (-before +after):\n%s", diff)
	}
}

func TestRotateRefused(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	d := New(Config{AdminURL: adminURL})

	gone := testResource(t, admin, nil)
	_, err := d.Rotate(ctx, platform.Job{Resource: gone})
	if platform.ErrorCode(err) != platform.Conflict || !platform.IsPermanent(err) || !strings.Contains(platform.ErrorMessage(err), "no longer exists") {
		t.Errorf("Rotate(no role) = %v, want a permanent Conflict saying the role is gone", err)
	}

	foreign := testResource(t, admin, nil)
	name := identifier(foreign.Team, foreign.Environment, foreign.Name)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+name+" LOGIN PASSWORD 'theirs'"); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", name).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	_, err = d.Rotate(ctx, platform.Job{Resource: foreign})
	if platform.ErrorCode(err) != platform.Conflict || !strings.Contains(platform.ErrorMessage(err), "idpbot did not create it") {
		t.Errorf("Rotate(foreign role) = %v, want a Conflict saying idpbot did not create it", err)
	}
	var now string
	if err := admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", name).Scan(&now); err != nil || now != stored {
		t.Errorf("a foreign role's password changed (%v)", err)
	}
}
