package exec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

type recorder struct {
	mu    sync.Mutex
	steps []string
}

func (r *recorder) step(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.steps...)
}

// script writes an executable shell script to a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "provision.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func newJob(params map[string]any, rec *recorder) platform.Job {
	return platform.Job{
		Resource: &platform.Resource{
			ID: 42, Service: "object-bucket", Name: "invoices", Team: "payments", Environment: "staging",
			Parameters: params, Requester: platform.Actor{ID: "slack:U123", Name: "alice"},
		},
		Settings: map[string]any{"module": "s3"},
		Step:     rec.step,
	}
}

func mustNew(t *testing.T, cfg Config) *Driver {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestProvisionStepsOutputsAndStdin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdinFile := filepath.Join(dir, "stdin.json")
	sh := script(t, `cat > "$1"
echo "Planning $IDP_NAME for $IDP_TEAM/$IDP_ENVIRONMENT"
echo
printf 'size=%s ha=%s days=%s note=%s\n' "$IDP_SIZE" "$IDP_HIGH_AVAILABILITY" "$IDP_BACKUP_RETENTION_DAYS" "$IDP_NOTE"
printf '\033[32mApply complete!\033[0m Resources: 1 added.\n'
echo '{"outputs":{"bucket":"payments-staging-invoices","region":"eu-west-1","objects":0},"secrets":{"access_key":"AKIA123"}}'
`)
	d := mustNew(t, Config{Command: []string{sh, stdinFile}, Timeout: 10 * time.Second})
	rec := &recorder{}
	params := map[string]any{"size": "small", "high_availability": true, "backup_retention_days": int64(7), "note": `$(touch /tmp/pwned); "quoted" 'x'`}
	res, err := d.Provision(context.Background(), newJob(params, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	wantSteps := []string{
		"Planning invoices for payments/staging",
		`size=small ha=true days=7 note=$(touch /tmp/pwned); "quoted" 'x'`,
		"Apply complete! Resources: 1 added.",
	}
	if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	want := platform.Result{
		Outputs: map[string]string{"bucket": "payments-staging-invoices", "region": "eu-west-1", "objects": "0"},
		Secrets: map[string]string{"access_key": "AKIA123"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("a parameter value was run by a shell")
	}
	raw, err := os.ReadFile(stdinFile)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("stdin is not JSON: %v: %s", err, raw)
	}
	wantStdin := map[string]any{
		"request_id": 42.0, "action": "create", "service": "object-bucket", "name": "invoices", "team": "payments", "environment": "staging",
		"parameters": map[string]any{"size": "small", "high_availability": true, "backup_retention_days": 7.0, "note": `$(touch /tmp/pwned); "quoted" 'x'`},
		"requester":  map[string]any{"id": "slack:U123", "name": "alice"},
		"settings":   map[string]any{"module": "s3"},
	}
	if diff := cmp.Diff(wantStdin, got); diff != "" {
		t.Errorf("stdin mismatch (-want +got):\n%s", diff)
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	envBin := "/usr/bin/env"
	if _, err := os.Stat(envBin); err != nil {
		t.Skip("no /usr/bin/env")
	}
	d := mustNew(t, Config{Command: []string{envBin}, Env: []string{"TF_IN_AUTOMATION=1", "PATH", "IDP_NOT_SET_ANYWHERE_X", "IDP_MODULES_DIR=/opt/modules"}})
	rec := &recorder{}
	params := map[string]any{"replicas": int64(3), "cpu-limit": "500m", "action": "sneaky", "modules_dir": "/tmp/evil"}
	if _, err := d.Provision(context.Background(), newJob(params, rec)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	got := map[string]string{}
	for _, s := range rec.all() {
		k, v, _ := strings.Cut(s, "=")
		got[k] = v
	}
	want := map[string]string{
		"TF_IN_AUTOMATION": "1",
		"IDP_MODULES_DIR":  "/opt/modules",
		"IDP_REPLICAS":     "3",
		"IDP_CPU_LIMIT":    "500m",
		"IDP_ACTION":       "create",
		"IDP_REQUEST_ID":   "42",
		"IDP_SERVICE":      "object-bucket",
		"IDP_NAME":         "invoices",
		"IDP_TEAM":         "payments",
		"IDP_ENVIRONMENT":  "staging",
		"IDP_REQUESTER":    "slack:U123",
	}
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER"} {
		if v, ok := os.LookupEnv(k); ok {
			want[k] = sanitize(v, 300)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment mismatch (-want +got):\n%s", diff)
	}
}

func TestFailureReportsStderrTail(t *testing.T) {
	t.Parallel()
	sh := script(t, `echo "Initializing"
for i in 1 2 3 4 5 6 7; do echo "log line $i" >&2; done
printf 'Error: \033[31mbucket name taken\033[0m\n' >&2
exit 3
`)
	d := mustNew(t, Config{Command: []string{sh}})
	rec := &recorder{}
	_, err := d.Provision(context.Background(), newJob(nil, rec))
	if !platform.IsPermanent(err) {
		t.Fatalf("Provision = %v, want a permanent failure", err)
	}
	want := "The provisioning command failed (exit 3): log line 4 | log line 5 | log line 6 | log line 7 | Error: bucket name taken"
	if got := platform.ErrorMessage(err); got != want {
		t.Errorf("failure message = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"Initializing"}, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	// A failed deletion says so, not "provisioning".
	err = d.Deprovision(context.Background(), newJob(nil, &recorder{}))
	if want := "The deprovisioning command failed (exit 3): "; !strings.HasPrefix(platform.ErrorMessage(err), want) {
		t.Errorf("Deprovision failure message = %q, want it to start %q", platform.ErrorMessage(err), want)
	}
}

func TestTempFailIsRetried(t *testing.T) {
	t.Parallel()
	sh := script(t, "echo 'state locked by another run' >&2\nexit 75\n")
	d := mustNew(t, Config{Command: []string{sh}})
	_, err := d.Provision(context.Background(), newJob(nil, &recorder{}))
	if err == nil || platform.IsPermanent(err) || !strings.Contains(err.Error(), "state locked by another run") {
		t.Errorf("Provision = %v, want a transient error carrying stderr", err)
	}
}

func TestInvalidResultLine(t *testing.T) {
	t.Parallel()
	sh := script(t, "echo '{\"outputs\": {\"url\": '\n")
	d := mustNew(t, Config{Command: []string{sh}})
	_, err := d.Provision(context.Background(), newJob(nil, &recorder{}))
	if !platform.IsPermanent(err) || !strings.Contains(platform.ErrorMessage(err), "not a valid result object") {
		t.Errorf("Provision = %v, want a permanent failure about the result line", err)
	}
}

// gone reports whether process pid no longer runs (a zombie counts as gone:
// it runs no code and the test's PID 1 may not reap it).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// The state follows the parenthesized command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid written to %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTimeoutAndCancelKillProcessGroup: when the attempt's deadline passes
// or its context is cancelled, the whole process group goes, a process
// that ignores SIGTERM included. The deadline passes (or the context is
// cancelled) once the script has said it started, so that its child
// exists by then however loaded the machine is.
func TestTimeoutAndCancelKillProcessGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		cancel bool
		want   error
	}{
		{"timeout", `sleep 300 & echo $! > "$1"; echo started; wait`, false, context.DeadlineExceeded},
		{"cancel", `sleep 300 & echo $! > "$1"; echo started; wait`, true, context.Canceled},
		{"ignores SIGTERM", `trap '' TERM; sleep 300 & echo $! > "$1"; echo started; while :; do sleep 1; done`, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "child.pid")
			d := mustNew(t, Config{Command: []string{script(t, tt.body), pidFile}, Timeout: time.Hour, KillGrace: 200 * time.Millisecond})
			dl := platformtest.NewDeadline()
			ctx, cancel := context.WithCancel(dl)
			defer cancel()
			rec := &recorder{}
			job := newJob(nil, rec)
			job.Step = func(s string) {
				rec.step(s)
				if s != "started" {
					return
				}
				if tt.cancel {
					cancel()
				} else {
					dl.Expire()
				}
			}
			start := time.Now()
			_, err := d.Provision(ctx, job)
			if !errors.Is(err, tt.want) || platform.IsPermanent(err) {
				t.Errorf("Provision = %v, want a transient %v", err, tt.want)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Provision took %s", took)
			}
			waitGone(t, readPid(t, pidFile))
		})
	}
}

// TestTimeout: the configured Timeout bounds a run, and the error says so.
func TestTimeout(t *testing.T) {
	t.Parallel()
	d := mustNew(t, Config{Command: []string{script(t, `exec sleep 300`)}, Timeout: 100 * time.Millisecond, KillGrace: 100 * time.Millisecond})
	_, err := d.Provision(context.Background(), newJob(nil, &recorder{}))
	if !errors.Is(err, context.DeadlineExceeded) || platform.IsPermanent(err) || !strings.Contains(err.Error(), "command timed out after 100ms") {
		t.Errorf("Provision = %v, want a transient timeout after 100ms", err)
	}
}

func TestBackgroundChildKilledOnExit(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	sh := script(t, `sleep 300 & echo $! > "$1"
echo '{"outputs":{"ok":"yes"}}'
`)
	d := mustNew(t, Config{Command: []string{sh, pidFile}})
	start := time.Now()
	res, err := d.Provision(context.Background(), newJob(nil, &recorder{}))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if res.Outputs["ok"] != "yes" {
		t.Errorf("outputs = %v, want ok=yes", res.Outputs)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Provision waited %s for a background child", took)
	}
	waitGone(t, readPid(t, pidFile))
}

func TestDeprovision(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "action")
	sh := script(t, `echo "$IDP_ACTION $IDP_NAME" > "$1"; echo "Destroying $IDP_NAME"`)
	d := mustNew(t, Config{Command: []string{sh, out}})
	rec := &recorder{}
	if err := d.Deprovision(context.Background(), newJob(nil, rec)); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil || strings.TrimSpace(string(b)) != "delete invoices" {
		t.Errorf("command saw %q (%v), want IDP_ACTION=delete for invoices", b, err)
	}
	if !slices.Equal(rec.all(), []string{"Destroying invoices"}) {
		t.Errorf("steps = %q", rec.all())
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	err := mustNew(t, Config{}).Check()
	if platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != "no exec command configured" {
		t.Errorf("Check() = %v, want Unavailable: no exec command configured", err)
	}
	d := mustNew(t, Config{Command: []string{"/nonexistent/provision"}})
	if platform.ErrorCode(d.Check()) != platform.Unavailable {
		t.Errorf("Check() with a missing command = %v, want Unavailable", d.Check())
	}
	if _, err := d.Provision(context.Background(), newJob(nil, &recorder{})); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Provision with a missing command = %v, want Unavailable", err)
	}
	if _, err := New(Config{Command: []string{"x"}, Env: []string{"=oops"}}); err == nil {
		t.Error("New accepted an environment entry without a name")
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"backup_retention_days": "IDP_BACKUP_RETENTION_DAYS", "cpu-limit": "IDP_CPU_LIMIT", "ünï": "IDP__N_", "Size2": "IDP_SIZE2"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTofuWrapper runs the shipped deploy/drivers/tofu-wrapper.sh with its
// example module through the driver, as an operator would configure it.
func TestTofuWrapper(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs tofu/terraform")
	}
	tofu := ""
	for _, bin := range []string{"tofu", "terraform"} {
		if p, err := osexec.LookPath(bin); err == nil {
			tofu = p
			break
		}
	}
	if _, err := osexec.LookPath("jq"); tofu == "" || err != nil {
		t.Skip("needs tofu or terraform, and jq")
	}
	wrapper, err := filepath.Abs("../../../deploy/drivers/tofu-wrapper.sh")
	if err != nil {
		t.Fatal(err)
	}
	modules, _ := filepath.Abs("../../../deploy/drivers/modules")
	state := t.TempDir()
	d := mustNew(t, Config{
		Command: []string{wrapper},
		Env:     []string{"IDP_MODULES_DIR=" + modules, "IDP_STATE_DIR=" + state, "TOFU_BIN=" + tofu, "TF_CLI_CONFIG_FILE=/dev/null"},
		Timeout: time.Minute,
	})
	rec := &recorder{}
	job := newJob(map[string]any{"size": "large"}, rec)
	job.Resource.Service = "example"
	res, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	bin := filepath.Base(tofu)
	wantSteps := []string{"Initializing " + bin + " workspace for invoices", "Applying example invoices", "Apply complete"}
	if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"name": "payments-staging-invoices", "size": "large"}, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	if len(res.Secrets["token"]) != 64 {
		t.Errorf("secrets = %v, want the sensitive token output", res.Secrets)
	}
	workspace := filepath.Join(state, "payments", "staging", "example", "invoices")
	if _, err := os.Stat(filepath.Join(workspace, "terraform.tfstate")); err != nil {
		t.Errorf("no state in the request's workspace: %v", err)
	}

	// Applying again changes nothing and reports the same outputs.
	res2, err := d.Provision(context.Background(), job)
	if err != nil || !cmp.Equal(res, res2) {
		t.Errorf("second Provision = %v, %v; want the same result", res2, err)
	}

	rec2 := &recorder{}
	job.Step = rec2.step
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if diff := cmp.Diff([]string{"Destroying example invoices", "Destroyed"}, rec2.all()); diff != "" {
		t.Errorf("deprovision steps mismatch (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(workspace); !os.IsNotExist(err) {
		t.Errorf("workspace after Deprovision: %v, want gone", err)
	}
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Errorf("second Deprovision = %v, want nil", err)
	}

	// A module that fails reports tofu's error.
	job.Resource.Service = "missing-module"
	_, err = d.Provision(context.Background(), job)
	if !platform.IsPermanent(err) || !strings.Contains(platform.ErrorMessage(err), "no module for missing-module") {
		t.Errorf("Provision of an unknown module = %v, want a permanent failure naming it", err)
	}
}
