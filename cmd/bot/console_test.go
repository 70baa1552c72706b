package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// testEnv returns a getenv for run with a fresh database on DATABASE_URL's
// server (created by the bot, dropped after the test) and a private data
// directory.
func testEnv(t *testing.T, extra map[string]string) (func(string) string, string) {
	t.Helper()
	base := postgrestest.URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	db := "idpbot_e2e_" + hex.EncodeToString(b[:])
	u.Path = "/" + db
	dsn := u.String()
	t.Cleanup(func() {
		u.Path = "/postgres"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			t.Logf("drop %s: %v", db, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", db, err)
		}
	})
	vars := map[string]string{"DATABASE_URL": dsn, "IDPBOT_DATA_DIR": t.TempDir(), "HOME": t.TempDir()}
	for k, v := range extra {
		vars[k] = v
	}
	return func(k string) string { return vars[k] }, dsn
}

func runBot(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, args, getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// resourceName is a resource name of the test's own: the roles and
// databases the postgres driver makes live in the server all the tests
// share, so two tests with one name would drop each other's.
func resourceName(t *testing.T) string {
	sum := sha256.Sum256([]byte(t.Name()))
	return "e2e-" + hex.EncodeToString(sum[:4])
}

// TestConsoleScript is the README's scripted use: a piped create runs to
// ready with its thread printed, the private URL connects, and a delete
// removes what was made.
func TestConsoleScript(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	name := resourceName(t)
	out, stderr, err := runBot(t, getenv,
		"/idp create postgresql-database name="+name+" team=payments size=medium\n",
		"console", "--user", "alice", "--wait", "60s")
	if err != nil {
		t.Fatalf("run = %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	for _, want := range []string{
		`(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  pending  requested by alice$`,
		`(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  provisioning  creating role payments_development_` + strings.ReplaceAll(name, "-", "_"),
		`(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  ready  ready$`,
		`(?m)^#1 ` + name + `: ready`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s; output:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`🔒 only alice sees this \(#1 [^)]*\): url=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no private connection URL in output:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, m[1])
	if err != nil {
		t.Fatalf("connect with the delivered URL: %v", err)
	}
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if want := "payments_development_" + strings.ReplaceAll(name, "-", "_"); user != want {
		t.Errorf("connected as %q, want %q", user, want)
	}
	if strings.Contains(stderr, "password") || strings.Contains(stderr, m[1]) {
		t.Errorf("stderr (the log) mentions the secret:\n%s", stderr)
	}

	out, stderr, err = runBot(t, getenv, "/idp delete "+name+" --yes\n/idp list --all\n", "console", "--user", "alice", "--wait", "60s")
	if err != nil {
		t.Fatalf("run delete = %v\n%s\n%s", err, out, stderr)
	}
	if !regexp.MustCompile(`(?m)^#1 ` + name + `: deleted`).MatchString(out) {
		t.Errorf("delete did not finish; output:\n%s", out)
	}
	if _, err := pgx.Connect(ctx, m[1]); err == nil {
		t.Errorf("the deleted database still accepts connections")
	}
}

// TestConsoleRefusesBadInputAndCreatesNothing: malformed commands and values
// get specific messages and leave no request behind.
func TestConsoleRefusesBadInputAndCreatesNothing(t *testing.T) {
	t.Parallel()
	getenv, dsn := testEnv(t, nil)
	long := strings.Repeat("x", 10_000)
	in := strings.Join([]string{
		"/idp crate x",
		"/idp create postgresql-databse name=x",
		`/idp create postgresql-database name="'; DROP TABLE resources; --" team=payments`,
		"/idp create postgresql-database name=" + long,
		"/idp create postgresql-database name=ok-name team=payments size=huge backup_retention_days=99",
		"/idp create web-application name=web team=payments",
		"/idp create postgresql-database name=prod-db team=payments environment=production --dry-run",
		"/idp create postgresql-database name=db team=platfrom",
		"/idp status nothing-here",
	}, "\n") + "\n"
	out, stderr, err := runBot(t, getenv, in, "console", "--user", "bob")
	if err != nil {
		t.Fatalf("run = %v\n%s\n%s", err, out, stderr)
	}
	for _, want := range []string{
		`Unknown command "crate". Did you mean create?`,
		`Did you mean`,
		"name: must be lowercase letters, digits and hyphens",
		"name: must be at most 63 characters (got 10000)",
		"size: must be one of small, medium, large",
		"backup_retention_days: must be 1–35 (got 99)",
		"web-application is unavailable: no kubernetes target configured",
		"Production resources must have",
		"Nothing was created.",
		`there is no team "platfrom" (did you mean platform?)`,
		`There is no resource "nothing-here" that you can see.`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q; output:\n%s", want, out)
		}
	}
	if strings.Contains(out, long) {
		t.Errorf("the 10 kB value was echoed back in full")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM resources").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d resources recorded, want 0", n)
	}
}
