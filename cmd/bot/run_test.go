package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

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
