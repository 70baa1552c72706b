package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, map[string]any{"size": "medium", "backup_retention_days": int64(14)})
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})
	job := platform.Job{Resource: res}
	result, err := d.Provision(ctx, job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	status := func() platform.LiveStatus {
		t.Helper()
		st, err := d.Status(ctx, job)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		for _, c := range st.Checks {
			if strings.Contains(c.Recorded+c.Live+c.Name, result.Secrets["password"]) {
				t.Errorf("check %+v holds the password", c)
			}
		}
		if strings.Contains(st.Summary, result.Secrets["password"]) {
			t.Errorf("summary %q holds the password", st.Summary)
		}
		return st
	}

	// Just provisioned: healthy, every check OK.
	st := status()
	wantChecks := []platform.LiveCheck{
		{Name: "role", Recorded: name, Live: name, OK: true},
		{Name: "login", Recorded: "yes", Live: "yes", OK: true},
		{Name: "connection limit", Recorded: "50", Live: "50", OK: true},
		{Name: "database", Recorded: name, Live: name, OK: true},
		{Name: "public access", Recorded: "none", Live: "none", OK: true},
		{Name: "high availability", Recorded: "no", Live: "no", OK: true},
		{Name: "backup retention days", Recorded: "14", Live: "14", OK: true},
	}
	if st.Health != platform.Healthy {
		t.Errorf("after Provision: Health = %q (%s), want healthy", st.Health, st.Summary)
	}
	if diff := cmp.Diff(wantChecks, st.Checks); diff != "" {
		t.Errorf("after Provision: checks mismatch (-want +got):\n%s", diff)
	}
	if want := "The database and its role exist; connection limit 50 as recorded."; st.Summary != want {
		t.Errorf("after Provision: Summary = %q, want %q", st.Summary, want)
	}

	// The limit changed behind the bot's back.
	id := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER ROLE "+id+" CONNECTION LIMIT 7"); err != nil {
		t.Fatal(err)
	}
	st = status()
	if st.Health != platform.Changed {
		t.Errorf("after ALTER ROLE: Health = %q (%s), want changed", st.Health, st.Summary)
	}
	wantLimit := platform.LiveCheck{Name: "connection limit", Recorded: "50", Live: "7"}
	if !containsCheck(st.Checks, wantLimit) {
		t.Errorf("after ALTER ROLE: checks = %+v, want one %+v", st.Checks, wantLimit)
	}
	if want := "Connection limit is 7, recorded 50 (size medium)."; st.Summary != want {
		t.Errorf("after ALTER ROLE: Summary = %q, want %q", st.Summary, want)
	}

	// Opened to everyone.
	if _, err := admin.Exec(ctx, "ALTER ROLE "+id+" CONNECTION LIMIT 50"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "GRANT CONNECT ON DATABASE "+id+" TO PUBLIC"); err != nil {
		t.Fatal(err)
	}
	st = status()
	wantPublic := platform.LiveCheck{Name: "public access", Recorded: "none", Live: "CONNECT"}
	if st.Health != platform.Changed || !containsCheck(st.Checks, wantPublic) {
		t.Errorf("after GRANT CONNECT TO PUBLIC: %+v, want changed with %+v", st, wantPublic)
	}

	// A role that cannot log in is degraded.
	if _, err := admin.Exec(ctx, "ALTER ROLE "+id+" NOLOGIN CONNECTION LIMIT 50"); err != nil {
		t.Fatal(err)
	}
	if st = status(); st.Health != platform.Degraded {
		t.Errorf("after NOLOGIN: Health = %q (%s), want degraded", st.Health, st.Summary)
	}

	// The database gone.
	if _, err := admin.Exec(ctx, "DROP DATABASE "+id+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	st = status()
	if st.Health != platform.Missing {
		t.Errorf("after DROP DATABASE: Health = %q (%s), want missing", st.Health, st.Summary)
	}
	wantDB := platform.LiveCheck{Name: "database", Recorded: name, Live: "absent"}
	if !containsCheck(st.Checks, wantDB) {
		t.Errorf("after DROP DATABASE: checks = %+v, want one %+v", st.Checks, wantDB)
	}

	// Reading changed nothing: the role is still there, NOLOGIN.
	if ri, ok := lookupRoleInfo(t, admin, name); !ok || ri.CanLogin {
		t.Errorf("Status changed the role: %+v (exists %v)", ri, ok)
	}
}

func TestStatusSettingsDrift(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, map[string]any{"size": "small", "high_availability": true})
	d := New(Config{AdminURL: adminURL})
	if _, err := d.Provision(ctx, platform.Job{Resource: res}); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	// The record now says something else than what was provisioned.
	res.Parameters = map[string]any{"size": "small", "high_availability": false}
	st, err := d.Status(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := platform.LiveCheck{Name: "high availability", Recorded: "no", Live: "yes"}
	if st.Health != platform.Changed || !containsCheck(st.Checks, want) {
		t.Errorf("Status = %+v, want changed with %+v", st, want)
	}
}

func TestStatusMissingRole(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	res := testResource(t, admin, nil)
	// Never provisioned: nothing exists.
	st, err := New(Config{AdminURL: adminURL}).Status(context.Background(), platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Health != platform.Missing {
		t.Errorf("Health = %q (%s), want missing", st.Health, st.Summary)
	}
}

func TestStatusUnreachableIsAnError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := New(Config{AdminURL: "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2"})
	res := &platform.Resource{ID: 1, Name: "db", Team: "t", Environment: "e"}
	if st, err := d.Status(ctx, platform.Job{Resource: res}); err == nil {
		t.Errorf("Status of an unreachable target = %+v, want an error", st)
	}
	if _, err := New(Config{}).Status(context.Background(), platform.Job{Resource: res}); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Status without a target: %v, want Unavailable", err)
	}
}

// containsCheck reports whether checks hold want.
func containsCheck(checks []platform.LiveCheck, want platform.LiveCheck) bool {
	for _, c := range checks {
		if c == want {
			return true
		}
	}
	return false
}
