package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

const argoApp1 = "payments-production"

// fakeArgo answers GET /api/v1/applications/<app> like the Argo CD API
// server: it checks the bearer token (401 otherwise, quoting the token it
// got so that the test sees it is never shown), the Accept header and the
// application's name (404 otherwise), then answers from a script the test
// controls, its last answer repeating.
type fakeArgo struct {
	t     *testing.T
	bare  string
	token string
	app   string
	srv   *httptest.Server

	mu     sync.Mutex
	script []argoAnswer
	gets   int
	// onGet runs under the lock before GET number n (from 1) is answered.
	onGet func(n int)
}

// argoAnswer is one scripted answer: an HTTP status with a raw body, or an
// Application status. A revision "ref:<rev>" is resolved in the bare
// repository when the answer is given.
type argoAnswer struct {
	status                                            int    // 0: 200
	body                                              string // sent as is when set; "{token}" is the token presented
	sync, revision, health, message, phase, opMessage string
}

func newFakeArgo(t *testing.T, bare string, script ...argoAnswer) *fakeArgo {
	a := &fakeArgo{t: t, bare: bare, token: "argo-t0ken-S3CRET-value", app: argoApp1, script: script}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

// config is the ArgoCDConfig pointing at the fake, with the default
// application name.
func (a *fakeArgo) config() func(*Config) {
	return func(c *Config) { c.ArgoCD = &ArgoCDConfig{Server: a.srv.URL, Token: a.token} }
}

// set replaces the script and resets the count of reads.
func (a *fakeArgo) set(script ...argoAnswer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script, a.gets = script, 0
}

func (a *fakeArgo) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gets
}

func (a *fakeArgo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	presented := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid session: token ` + presented + ` is not valid","code":16,"message":"invalid session: token ` + presented + ` is not valid"}`))
		return
	}
	if r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" {
		a.t.Errorf("Argo CD called with %s, Accept %q; want GET, application/json", r.Method, r.Header.Get("Accept"))
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/api/v1/applications/")
	if !ok || name != a.app {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"applications.argoproj.io \"` + name + `\" not found","code":5,"message":"applications.argoproj.io \"` + name + `\" not found"}`))
		return
	}
	a.gets++
	if a.onGet != nil {
		a.onGet(a.gets)
	}
	if len(a.script) == 0 {
		a.t.Error("Argo CD read without a script")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	ans := a.script[min(a.gets, len(a.script))-1]
	status := ans.status
	if status == 0 {
		status = http.StatusOK
	}
	if ans.body != "" {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.ReplaceAll(ans.body, "{token}", presented)))
		return
	}
	revision := ans.revision
	if ref, ok := strings.CutPrefix(revision, "ref:"); ok {
		out, err := exec.Command("git", "--git-dir", a.bare, "rev-parse", ref).Output()
		if err != nil {
			a.t.Errorf("resolve %s: %v", ref, err)
		}
		revision = strings.TrimSpace(string(out))
	}
	app := map[string]any{
		"metadata": map[string]any{"name": name, "namespace": "argocd"},
		"spec":     map[string]any{"project": "default", "source": map[string]any{"repoURL": a.bare, "path": "payments/production"}},
		"status": map[string]any{
			"sync":   map[string]any{"status": ans.sync, "revision": revision},
			"health": map[string]any{"status": ans.health, "message": ans.message},
			"resources": []any{
				map[string]any{"kind": "Deployment", "name": "orders-api", "status": ans.sync, "health": map[string]any{"status": ans.health}},
			},
		},
	}
	if ans.phase != "" {
		app["status"].(map[string]any)["operationState"] = map[string]any{"phase": ans.phase, "message": ans.opMessage}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(app); err != nil {
		a.t.Errorf("encode application: %v", err)
	}
}

// commitOnMain adds an empty commit on top of main in bare, as another
// change landing after ours, and returns it. Safe off the test goroutine.
func commitOnMain(bare, msg string) (string, error) {
	return squashOnto(bare, "refs/heads/main^{tree}", msg)
}

// squashOnto commits tree on top of main in bare (a squash merge when tree
// is a request branch's) and moves main there.
func squashOnto(bare, tree, msg string) (string, error) {
	env := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	cmd := exec.Command("git", "--git-dir", bare, "commit-tree", tree, "-p", "refs/heads/main", "-m", msg)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	sha := strings.TrimSpace(string(out))
	if out, err := exec.Command("git", "--git-dir", bare, "update-ref", "refs/heads/main", sha).CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return sha, nil
}

func argoStep(summary string) string { return "Argo CD application " + argoApp1 + ": " + summary }

func TestArgoCDProvisionWaitsForSyncedAndHealthy(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	base := rev(t, bare, "main")
	rollout := "Waiting for rollout to finish: 0 of 2 updated replicas are available..."
	hook := "waiting for completion of hook batch/Job/smoke-test"
	a := newFakeArgo(t, bare,
		argoAnswer{sync: "OutOfSync", revision: "ref:main", health: "Progressing"},
		// Synced and healthy, but to the revision before ours.
		argoAnswer{sync: "Synced", revision: base, health: "Healthy"},
		argoAnswer{sync: "Synced", revision: "ref:main", health: "Progressing", message: rollout, phase: "Succeeded"},
		argoAnswer{sync: "Synced", revision: "ref:main", health: "Progressing", message: rollout, phase: "Succeeded"},
		// Healthy, but a post-sync hook still runs.
		argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy", phase: "Running", opMessage: hook},
		argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy", phase: "Succeeded", opMessage: "successfully synced (all tasks run)"},
	)
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := a.count(); n != 0 {
			t.Errorf("health URL polled after %d Argo CD reads, want before", n)
		}
	}))
	defer health.Close()
	d := newDriver(t, bare, a.config(), func(c *Config) { c.HealthURL = health.URL })
	rec := &recorder{}
	res, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	head := rev(t, bare, "main")
	want := []string{
		"Pushed " + ordersPath + " to main (" + short(head) + ")",
		"Reported healthy",
		argoStep("OutOfSync, Progressing"),
		argoStep("Synced to " + short(base) + " (not yet " + short(head) + "), Healthy"),
		argoStep("Synced to " + short(head) + ", Progressing: " + rollout),
		argoStep("Synced to " + short(head) + ", Healthy; sync operation Running: " + hook),
		argoStep("Synced to " + short(head) + ", Healthy"),
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if n := a.count(); n != 6 {
		t.Errorf("Argo CD reads = %d, want 6: ready at the last answer, not before", n)
	}
	if res.Outputs["commit"] != head {
		t.Errorf("commit output = %q, want %s", res.Outputs["commit"], head)
	}
}

// TestArgoCDDescendantRevision: a revision after ours (another change
// landed meanwhile, unknown to the driver's cache) contains ours.
func TestArgoCDDescendantRevision(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	a := newFakeArgo(t, bare, argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy"})
	var later string
	a.mu.Lock()
	a.onGet = func(n int) {
		if n == 1 {
			var err error
			if later, err = commitOnMain(bare, "someone else's change"); err != nil {
				t.Errorf("commit on main: %v", err)
			}
		}
	}
	a.mu.Unlock()
	d := newDriver(t, bare, a.config())
	rec := &recorder{}
	res, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	ours := res.Outputs["commit"]
	if later == "" || later == ours || rev(t, bare, "main^") != ours {
		t.Fatalf("main = %s, want a child of ours %s", later, ours)
	}
	want := []string{
		"Pushed " + ordersPath + " to main (" + short(ours) + ")",
		argoStep("Synced to " + short(later) + ", Healthy"),
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if n := a.count(); n != 1 {
		t.Errorf("Argo CD reads = %d, want 1", n)
	}
}

func TestArgoCDDegradedTimesOut(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	backOff := `Back-off pulling image "registry.example.com/payments/orders:1.4.2"`
	a := newFakeArgo(t, bare, argoAnswer{sync: "Synced", revision: "ref:main", health: "Degraded", message: backOff})
	// The push is made first, without a deadline: the short timeout is
	// all for the wait.
	if _, err := newDriver(t, bare).Provision(context.Background(), webJob(12, "orders-api", 2, &recorder{})); err != nil {
		t.Fatalf("Provision without Argo CD: %v", err)
	}
	head := rev(t, bare, "main")
	// The attempt's deadline passes at the fifth read.
	dl := platformtest.NewDeadline()
	a.mu.Lock()
	a.onGet = func(n int) {
		if n == 5 {
			dl.Expire()
		}
	}
	a.mu.Unlock()
	d := newDriver(t, bare, a.config())
	rec := &recorder{}
	_, err := d.Provision(dl, webJob(12, "orders-api", 2, rec))
	status := "Synced to " + short(head) + ", Degraded: " + backOff
	msg := platform.ErrorMessage(err)
	if err == nil || platform.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(msg, "Argo CD application "+argoApp1+" did not become synced to "+short(head)+" and healthy") ||
		!strings.Contains(msg, "last status: "+status) {
		t.Errorf("Provision of a degraded app = %v (message %q), want a transient timeout naming the app and %q", err, msg, status)
	}
	// Polled many times, reported once.
	if n := a.count(); n < 5 {
		t.Errorf("Argo CD reads = %d, want it polled until the deadline", n)
	}
	want := []string{ordersPath + " is already up to date on main", argoStep(status)}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
}

func TestArgoCDRefusals(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	forbidden := argoAnswer{status: http.StatusForbidden,
		body: `{"error":"permission denied","code":7,"message":"permission denied: applications, get, default/payments-production, sub: idpbot, token {token}"}`}
	a := newFakeArgo(t, bare)
	wrongToken := "wr0ng-argo-T0KEN-value"
	for _, tc := range []struct {
		name   string
		mutate func(*ArgoCDConfig)
		code   platform.Code
		want   []string
	}{
		{"401", func(c *ArgoCDConfig) { c.Token = wrongToken }, platform.Forbidden,
			[]string{"Argo CD rejected the gitops driver's token", "401 Unauthorized"}},
		{"403", func(c *ArgoCDConfig) {}, platform.Forbidden,
			[]string{"the gitops driver's Argo CD token may not get application payments-production", "403 Forbidden", "permission denied"}},
		{"404", func(c *ArgoCDConfig) { c.Application = "{{team}}-staging" }, platform.Invalid,
			[]string{"Argo CD has no application payments-staging (drivers.gitops.argocd.application)", "404 Not Found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.set(forbidden)
			d := newDriver(t, bare, a.config(), func(c *Config) { tc.mutate(c.ArgoCD); c.Timeout = time.Minute })
			rec := &recorder{}
			_, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec))
			if platform.ErrorCode(err) != tc.code {
				t.Fatalf("Provision = %v (code %q), want %s", err, platform.ErrorCode(err), tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(platform.ErrorMessage(err), w) {
					t.Errorf("message %q lacks %q", platform.ErrorMessage(err), w)
				}
			}
			for _, secret := range []string{a.token, wrongToken} {
				if strings.Contains(err.Error(), secret) || strings.Contains(strings.Join(rec.all(), "\n"), secret) {
					t.Errorf("the token shows in %q or the steps %q", err.Error(), rec.all())
				}
			}
			if tc.name == "403" && a.count() != 1 {
				t.Errorf("Argo CD reads = %d, want 1: a refusal is final", a.count())
			}
		})
	}

	// An application name that is no Kubernetes name (here, too long)
	// fails before anything is pushed.
	empty := bareRepo(t)
	tmpl := strings.Repeat("{{team}}-{{environment}}-", 13) + "x"
	d := newDriver(t, empty, a.config(), func(c *Config) { c.ArgoCD.Application = tmpl })
	long := strings.Repeat("payments-production-", 13) + "x"
	_, err := d.Provision(context.Background(), webJob(13, "orders-api", 1, &recorder{}))
	if platform.ErrorCode(err) != platform.Invalid || !strings.Contains(platform.ErrorMessage(err), `"`+long+`" (drivers.gitops.argocd.application) is not a valid Kubernetes name`) {
		t.Errorf("Provision with an invalid application name = %v, want Invalid naming it", err)
	}
	if err := d.Deprovision(context.Background(), webJob(13, "orders-api", 1, &recorder{})); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("Deprovision with an invalid application name = %v, want Invalid", err)
	}
	if refs := strings.TrimSpace(gitIn(t, empty, "for-each-ref")); refs != "" {
		t.Errorf("refused request pushed %q", refs)
	}
}

func TestArgoCDTransientErrorsArePolledThrough(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	a := newFakeArgo(t, bare,
		argoAnswer{status: http.StatusServiceUnavailable, body: "<html>upstream connect error</html>"},
		argoAnswer{body: `{"status": {"sync": `},
		argoAnswer{status: http.StatusBadGateway, body: `{"error":"bad gateway"}`},
		argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy"},
	)
	d := newDriver(t, bare, a.config())
	rec := &recorder{}
	if _, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	head := rev(t, bare, "main")
	want := []string{"Pushed " + ordersPath + " to main (" + short(head) + ")", argoStep("Synced to " + short(head) + ", Healthy")}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if n := a.count(); n != 4 {
		t.Errorf("Argo CD reads = %d, want 4", n)
	}

	// Argo CD down for good: the timeout names the last problem. The
	// attempt's deadline passes at the third read.
	a.set(argoAnswer{status: http.StatusServiceUnavailable, body: `{"error":"unavailable","message":"the repo server is restarting"}`})
	dl := platformtest.NewDeadline()
	a.mu.Lock()
	a.onGet = func(n int) {
		if n == 3 {
			dl.Expire()
		}
	}
	a.mu.Unlock()
	d = newDriver(t, bare, a.config())
	_, err := d.Provision(dl, webJob(12, "orders-api", 2, &recorder{}))
	msg := platform.ErrorMessage(err)
	if platform.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(msg, "last problem:") ||
		!strings.Contains(msg, "503 Service Unavailable: the repo server is restarting") || strings.Contains(msg, "last status") {
		t.Errorf("Provision with Argo CD down = %v (message %q), want a transient timeout naming the 503", err, msg)
	}
}

func TestArgoCDDeprovisionWaitsForTheRemoval(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	a := newFakeArgo(t, bare, argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy"})
	d := newDriver(t, bare, a.config())
	job := webJob(12, "orders-api", 2, &recorder{})
	if _, err := d.Provision(context.Background(), job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	created := rev(t, bare, "main")

	a.set(
		argoAnswer{sync: "Synced", revision: created, health: "Healthy"},
		argoAnswer{sync: "OutOfSync", revision: "ref:main", health: "Healthy"},
		// Health does not matter once the removal is synced.
		argoAnswer{sync: "Synced", revision: "ref:main", health: "Missing"},
	)
	rec := &recorder{}
	job.Step = rec.step
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	removed := rev(t, bare, "main")
	want := []string{
		"Pushed the removal of " + ordersPath + " to main (" + short(removed) + ")",
		argoStep("Synced to " + short(created) + " (not yet " + short(removed) + "), Healthy"),
		argoStep("OutOfSync, Healthy"),
		argoStep("Synced to " + short(removed) + ", Missing"),
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if n := a.count(); n != 3 {
		t.Errorf("Argo CD reads = %d, want 3", n)
	}

	// A retry finds the path gone and waits for the same removal.
	a.set(argoAnswer{sync: "Synced", revision: created, health: "Healthy"}, argoAnswer{sync: "Synced", revision: removed, health: "Healthy"})
	rec = &recorder{}
	job.Step = rec.step
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("second Deprovision: %v", err)
	}
	want = []string{
		argoStep("Synced to " + short(created) + " (not yet " + short(removed) + "), Healthy"),
		argoStep("Synced to " + short(removed) + ", Healthy"),
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("retry steps mismatch (-want +got):\n%s", diff)
	}
	if rev(t, bare, "main") != removed {
		t.Error("the retry made another commit")
	}
}

// TestArgoCDMergeRequest: with WaitForMerge, Argo CD is watched only after
// the merge, for the target branch's head: a squash merge makes a commit
// the request branch never had. Without it, Argo CD is not watched.
func TestArgoCDMergeRequest(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	f := newFakeForge(t, ProviderGitHub, bare)
	f.mu.Lock()
	f.onGet = func(mr *fakeMR, n int) *fakeAnswer {
		if _, err := squashOnto(bare, mr.SHA+"^{tree}", mr.Title); err != nil {
			t.Errorf("squash merge: %v", err)
		}
		mr.State = "merged"
		return nil
	}
	f.mu.Unlock()
	a := newFakeArgo(t, bare, argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy"})
	a.mu.Lock()
	a.onGet = func(int) {
		for _, mr := range f.list() {
			if mr.State != "merged" {
				t.Errorf("Argo CD read before merge request %d was merged", mr.Number)
			}
		}
	}
	a.mu.Unlock()
	d := newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.WaitForMerge = true }), a.config(), func(c *Config) { c.Timeout = time.Minute })
	rec := &recorder{}
	res, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	branch, squashed := res.Outputs["commit"], rev(t, bare, "main")
	if branch == squashed {
		t.Fatal("the merge was not a squash")
	}
	want := []string{
		"Pushed branch idpbot/12-create (" + short(branch) + ") with the manifests of " + ordersPath,
		"Opened merge request #1: " + f.url(1),
		"Waiting for merge request #1 to be merged into main: " + f.url(1),
		"Merge request #1 was merged into main",
		argoStep("Synced to " + short(squashed) + ", Healthy"),
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}

	// The deletion too waits for its squashed removal.
	a.set(argoAnswer{sync: "Synced", revision: squashed, health: "Healthy"}, argoAnswer{sync: "Synced", revision: "ref:main", health: "Missing"})
	rec = &recorder{}
	job := webJob(12, "orders-api", 2, rec)
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	removed := rev(t, bare, "main")
	if got := rec.all(); len(got) < 2 || got[len(got)-2] != argoStep("Synced to "+short(squashed)+" (not yet "+short(removed)+"), Healthy") ||
		got[len(got)-1] != argoStep("Synced to "+short(removed)+", Missing") {
		t.Errorf("deletion steps = %q, want them to end with Argo CD syncing %s", got, short(removed))
	}

	// Without WaitForMerge nothing is applied before the review: Argo CD
	// is not asked.
	a.set(argoAnswer{status: http.StatusInternalServerError, body: "not expected"})
	f.mu.Lock()
	f.onGet = nil
	f.mu.Unlock()
	d = newDriver(t, bare, withMR(f), a.config())
	if _, err := d.Provision(context.Background(), webJob(13, "billing", 1, &recorder{})); err != nil {
		t.Fatalf("Provision without WaitForMerge: %v", err)
	}
	if n := a.count(); n != 0 {
		t.Errorf("Argo CD reads = %d before any merge, want 0", n)
	}
}

func TestArgoCDConfig(t *testing.T) {
	t.Parallel()
	good := func() *ArgoCDConfig { return &ArgoCDConfig{Server: "https://argocd.example.com", Token: "argo-t0ken"} }
	for _, tc := range []struct {
		name   string
		mutate func(*ArgoCDConfig)
		want   string
	}{
		{"no server", func(c *ArgoCDConfig) { c.Server = "" }, "argocd.server is required"},
		{"file server", func(c *ArgoCDConfig) { c.Server = "file:///etc/passwd" }, `argocd.server "file:///etc/passwd" is not an http(s) URL`},
		{"grpc server", func(c *ArgoCDConfig) { c.Server = "argocd.example.com:443" }, "is not an http(s) URL"},
		{"server with credentials", func(c *ArgoCDConfig) { c.Server = "https://admin:pw@argocd.example.com" }, "must not hold credentials"},
		{"uppercase application", func(c *ArgoCDConfig) { c.Application = "{{team}}-Prod" }, `argocd.application "{{team}}-Prod" does not make Kubernetes names`},
		{"no token", func(c *ArgoCDConfig) { c.Token = "" }, "argocd.token is empty"},
	} {
		c := good()
		tc.mutate(c)
		_, err := New(Config{Repository: "r", ArgoCD: c})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "admin:pw") {
			t.Errorf("%s: error shows credentials: %v", tc.name, err)
		}
	}

	// The application defaults to one per team and environment; the
	// caller's config is not changed, and the token is never marshalled.
	c := good()
	d, err := New(Config{Repository: "r", ArgoCD: c})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if d.cfg.ArgoCD.Application != DefaultApplication || c.Application != "" {
		t.Errorf("application = %q (caller's %q), want %q and the caller's untouched", d.cfg.ArgoCD.Application, c.Application, DefaultApplication)
	}
	b, err := json.Marshal(Config{ArgoCD: good()})
	if err != nil || strings.Contains(string(b), "argo-t0ken") || !strings.Contains(string(b), `"argocd":{"server":"https://argocd.example.com"}`) {
		t.Errorf("marshalled config = %s (%v), want it without the token", b, err)
	}
}
