package main

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestConsoleUpdate is issue 12's check in the console: create a database,
// update its size, and the role's connection limit follows (small 20,
// medium 50); a bad update changes nothing.
func TestConsoleUpdate(t *testing.T) {
	t.Parallel()
	getenv, dsn := testEnv(t, nil)
	name := resourceName(t)
	role := "payments_development_" + strings.ReplaceAll(name, "-", "_")
	out, stderr, err := runBot(t, getenv, "/idp create postgresql-database name="+name+" team=payments\n", "console", "--user", "alice", "--wait", "60s")
	if err != nil {
		t.Fatalf("run create = %v\n%s\n%s", err, out, stderr)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(cctx, u.String()); err == nil {
			_, _ = c.Exec(cctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{role}.Sanitize()+" WITH (FORCE)")
			_, _ = c.Exec(cctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
			c.Close(cctx)
		}
	})
	limit := func() int {
		t.Helper()
		var n int
		if err := admin.QueryRow(ctx, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", role).Scan(&n); err != nil {
			t.Fatalf("read the connection limit of %s: %v", role, err)
		}
		return n
	}
	if n := limit(); n != 20 {
		t.Fatalf("connection limit after create = %d, want 20", n)
	}

	out, stderr, err = runBot(t, getenv, "/idp update "+name+" size=huge\n/idp update "+name+" size=medium\n/idp status "+name+"\n", "console", "--user", "alice", "--wait", "60s")
	if err != nil {
		t.Fatalf("run update = %v\n%s\n%s", err, out, stderr)
	}
	for _, want := range []string{
		`size: must be one of small, medium, large`,
		`(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  updating  update requested by alice: size: small → medium$`,
		`(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  updating  setting the connection limit of role ` + role + ` to 50 \(was 20\)$`,
		`(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  ready  updated: size: small → medium$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s; output:\n%s", want, out)
		}
	}
	if n := limit(); n != 50 {
		t.Errorf("connection limit after update = %d, want 50", n)
	}
}
