package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
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

// bareRepo creates an empty bare repository and returns its path.
func bareRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "platform.git")
	run(t, "", "git", "init", "-q", "--bare", dir)
	return dir
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func gitIn(t *testing.T, bare string, args ...string) string {
	t.Helper()
	return run(t, "", "git", append([]string{"--git-dir", bare}, args...)...)
}

func newDriver(t *testing.T, repo string, mutate ...func(*Config)) *Driver {
	t.Helper()
	cfg := Config{Repository: repo, WorkDir: t.TempDir(), AuthorName: "idpbot", AuthorEmail: "idpbot@example.com", PollInterval: time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func webJob(id int64, name string, replicas int64, rec *recorder) platform.Job {
	return platform.Job{
		Resource: &platform.Resource{
			ID: id, Service: "web-application", Name: name, Team: "payments", Environment: "production",
			Parameters: map[string]any{"image": "registry.example.com/payments/orders:1.4.2", "replicas": replicas, "cpu": "500m", "memory": "512Mi"},
			Requester:  platform.Actor{ID: "slack:U0ALICE", Name: "alice"},
		},
		Settings: map[string]any{},
		Step:     rec.step,
	}
}

func commitCount(t *testing.T, bare string) int {
	t.Helper()
	var n int
	fmt.Sscan(gitIn(t, bare, "rev-list", "--count", "main"), &n)
	return n
}

func TestProvisionCommitsManifests(t *testing.T) {
	t.Parallel()
	bare := bareRepo(t)
	d := newDriver(t, bare)
	rec := &recorder{}
	job := webJob(12, "orders-api", 3, rec)

	res, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	head := strings.TrimSpace(gitIn(t, bare, "rev-parse", "main"))
	wantOut := map[string]string{
		"repository": bare,
		"branch":     "main",
		"path":       "payments/production/web-application/orders-api",
		"commit":     head,
		"url":        "http://orders-api.payments-production.svc.cluster.local",
		"namespace":  "payments-production",
		"deployment": "orders-api",
		"image":      "registry.example.com/payments/orders:1.4.2",
	}
	if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Pushed payments/production/web-application/orders-api to main (" + head[:12] + ")"}, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}

	files := strings.Fields(gitIn(t, bare, "ls-tree", "-r", "--name-only", "main"))
	wantFiles := []string{
		"payments/production/web-application/orders-api/deployment-orders-api.yaml",
		"payments/production/web-application/orders-api/kustomization.yaml",
		"payments/production/web-application/orders-api/service-orders-api.yaml",
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
	// The committed objects are exactly what the kubernetes driver applies.
	m, err := kubernetes.Render(job, kubernetes.Target{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Objects {
		path := "payments/production/web-application/orders-api/" + strings.ToLower(o.GetKind()) + "-" + o.GetName() + ".yaml"
		content := gitIn(t, bare, "show", "main:"+path)
		if !strings.HasPrefix(content, "# Managed by idpbot for request #12 (web-application orders-api).") {
			t.Errorf("%s lacks the idpbot header:\n%s", path, content)
		}
		var got map[string]any
		if err := yaml.Unmarshal([]byte(content), &got); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want, _ := yaml.Marshal(o.Object)
		var wantObj map[string]any
		if err := yaml.Unmarshal(want, &wantObj); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantObj, got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
		}
	}
	var kust map[string]any
	if err := yaml.Unmarshal([]byte(gitIn(t, bare, "show", "main:payments/production/web-application/orders-api/kustomization.yaml")), &kust); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"deployment-orders-api.yaml", "service-orders-api.yaml"}, kust["resources"]); diff != "" {
		t.Errorf("kustomization resources mismatch (-want +got):\n%s", diff)
	}

	wantMsg := `idpbot: create web-application orders-api for payments/production (request #12, by alice)

Parameters:
  cpu: 500m
  image: registry.example.com/payments/orders:1.4.2
  memory: 512Mi
  replicas: 3

Idpbot-Request: 12
Idpbot-Requester: slack:U0ALICE
`
	if diff := cmp.Diff(wantMsg, gitIn(t, bare, "log", "-1", "--format=%B", "main")[:len(wantMsg)]); diff != "" {
		t.Errorf("commit message mismatch (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(gitIn(t, bare, "log", "-1", "--format=%an <%ae>", "main")); got != "idpbot <idpbot@example.com>" {
		t.Errorf("author = %q, want idpbot <idpbot@example.com>", got)
	}

	// A retried job finds the manifests in place: no second commit.
	rec2 := &recorder{}
	job.Step = rec2.step
	res2, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	if n := commitCount(t, bare); n != 1 {
		t.Errorf("commits after re-run = %d, want 1", n)
	}
	if res2.Outputs["commit"] != head {
		t.Errorf("re-run commit = %s, want %s", res2.Outputs["commit"], head)
	}
	if diff := cmp.Diff([]string{"payments/production/web-application/orders-api is already up to date on main"}, rec2.all()); diff != "" {
		t.Errorf("re-run steps mismatch (-want +got):\n%s", diff)
	}

	// Another replica with its own cache agrees.
	if _, err := newDriver(t, bare).Provision(context.Background(), job); err != nil {
		t.Fatalf("Provision from a fresh cache: %v", err)
	}
	if n := commitCount(t, bare); n != 1 {
		t.Errorf("commits after a fresh-cache re-run = %d, want 1", n)
	}

	// Deletion is one commit removing the path, and only once.
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if n := commitCount(t, bare); n != 2 {
		t.Errorf("commits after Deprovision = %d, want 2", n)
	}
	if got := strings.TrimSpace(gitIn(t, bare, "ls-tree", "-r", "--name-only", "main")); got != "" {
		t.Errorf("files after Deprovision = %q, want none", got)
	}
	wantDel := "idpbot: delete web-application orders-api for payments/production (request #12)"
	if got := strings.SplitN(gitIn(t, bare, "log", "-1", "--format=%B", "main"), "\n", 2)[0]; got != wantDel {
		t.Errorf("deletion subject = %q, want %q", got, wantDel)
	}
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("second Deprovision: %v", err)
	}
	if n := commitCount(t, bare); n != 2 {
		t.Errorf("commits after second Deprovision = %d, want 2", n)
	}
}

func TestProvisionKeepsOthersWorkAndRetriesRejectedPush(t *testing.T) {
	t.Parallel()
	bare := bareRepo(t)
	// Someone else's commit is on the branch first.
	work := t.TempDir()
	run(t, work, "git", "clone", "-q", bare, ".")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("platform repo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, work, "git", "add", "README.md")
	run(t, work, "git", "commit", "-q", "-m", "init")
	run(t, work, "git", "push", "-q", "origin", "HEAD:refs/heads/main")

	// Two replicas (separate caches) and two jobs on one of them, at once.
	a, b := newDriver(t, bare), newDriver(t, bare)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, d := range []*Driver{a, a, b, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = d.Provision(context.Background(), webJob(int64(20+i), fmt.Sprintf("app-%d", i), 1, &recorder{}))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Provision app-%d: %v", i, err)
		}
	}
	if n := commitCount(t, bare); n != 5 {
		t.Errorf("commits = %d, want 5 (init + 4)", n)
	}
	files := gitIn(t, bare, "ls-tree", "-r", "--name-only", "main")
	for _, want := range []string{"README.md", "app-0/kustomization.yaml", "app-1/kustomization.yaml", "app-2/kustomization.yaml", "app-3/kustomization.yaml"} {
		if !strings.Contains(files, want) {
			t.Errorf("repository lacks %s; has:\n%s", want, files)
		}
	}
}

func TestHealthURL(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	d := newDriver(t, bareRepo(t), func(c *Config) { c.HealthURL = srv.URL + "/apps/{{team}}-{{environment}}-{{name}}/health" })
	rec := &recorder{}
	if _, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("health polls = %d, want 3", got)
	}
	if got := path.Load(); got != "/apps/payments-production-orders-api/health" {
		t.Errorf("health path = %v", got)
	}
	steps := rec.all()
	if len(steps) != 3 || steps[1] != "Waiting for the deployment to report healthy" || steps[2] != "Reported healthy" {
		t.Errorf("steps = %q, want push, waiting, healthy", steps)
	}

	// A health URL that never answers 2xx is polled until the attempt's
	// deadline passes, which here is at the third poll: the error is a
	// transient timeout naming the last answer.
	dl := platformtest.NewDeadline()
	var polls atomic.Int32
	never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) == 3 {
			dl.Expire()
		}
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer never.Close()
	d = newDriver(t, bareRepo(t), func(c *Config) { c.HealthURL = never.URL })
	_, err := d.Provision(dl, webJob(13, "billing", 1, &recorder{}))
	if err == nil || platform.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("Provision with an unhealthy app = %v, want a transient timeout naming 502", err)
	}
	if n := polls.Load(); n < 3 {
		t.Errorf("health polls = %d, want it polled until the deadline", n)
	}
}

// TestTimeoutBoundsTheAttempt: Timeout is the deadline of everything one
// Provision does, the health polls included.
func TestTimeoutBoundsTheAttempt(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var deadlines []time.Time
	var mu sync.Mutex
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		if dl, ok := r.Context().Deadline(); ok {
			deadlines = append(deadlines, dl)
		}
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})}
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{0, DefaultTimeout},
		{42 * time.Minute, 42 * time.Minute},
	} {
		mu.Lock()
		deadlines = nil
		mu.Unlock()
		d := newDriver(t, bareRepo(t), func(c *Config) { c.HealthURL = srv.URL; c.HTTPClient = client; c.Timeout = tc.timeout })
		start := time.Now()
		if _, err := d.Provision(context.Background(), webJob(12, "orders-api", 1, &recorder{})); err != nil {
			t.Fatalf("Provision: %v", err)
		}
		end := time.Now()
		mu.Lock()
		if len(deadlines) != 1 || deadlines[0].Before(start.Add(tc.want)) || deadlines[0].After(end.Add(tc.want)) {
			t.Errorf("Timeout %v: health poll deadlines %v, want one %v after the start of Provision (%v)", tc.timeout, deadlines, tc.want, start)
		}
		mu.Unlock()
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRefusals(t *testing.T) {
	t.Parallel()
	d := newDriver(t, "")
	if err := d.Check(); platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != "no gitops repository configured" {
		t.Errorf("Check() = %v, want Unavailable: no gitops repository configured", err)
	}
	bare := bareRepo(t)
	d = newDriver(t, bare, func(c *Config) { c.PathTemplate = "{{team}}/../{{name}}" })
	if _, err := d.Provision(context.Background(), webJob(1, "orders-api", 1, &recorder{})); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("Provision with a path escaping the repository = %v, want Invalid", err)
	}
	job := webJob(1, "orders-api", 1, &recorder{})
	delete(job.Resource.Parameters, "image")
	if _, err := newDriver(t, bare).Provision(context.Background(), job); !platform.IsPermanent(err) {
		t.Errorf("Provision without image = %v, want permanent", err)
	}
	if n := strings.TrimSpace(gitIn(t, bare, "for-each-ref")); n != "" {
		t.Errorf("refused requests pushed %q", n)
	}
	for _, cfg := range []Config{{Repository: "--upload-pack=touch /tmp/x"}, {Repository: "r", Branch: "main..x"}, {Repository: "r", HealthURL: "file:///etc/passwd"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a dangerous configuration", cfg)
		}
	}
	if got := redact("https://user:token@git.example.com/platform.git"); got != "https://***@git.example.com/platform.git" {
		t.Errorf("redact = %q, want the credentials hidden", got)
	}
}
