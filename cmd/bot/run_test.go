package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
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

// TestConsoleScript is the README's scripted use: a piped create runs to
// ready with its thread printed, the private URL connects, and a delete
// removes what was made.
func TestConsoleScript(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	name := "e2e-" + strings.ToLower(hex.EncodeToString([]byte(t.Name()))[:6])
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

// TestNoDatabaseSaysWhatToDo: with no server answering, the bot explains
// in one paragraph and exits non-zero, with no stack trace.
func TestNoDatabaseSaysWhatToDo(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	vars := map[string]string{"DATABASE_URL": "postgres://postgres:secretpw@" + addr + "/idpbot?sslmode=disable", "IDPBOT_DATA_DIR": t.TempDir()}
	_, _, err = runBot(t, func(k string) string { return vars[k] }, "", "console")
	if err == nil {
		t.Fatal("run succeeded without a database")
	}
	msg := errorText(err)
	for _, want := range []string{"idpbot needs PostgreSQL, and no server answers at", "DATABASE_URL", "pg_ctlcluster"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secretpw") || strings.Contains(msg, "goroutine") {
		t.Errorf("message leaks the password or a stack trace:\n%s", msg)
	}
	if exitCode(err) == 0 {
		t.Error("exit code 0")
	}
}

// migrate says what it did: the migrations it applied to a new database,
// and that there was nothing to do the second time.
func TestMigrateSaysWhatItApplied(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	out, _, err := runBot(t, getenv, "", "migrate")
	if err != nil || !regexp.MustCompile(`^applied [1-9][0-9]* migrations\n$`).MatchString(out) {
		t.Errorf("first migrate = %q, %v; want the number applied", out, err)
	}
	out, _, err = runBot(t, getenv, "", "migrate")
	if err != nil || out != "the database is up to date: no migrations to apply\n" {
		t.Errorf("second migrate = %q, %v; want nothing applied", out, err)
	}
}

func TestCatalogValidate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"catalog", "validate"}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatalf("validate built-in catalog = %v\n%s", err, out.String())
	}
	dir := t.TempDir()
	bad := "name: Bad Name\ntitle: A title that is far too long for a Slack modal\ntype: x\nparameters: {type: object, properties: {size: {type: string, enum: [a, b], default: c}}}\nprovisioner: {driver: nosuch}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(context.Background(), []string{"catalog", "validate", dir}, func(string) string { return "" }, nil, &out, &out)
	if err == nil || exitCode(err) == 0 {
		t.Fatalf("validate bad catalog = %v, want a failure", err)
	}
	for _, want := range []string{"bad.yaml: name", "bad.yaml: title", "bad.yaml: parameters.size.default", "bad.yaml: provisioner"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestExampleConfigLoads: the shipped example config is accepted by the
// real loader and its rules compile.
func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("../../deploy/config.example.yaml", "")
	if err != nil {
		t.Fatalf("loadConfig(example) = %v", err)
	}
	org := cfg.Org()
	if len(org.Teams) == 0 || len(org.Environments) == 0 {
		t.Errorf("example config has %d teams, %d environments", len(org.Teams), len(org.Environments))
	}
	if _, err := compileRules(cfg); err != nil {
		t.Errorf("example rules: %v", err)
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if exitCode(err) != 2 || !strings.Contains(errorText(err), `unknown command "frobnicate"`) {
		t.Errorf("run(frobnicate) = %v (exit %d)", err, exitCode(err))
	}
}

// TestDriversFromConfig: every driver section of the config file builds its
// driver, durations read as "30m"/"7d", and a bad section names itself.
func TestDriversFromConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo.git")
	cfgFile := filepath.Join(dir, "config.yaml")
	yaml := `
teams: {payments: {members: [console:alice]}}
environments: {development: {}, production: {}}
drivers:
  postgres: {admin_url: "postgres://postgres@127.0.0.1:5432/postgres", timeout: 90s}
  kubernetes:
    timeout: 10m
    targets:
      development: {kubeconfig: ` + filepath.Join(dir, "kubeconfig") + `, ingress_class: nginx}
  gitops: {repository: ` + repo + `, branch: main, timeout: 5m, work_dir: ` + filepath.Join(dir, "work") + `}
  webhook: {url: "https://ci.example.com/hooks/idp", status_url: "https://ci.example.com/hooks/idp/status", secret_env: TEST_HOOK_SECRET, timeout: 1h}
  exec: {command: [/bin/true], timeout: 2m}
`
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgFile, "")
	if err != nil {
		t.Fatalf("loadConfig = %v", err)
	}
	getenv := func(k string) string { return map[string]string{"TEST_HOOK_SECRET": "s3cret"}[k] }
	set, err := drivers(cfg, getenv, nil)
	if err != nil {
		t.Fatalf("drivers = %v", err)
	}
	for _, name := range []string{"postgres", "kubernetes", "gitops", "webhook", "exec"} {
		d, ok := set.drivers[name]
		if !ok {
			t.Errorf("driver %s not built", name)
			continue
		}
		if err := d.Check(); err != nil {
			t.Errorf("%s.Check() = %v", name, err)
		}
	}
	if got := set.drivers["postgres"].Timeout(); got != 90*time.Second {
		t.Errorf("postgres timeout = %v, want 90s", got)
	}
	if _, ok := set.handlers["/api/v1/callbacks/"]; !ok {
		t.Errorf("webhook callback handler not mounted: %v", set.handlers)
	}

	// Merge requests and Argo CD: each token comes from the environment;
	// without it, startup says which variable is missing.
	for _, tc := range []struct{ name, section, tokenEnv string }{
		{"merge_request", `merge_request: {provider: github, api_url: "https://api.github.com", project: acme/platform-gitops, wait_for_merge: true}`, "IDPBOT_GITOPS_TOKEN"},
		{"argocd", `argocd: {server: "https://argocd.example.com", application: "{{team}}-{{environment}}"}`, "IDPBOT_ARGOCD_TOKEN"},
	} {
		extended := strings.Replace(yaml, "work_dir: "+filepath.Join(dir, "work")+"}", "work_dir: "+filepath.Join(dir, "work")+", "+tc.section+"}", 1)
		if extended == yaml {
			t.Fatal("test config has no gitops section to extend")
		}
		if err := os.WriteFile(cfgFile, []byte(extended), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(cfgFile, "")
		if err != nil {
			t.Fatalf("loadConfig(%s) = %v", tc.name, err)
		}
		if _, err := drivers(c, getenv, nil); err == nil || !strings.Contains(err.Error(), tc.tokenEnv) {
			t.Errorf("drivers with %s and no token = %v, want an error naming %s", tc.name, err, tc.tokenEnv)
		}
		withToken := func(k string) string {
			if k == tc.tokenEnv {
				return "token-for-test"
			}
			return getenv(k)
		}
		if set, err := drivers(c, withToken, nil); err != nil || set.drivers["gitops"].Check() != nil {
			t.Errorf("drivers with %s = %v", tc.name, err)
		}
	}

	// Not configured is unavailable with a reason, never a pretend success.
	cfg.Drivers.Exec.Command = nil
	set, err = drivers(cfg, getenv, nil)
	if err != nil {
		t.Fatalf("drivers = %v", err)
	}
	if err := set.drivers["exec"].Check(); err == nil {
		t.Error("exec driver with no command is available")
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		console bool
		want    string // "json", "text" or an error substring
	}{
		{"server not on a terminal logs JSON", nil, false, "json"},
		{"console logs text", nil, true, "text"},
		{"format from the environment", map[string]string{"IDPBOT_LOG_FORMAT": "text"}, false, "text"},
		{"unknown format", map[string]string{"IDPBOT_LOG_FORMAT": "xml"}, false, `log format "xml" is not json or text`},
		{"unknown level", map[string]string{"IDPBOT_LOG_LEVEL": "verbose"}, false, `log level "verbose" is not one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := newLogger(&Config{}, func(k string) string { return tc.env[k] }, &buf, tc.console)
			if err != nil {
				if !strings.Contains(errorText(err), tc.want) {
					t.Errorf("newLogger = %v, want %q", err, tc.want)
				}
				return
			}
			log.Warn("hello", "request_id", 7)
			got := "text"
			if strings.HasPrefix(buf.String(), "{") {
				got = "json"
			}
			if got != tc.want {
				t.Errorf("logged %q, want %s", buf.String(), tc.want)
			}
		})
	}
}
