package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	err := New(Config{}).Check()
	if platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != "no postgres target configured" {
		t.Errorf("Check() without a target = %v, want unavailable %q", err, "no postgres target configured")
	}
	err = New(Config{AdminURL: "postgres://u@h:notaport/db"}).Check()
	if platform.ErrorCode(err) != platform.Unavailable || !strings.Contains(platform.ErrorMessage(err), "admin_url is not a valid connection string") {
		t.Errorf("Check() with a bad URL = %v, want unavailable", err)
	}
	if err := New(Config{AdminURL: "postgres://postgres@127.0.0.1:1/postgres"}).Check(); err != nil {
		t.Errorf("Check() = %v, want nil (Check does not connect)", err)
	}
	if got := New(Config{}).Timeout(); got != DefaultTimeout {
		t.Errorf("Timeout() = %v, want %v", got, DefaultTimeout)
	}
	if got := New(Config{Timeout: time.Second}).Timeout(); got != time.Second {
		t.Errorf("Timeout() = %v, want 1s", got)
	}
}

// TestRefusedBeforeConnecting checks that bad names and parameters are
// permanent errors, found before any connection (the target here does not
// exist, so reaching it would give a different error).
func TestRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	d := New(Config{AdminURL: "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2"})
	tests := []struct {
		res  platform.Resource
		code platform.Code
	}{
		{platform.Resource{Team: "p", Environment: "dev", Name: `x'; DROP DATABASE postgres; --`}, platform.Invalid},
		{platform.Resource{Team: "p", Environment: "dev", Name: strings.Repeat("a", 64)}, platform.Invalid},
		{platform.Resource{Team: "pg", Environment: "dev", Name: "db"}, platform.Invalid},
		{platform.Resource{Team: "p", Environment: "dev", Name: "db", Parameters: map[string]any{"size": "xl"}}, platform.Invalid},
	}
	for _, tt := range tests {
		_, err := d.Provision(context.Background(), platform.Job{Resource: &tt.res})
		if platform.ErrorCode(err) != tt.code || !platform.IsPermanent(err) {
			t.Errorf("Provision(%+v) = %v, want a permanent %s error", tt.res, err, tt.code)
		}
	}
}

func TestUnreachableTargetIsTransient(t *testing.T) {
	t.Parallel()
	d := New(Config{AdminURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5"})
	res := &platform.Resource{ID: 1, Team: "p", Environment: "dev", Name: "db"}
	_, err := d.Provision(context.Background(), platform.Job{Resource: res})
	if err == nil || platform.IsPermanent(err) || platform.ErrorCode(err) != platform.Internal {
		t.Errorf("Provision on a closed port = %v (%s), want a transient error", err, platform.ErrorCode(err))
	}
	if err := d.Deprovision(context.Background(), platform.Job{Resource: res}); err == nil || platform.IsPermanent(err) {
		t.Errorf("Deprovision on a closed port = %v, want a transient error", err)
	}
}

func TestProvision(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, map[string]any{"size": "medium", "high_availability": true, "backup_retention_days": int64(14)})
	name := identifier(res.Team, res.Environment, res.Name)
	var got steps
	d := New(Config{AdminURL: adminURL})

	result, err := d.Provision(ctx, platform.Job{Resource: res, Step: got.add})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}

	wantSteps := []string{
		"creating role " + name + " (connection limit 50)",
		"creating database " + name + " owned by " + name,
		"recording settings (high availability: yes, backups: 14 days)",
	}
	if diff := cmp.Diff(wantSteps, got.take()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	wantOutputs := map[string]string{
		"host": cfg.Host, "port": strconv.Itoa(int(cfg.Port)),
		"database": name, "username": name, "connection_limit": "50",
	}
	if diff := cmp.Diff(wantOutputs, result.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	password := result.Secrets["password"]
	if len(password) != passwordLength {
		t.Errorf("password has %d characters, want %d", len(password), passwordLength)
	}
	for k, v := range result.Outputs {
		if strings.Contains(v, password) {
			t.Errorf("output %s = %q holds the password", k, v)
		}
	}

	// The URL works and says who and where.
	u, err := url.Parse(result.Secrets["url"])
	if err != nil {
		t.Fatalf("url %q: %v", result.Secrets["url"], err)
	}
	if pw, _ := u.User.Password(); pw != password || u.Query().Get("sslmode") != "disable" {
		t.Errorf("url = %q, want the password and the admin URL's sslmode=disable", u.Redacted())
	}
	if user, db := whoAmI(t, result.Secrets["url"]); user != name || db != name {
		t.Errorf("connected with the url as %s to %s, want %s to %s", user, db, name, name)
	}
	if psql, err := exec.LookPath("psql"); err == nil {
		cmd := exec.CommandContext(ctx, psql, "-X", "-Atc", "SELECT current_user || ' ' || current_database()", result.Secrets["url"])
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if want := name + " " + name; err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("psql with the url: %v: %q, want %q", err, out, want)
		}
	} else {
		t.Log("psql not installed: URL checked with pgx only")
	}

	// The role: a plain login role with the size's connection limit and the
	// returned password.
	ri, ok := lookupRoleInfo(t, admin, name)
	if want := (roleInfo{CanLogin: true, Inherit: true, ConnLimit: 50}); !ok || ri != want {
		t.Errorf("role %s = %+v (exists %v), want %+v", name, ri, ok, want)
	}
	if !passwordMatches(t, admin, name, password) {
		t.Errorf("the server's verifier for %s does not accept the returned password", name)
	}

	// The comment records who it is for and the settings.
	var comment string
	if err := admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment); err != nil {
		t.Fatalf("read comment: %v", err)
	}
	var gotMarker map[string]any
	if err := json.Unmarshal([]byte(comment), &gotMarker); err != nil {
		t.Fatalf("comment %q is not JSON: %v", comment, err)
	}
	wantMarker := map[string]any{
		"managed_by": "idpbot", "resource_id": float64(res.ID), "service": "postgresql-database",
		"team": res.Team, "environment": res.Environment, "name": res.Name,
		"high_availability": true, "backup_retention_days": float64(14),
	}
	if diff := cmp.Diff(wantMarker, gotMarker); diff != "" {
		t.Errorf("database comment mismatch (-want +got):\n%s", diff)
	}

	// Nobody but the owner may connect.
	var publicGrants int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1 AND a.grantee = 0`, name).Scan(&publicGrants); err != nil {
		t.Fatal(err)
	}
	if publicGrants != 0 {
		t.Errorf("database %s grants %d privileges to PUBLIC, want none", name, publicGrants)
	}
	probe := "idpbot_probe_" + suffix()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+probe+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+probe) })
	probeConn, err := pgx.Connect(ctx, withDatabase(t, withUser(t, adminURL, probe), name))
	if err == nil {
		probeConn.Close(ctx)
		t.Errorf("role %s connected to %s, want permission denied", probe, name)
	} else if pgCode(err) != codeInsufficientPrivilege {
		t.Errorf("role %s connecting to %s: %v, want permission denied (42501)", probe, name, err)
	}
}

func TestProvisionTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, map[string]any{"size": "small"})
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})

	first, err := d.Provision(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("first Provision: %v", err)
	}
	user := connect(t, first.Secrets["url"])
	if _, err := user.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatalf("create a table as the owner: %v", err)
	}
	user.Close(ctx)

	// A retried job, and the size changed meanwhile.
	res.Parameters = map[string]any{"size": "large"}
	var got steps
	second, err := d.Provision(ctx, platform.Job{Resource: res, Step: got.add})
	if err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	wantSteps := []string{
		"role " + name + " already exists: setting a new password and connection limit 100",
		"database " + name + " already exists: keeping it",
		"recording settings (high availability: no, backups: 7 days)",
	}
	if diff := cmp.Diff(wantSteps, got.take()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if second.Secrets["password"] == first.Secrets["password"] {
		t.Error("second Provision returned the same password, want a new one")
	}
	if !passwordMatches(t, admin, name, second.Secrets["password"]) {
		t.Error("the new password is not the role's")
	}
	if passwordMatches(t, admin, name, first.Secrets["password"]) {
		t.Error("the old password still matches")
	}
	if ri, _ := lookupRoleInfo(t, admin, name); ri.ConnLimit != 100 {
		t.Errorf("connection limit = %d, want 100", ri.ConnLimit)
	}
	if second.Outputs["connection_limit"] != "100" {
		t.Errorf("connection_limit output = %q, want 100", second.Outputs["connection_limit"])
	}
	var x int
	if err := connect(t, second.Secrets["url"]).QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 42 {
		t.Errorf("SELECT x FROM kept = %d, %v; want the data of the first attempt (42)", x, err)
	}
}

func TestDeprovision(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, nil)
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})
	result, err := d.Provision(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	// A session still open on the database must not stop the drop.
	session := connect(t, result.Secrets["url"])

	var got steps
	if err := d.Deprovision(ctx, platform.Job{Resource: res, Step: got.add}); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	want := []string{"closing connections of role " + name, "dropping database " + name, "dropping role " + name}
	if diff := cmp.Diff(want, got.take()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if databaseExists(t, admin, name) {
		t.Errorf("database %s still exists", name)
	}
	if _, ok := lookupRoleInfo(t, admin, name); ok {
		t.Errorf("role %s still exists", name)
	}
	if err := session.Ping(ctx); err == nil {
		t.Error("the owner's session survived deprovisioning")
	}

	if err := d.Deprovision(ctx, platform.Job{Resource: res, Step: got.add}); err != nil {
		t.Fatalf("second Deprovision: %v", err)
	}
	want = []string{"database " + name + " is already gone", "role " + name + " is already gone"}
	if diff := cmp.Diff(want, got.take()); diff != "" {
		t.Errorf("second steps mismatch (-want +got):\n%s", diff)
	}
}

// TestHostileNames provisions a resource whose team and environment hold
// quotes, SQL and unicode: the role and database get exactly the derived
// name, the URL works, and the SQL inside runs nowhere.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	canary := "idpbot_canary_" + suffix()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+canary); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+canary) })
	s := suffix()
	res := &platform.Resource{
		ID:          7,
		Name:        "db-" + s,
		Team:        `o'b"` + s + `'; DROP ROLE ` + canary + `; --`,
		Environment: `prüf-ü\$$`,
	}
	dropOnCleanup(t, admin, res)
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})

	result, err := d.Provision(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if result.Outputs["database"] != name {
		t.Errorf("database = %q, want %q", result.Outputs["database"], name)
	}
	if _, ok := lookupRoleInfo(t, admin, name); !ok || !databaseExists(t, admin, name) {
		t.Errorf("role or database %q missing", name)
	}
	if user, db := whoAmI(t, result.Secrets["url"]); user != name || db != name {
		t.Errorf("connected with the url as %q to %q, want %q", user, db, name)
	}
	var comment string
	if err := admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment); err != nil {
		t.Fatal(err)
	}
	if m, ok := parseMarker(&comment); !ok || m.Team != res.Team || m.Environment != res.Environment {
		t.Errorf("comment %q does not record team %q and environment %q", comment, res.Team, res.Environment)
	}
	if err := d.Deprovision(ctx, platform.Job{Resource: res}); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if databaseExists(t, admin, name) {
		t.Errorf("database %q survived Deprovision", name)
	}
	if _, ok := lookupRoleInfo(t, admin, canary); !ok {
		t.Errorf("role %s was dropped: the name was injected", canary)
	}
}

func TestLongNamesAreTruncatedUniquely(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	d := New(Config{AdminURL: adminURL})
	s := suffix()
	base := "db-" + s + "-" + strings.Repeat("x", 63-len("db-"+s+"-")-1)
	names := map[string]bool{}
	for _, last := range []string{"1", "2"} {
		res := &platform.Resource{ID: 1, Team: "team-" + s, Environment: "production", Name: base + last}
		dropOnCleanup(t, admin, res)
		result, err := d.Provision(ctx, platform.Job{Resource: res})
		if err != nil {
			t.Fatalf("Provision %s: %v", res.Name, err)
		}
		db := result.Outputs["database"]
		if len(db) > maxIdentifier || !databaseExists(t, admin, db) {
			t.Errorf("database %q (%d bytes): want an existing database of at most 63 bytes", db, len(db))
		}
		if _, got := whoAmI(t, result.Secrets["url"]); got != db {
			t.Errorf("connected to %q, want %q", got, db)
		}
		names[db] = true
	}
	if len(names) != 2 {
		t.Errorf("two long names made databases %v, want two distinct ones", names)
	}
}

func TestProvisionHonoursCancellation(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	d := New(Config{AdminURL: adminURL})

	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		admin := connect(t, adminURL)
		res := testResource(t, admin, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.Provision(ctx, platform.Job{Resource: res}); !errors.Is(err, context.Canceled) || platform.IsPermanent(err) {
			t.Errorf("Provision with a cancelled context = %v, want context.Canceled", err)
		}
		if _, ok := lookupRoleInfo(t, admin, identifier(res.Team, res.Environment, res.Name)); ok {
			t.Error("a role was created with a cancelled context")
		}
	})

	t.Run("while blocked", func(t *testing.T) {
		t.Parallel()
		res := testResource(t, admin, nil)
		name := identifier(res.Team, res.Environment, res.Name)
		// An uncommitted CREATE ROLE of the same name makes the driver's
		// CREATE ROLE wait for it.
		blocker := connect(t, adminURL)
		tx, err := blocker.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(context.Background(), "CREATE ROLE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := d.Provision(ctx, platform.Job{Resource: res})
			done <- err
		}()
		waitBlocked(t, admin, blocker.PgConn().PID(), done)
		cancel()
		// The blocker holds its lock until after this select: a Provision
		// that ignored the cancellation would never return in time.
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Provision cancelled while blocked = %v, want context.Canceled", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Provision did not return within 30s of cancellation")
		}
		if err := tx.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, ok := lookupRoleInfo(t, admin, name); ok {
			t.Errorf("role %s exists after a cancelled Provision", name)
		}
	})
}

// waitBlocked polls until a session waits on a lock held by blocker.
func waitBlocked(t *testing.T, admin *pgx.Conn, blocker uint32, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`, int(blocker)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Provision returned %v before blocking", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("Provision never blocked on the uncommitted role")
}

// TestForeignObjectsAreLeftAlone checks that a role or database of the same
// name that idpbot did not create for the resource is neither taken over
// nor dropped.
func TestForeignObjectsAreLeftAlone(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	d := New(Config{AdminURL: adminURL})

	t.Run("role not made by idpbot", func(t *testing.T) {
		t.Parallel()
		admin := connect(t, adminURL)
		ctx := context.Background()
		res := testResource(t, admin, nil)
		name := identifier(res.Team, res.Environment, res.Name)
		if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN PASSWORD 'theirs'"); err != nil {
			t.Fatal(err)
		}
		_, err := d.Provision(ctx, platform.Job{Resource: res})
		want := "role " + name + " already exists on the postgres target, but idpbot did not create it; choose another name"
		if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != want {
			t.Errorf("Provision = %v, want conflict %q", err, want)
		}
		if !passwordMatches(t, admin, name, "theirs") {
			t.Error("Provision changed the password of a role it did not create")
		}
		var got steps
		if err := d.Deprovision(ctx, platform.Job{Resource: res, Step: got.add}); err != nil {
			t.Fatalf("Deprovision: %v", err)
		}
		if _, ok := lookupRoleInfo(t, admin, name); !ok {
			t.Error("Deprovision dropped a role idpbot did not create")
		}
		if steps := got.take(); len(steps) == 0 || !strings.HasPrefix(steps[0], "leaving role "+name+" alone") {
			t.Errorf("steps = %q, want one saying the role is left alone", steps)
		}
	})

	t.Run("role of another request", func(t *testing.T) {
		t.Parallel()
		admin := connect(t, adminURL)
		ctx := context.Background()
		res := testResource(t, admin, nil)
		name := identifier(res.Team, res.Environment, res.Name)
		other := marker{ManagedBy: managedBy, ResourceID: res.ID + 1, Team: res.Team, Environment: res.Environment, Name: res.Name}
		for _, sql := range []string{
			"CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN",
			"COMMENT ON ROLE " + pgx.Identifier{name}.Sanitize() + " IS " + quoteLiteral(other.String()),
		} {
			if _, err := admin.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		_, err := d.Provision(ctx, platform.Job{Resource: res})
		if platform.ErrorCode(err) != platform.Conflict || !strings.Contains(platform.ErrorMessage(err), "belongs to request #"+strconv.FormatInt(res.ID+1, 10)) {
			t.Errorf("Provision = %v, want a conflict naming request #%d", err, res.ID+1)
		}
	})

	t.Run("database not made by idpbot", func(t *testing.T) {
		t.Parallel()
		admin := connect(t, adminURL)
		ctx := context.Background()
		res := testResource(t, admin, nil)
		name := identifier(res.Team, res.Environment, res.Name)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		_, err := d.Provision(ctx, platform.Job{Resource: res})
		want := "database " + name + " already exists on the postgres target and belongs to another role; choose another name"
		if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != want {
			t.Errorf("Provision = %v, want conflict %q", err, want)
		}
		if _, ok := lookupRoleInfo(t, admin, name); ok {
			t.Error("Provision created a role although the database name was taken")
		}
		if err := d.Deprovision(ctx, platform.Job{Resource: res}); err != nil {
			t.Fatalf("Deprovision: %v", err)
		}
		if !databaseExists(t, admin, name) {
			t.Error("Deprovision dropped a database idpbot did not create")
		}
	})
}

func TestPermissionDeniedIsForbidden(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	weak := "idpbot_weak_" + suffix()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+weak+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+weak) })
	res := testResource(t, admin, nil)

	_, err := New(Config{AdminURL: withUser(t, adminURL, weak)}).Provision(ctx, platform.Job{Resource: res})
	want := "the postgres target refused: permission denied to create role"
	if platform.ErrorCode(err) != platform.Forbidden || !platform.IsPermanent(err) || platform.ErrorMessage(err) != want {
		t.Errorf("Provision as %s = %v (%s), want forbidden %q", weak, err, platform.ErrorCode(err), want)
	}
}

// TestNonSuperuserAdmin provisions and deprovisions with an admin role that
// has only CREATEROLE and CREATEDB.
func TestNonSuperuserAdmin(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	limited := "idpbot_admin_" + suffix()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+limited+" LOGIN CREATEROLE CREATEDB"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+limited) })
	res := testResource(t, admin, nil)
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: withUser(t, adminURL, limited), PublicHost: "127.0.0.1"})

	result, err := d.Provision(ctx, platform.Job{Resource: res})
	if err != nil {
		t.Fatalf("Provision as %s: %v", limited, err)
	}
	if user, db := whoAmI(t, result.Secrets["url"]); user != name || db != name {
		t.Errorf("connected as %s to %s, want %s", user, db, name)
	}
	if _, err := d.Provision(ctx, platform.Job{Resource: res}); err != nil {
		t.Fatalf("second Provision as %s: %v", limited, err)
	}
	if err := d.Deprovision(ctx, platform.Job{Resource: res}); err != nil {
		t.Fatalf("Deprovision as %s: %v", limited, err)
	}
	if databaseExists(t, admin, name) {
		t.Errorf("database %s survived Deprovision", name)
	}
	if _, ok := lookupRoleInfo(t, admin, name); ok {
		t.Errorf("role %s survived Deprovision", name)
	}
}

// TestConcurrentAttemptsTakeTurns runs attempts of the same job at once, as
// a retried job may while a timed-out attempt still runs: all succeed, one
// database is made, and the role's password is one of those returned.
func TestConcurrentAttemptsTakeTurns(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	res := testResource(t, admin, nil)
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})
	const attempts = 3
	type outcome struct {
		result platform.Result
		err    error
	}
	outcomes := make(chan outcome, attempts)
	for range attempts {
		go func() {
			r, err := d.Provision(context.Background(), platform.Job{Resource: res})
			outcomes <- outcome{r, err}
		}()
	}
	var passwords []string
	for range attempts {
		o := <-outcomes
		if o.err != nil {
			t.Errorf("concurrent Provision: %v", o.err)
			continue
		}
		passwords = append(passwords, o.result.Secrets["password"])
	}
	matched := 0
	for _, p := range passwords {
		if passwordMatches(t, admin, name, p) {
			matched++
		}
	}
	if matched != 1 {
		t.Errorf("the role's password matches %d of the returned ones, want exactly 1", matched)
	}
	if !databaseExists(t, admin, name) {
		t.Errorf("database %s missing", name)
	}
}

// TestDeprovisionReportsDependentObjects checks that a role still owning
// objects elsewhere fails deletion permanently with a clear message, and
// that deletion completes once they are gone.
func TestDeprovisionReportsDependentObjects(t *testing.T) {
	t.Parallel()
	adminURL := testAdminURL(t)
	admin := connect(t, adminURL)
	ctx := context.Background()
	res := testResource(t, admin, nil)
	name := identifier(res.Team, res.Environment, res.Name)
	d := New(Config{AdminURL: adminURL})
	if _, err := d.Provision(ctx, platform.Job{Resource: res}); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	// A schema the role owns in the admin's database, outside its own.
	schema := pgx.Identifier{"idpbot_dep_" + suffix()}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema+" AUTHORIZATION "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema) })

	err := d.Deprovision(ctx, platform.Job{Resource: res})
	if platform.ErrorCode(err) != platform.Conflict || !strings.Contains(platform.ErrorMessage(err), "an operator must remove what depends on it") {
		t.Fatalf("Deprovision with a dependent schema = %v (%s), want a conflict asking an operator", err, platform.ErrorCode(err))
	}
	if databaseExists(t, admin, name) {
		t.Errorf("database %s survived", name)
	}
	if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	if err := d.Deprovision(ctx, platform.Job{Resource: res}); err != nil {
		t.Fatalf("Deprovision after the operator's fix: %v", err)
	}
	if _, ok := lookupRoleInfo(t, admin, name); ok {
		t.Errorf("role %s survived", name)
	}
}
