package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

var providers = []string{ProviderGitHub, ProviderGitLab}

const ordersPath = "payments/production/web-application/orders-api"

// seededRepo is a bare repository whose main branch holds a README.
func seededRepo(t *testing.T) string {
	t.Helper()
	bare := bareRepo(t)
	work := t.TempDir()
	run(t, work, "git", "clone", "-q", bare, ".")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("platform repo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, work, "git", "add", "README.md")
	run(t, work, "git", "commit", "-q", "-m", "init")
	run(t, work, "git", "push", "-q", "origin", "HEAD:refs/heads/main")
	return bare
}

func rev(t *testing.T, bare, ref string) string {
	t.Helper()
	return strings.TrimSpace(gitIn(t, bare, "rev-parse", ref))
}

func withMR(f *fakeForge, mutate ...func(*MergeRequestConfig)) func(*Config) {
	return func(c *Config) {
		c.MergeRequest = f.config()
		for _, m := range mutate {
			m(c.MergeRequest)
		}
	}
}

func TestMergeRequestFlow(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			bare := seededRepo(t)
			base := rev(t, bare, "main")
			f := newFakeForge(t, provider, bare)
			d := newDriver(t, bare, withMR(f))
			rec := &recorder{}
			job := webJob(12, "orders-api", 3, rec)

			res, err := d.Provision(context.Background(), job)
			if err != nil {
				t.Fatalf("Provision: %v", err)
			}
			head := rev(t, bare, "idpbot/12-create")
			wantOut := map[string]string{
				"repository":        bare,
				"branch":            "idpbot/12-create",
				"target_branch":     "main",
				"path":              ordersPath,
				"commit":            head,
				"merge_request_url": f.url(1),
				"url":               "http://orders-api.payments-production.svc.cluster.local",
				"namespace":         "payments-production",
				"deployment":        "orders-api",
				"image":             "registry.example.com/payments/orders:1.4.2",
			}
			if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
				t.Errorf("outputs mismatch (-want +got):\n%s", diff)
			}
			wantSteps := []string{
				"Pushed branch idpbot/12-create (" + head[:12] + ") with the manifests of " + ordersPath,
				"Opened merge request " + f.ref(1) + ": " + f.url(1),
				"Merge request " + f.ref(1) + " awaits the platform team's review: their merge into main is the gate, and Argo CD or Flux applies it once merged",
			}
			if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
				t.Errorf("steps mismatch (-want +got):\n%s", diff)
			}

			// The branch is main plus one commit with the rendered files;
			// main itself is untouched until the merge.
			if got := rev(t, bare, "main"); got != base {
				t.Errorf("main moved to %s before any merge", got)
			}
			if got := rev(t, bare, "idpbot/12-create^"); got != base {
				t.Errorf("branch parent = %s, want main's head %s", got, base)
			}
			files := strings.Fields(gitIn(t, bare, "ls-tree", "-r", "--name-only", "idpbot/12-create"))
			wantFiles := []string{
				"README.md",
				ordersPath + "/deployment-orders-api.yaml",
				ordersPath + "/kustomization.yaml",
				ordersPath + "/service-orders-api.yaml",
			}
			if diff := cmp.Diff(wantFiles, files); diff != "" {
				t.Errorf("branch files mismatch (-want +got):\n%s", diff)
			}
			wantSubject := "idpbot: create web-application orders-api for payments/production (request #12, by alice)"
			if got := strings.SplitN(gitIn(t, bare, "log", "-1", "--format=%B", "idpbot/12-create"), "\n", 2)[0]; got != wantSubject {
				t.Errorf("commit subject = %q, want %q", got, wantSubject)
			}

			mrs := f.list()
			if len(mrs) != 1 {
				t.Fatalf("merge requests = %+v, want one", mrs)
			}
			mr := mrs[0]
			if mr.Source != "idpbot/12-create" || mr.Target != "main" || mr.SHA != head || mr.Title != wantSubject {
				t.Errorf("merge request = %+v, want idpbot/12-create → main at %s titled %q", mr, head, wantSubject)
			}
			for _, want := range []string{
				"Creates or updates web-application **orders-api** of team payments in production: idpbot request #12, requested by alice (slack:U0ALICE).",
				"Path: `" + ordersPath + "`",
				"- image: registry.example.com/payments/orders:1.4.2\n- memory: 512Mi\n- replicas: 3\n",
				"Idpbot-Request: 12\nIdpbot-Requester: slack:U0ALICE\n",
			} {
				if !strings.Contains(mr.Body, want) {
					t.Errorf("description lacks %q:\n%s", want, mr.Body)
				}
			}
			if provider == ProviderGitLab && !mr.RemoveSource {
				t.Error("GitLab merge request does not remove its source branch when merged")
			}

			// A retried job reuses the branch and the merge request.
			for name, dd := range map[string]*Driver{"same cache": d, "fresh cache": newDriver(t, bare, withMR(f))} {
				rec := &recorder{}
				job.Step = rec.step
				res, err := dd.Provision(context.Background(), job)
				if err != nil {
					t.Fatalf("re-run (%s): %v", name, err)
				}
				if got := rev(t, bare, "idpbot/12-create"); got != head {
					t.Errorf("re-run (%s) pushed %s, want the branch left at %s", name, got, head)
				}
				if res.Outputs["merge_request_url"] != f.url(1) || res.Outputs["commit"] != head {
					t.Errorf("re-run (%s) outputs = %v", name, res.Outputs)
				}
				want := []string{
					"Branch idpbot/12-create already holds the manifests of " + ordersPath + " (" + head[:12] + ")",
					"Merge request " + f.ref(1) + " is already open: " + f.url(1),
					wantSteps[2],
				}
				if diff := cmp.Diff(want, rec.all()); diff != "" {
					t.Errorf("re-run (%s) steps mismatch (-want +got):\n%s", name, diff)
				}
			}
			if n := f.count("POST"); n != 1 {
				t.Errorf("merge requests opened = %d, want 1", n)
			}

			// Merged: the change is in place and a retry says so.
			f.merge(1)
			rec = &recorder{}
			job.Step = rec.step
			res, err = d.Provision(context.Background(), job)
			if err != nil {
				t.Fatalf("Provision after the merge: %v", err)
			}
			if diff := cmp.Diff([]string{ordersPath + " is already up to date on main"}, rec.all()); diff != "" {
				t.Errorf("steps after the merge mismatch (-want +got):\n%s", diff)
			}
			if res.Outputs["branch"] != "main" || res.Outputs["commit"] != head || res.Outputs["merge_request_url"] != f.url(1) {
				t.Errorf("outputs after the merge = %v", res.Outputs)
			}

			// Deletion: a removal commit on its own branch, in its own
			// merge request.
			rec = &recorder{}
			job.Step = rec.step
			if err := d.Deprovision(context.Background(), job); err != nil {
				t.Fatalf("Deprovision: %v", err)
			}
			del := rev(t, bare, "idpbot/12-delete")
			wantDel := []string{
				"Pushed branch idpbot/12-delete (" + del[:12] + ") with the removal of " + ordersPath,
				"Opened merge request " + f.ref(2) + ": " + f.url(2),
				"Merge request " + f.ref(2) + " awaits the platform team's review: their merge into main is the gate, and Argo CD or Flux removes it once merged",
			}
			if diff := cmp.Diff(wantDel, rec.all()); diff != "" {
				t.Errorf("deletion steps mismatch (-want +got):\n%s", diff)
			}
			if got := strings.TrimSpace(gitIn(t, bare, "ls-tree", "-r", "--name-only", "idpbot/12-delete")); got != "README.md" {
				t.Errorf("deletion branch files = %q, want README.md only", got)
			}
			if got := rev(t, bare, "idpbot/12-delete^"); got != head {
				t.Errorf("deletion branch parent = %s, want main's head %s", got, head)
			}
			mrs = f.list()
			if len(mrs) != 2 || mrs[1].Source != "idpbot/12-delete" || mrs[1].Title != "idpbot: delete web-application orders-api for payments/production (request #12)" ||
				!strings.Contains(mrs[1].Body, "Removes web-application **orders-api** of team payments in production: idpbot request #12") {
				t.Errorf("deletion merge request = %+v", mrs[len(mrs)-1])
			}
			if err := d.Deprovision(context.Background(), job); err != nil {
				t.Fatalf("second Deprovision: %v", err)
			}
			if got := rev(t, bare, "idpbot/12-delete"); got != del || f.count("POST") != 2 {
				t.Errorf("second Deprovision pushed %s (want %s) or opened another merge request (%d opened)", got, del, f.count("POST"))
			}

			// Once merged, the path is gone from main: nothing more to do.
			f.merge(2)
			rec = &recorder{}
			job.Step = rec.step
			if err := d.Deprovision(context.Background(), job); err != nil {
				t.Fatalf("Deprovision after the merge: %v", err)
			}
			if steps := rec.all(); len(steps) != 0 || f.count("POST") != 2 {
				t.Errorf("Deprovision after the merge: steps %q, %d merge requests opened, want none and 2", steps, f.count("POST"))
			}
		})
	}
}

// TestMergeRequestRebuildsStaleBranch: a branch whose commit is already on
// main (merged, then reverted) is rebuilt on main's head and proposed again.
func TestMergeRequestRebuildsStaleBranch(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	f := newFakeForge(t, ProviderGitHub, bare)
	d := newDriver(t, bare, withMR(f))
	job := webJob(7, "orders-api", 1, &recorder{})
	if _, err := d.Provision(context.Background(), job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	first := rev(t, bare, "idpbot/7-create")
	f.merge(1)
	work := t.TempDir()
	run(t, work, "git", "clone", "-q", "-b", "main", bare, ".")
	run(t, work, "git", "revert", "--no-edit", "HEAD")
	run(t, work, "git", "push", "-q", "origin", "HEAD:refs/heads/main")

	res, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision after a revert: %v", err)
	}
	second := rev(t, bare, "idpbot/7-create")
	if second == first || rev(t, bare, "idpbot/7-create^") != rev(t, bare, "main") {
		t.Errorf("branch = %s (was %s), want a new commit on main's head", second, first)
	}
	if res.Outputs["merge_request_url"] != f.url(2) || f.count("POST") != 2 {
		t.Errorf("outputs = %v after %d merge requests, want a second merge request", res.Outputs, f.count("POST"))
	}
}

func TestMergeRequestWaitForMerge(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			bare := seededRepo(t)
			f := newFakeForge(t, provider, bare)
			// First read: a 503 (polled through); second: still open;
			// third: the reviewer has merged.
			f.onGet = func(mr *fakeMR, n int) *fakeAnswer {
				switch n {
				case 1:
					return &fakeAnswer{http.StatusServiceUnavailable, `{"message":"maintenance"}`}
				case 3:
					if err := f.mergeLocked(mr); err != nil {
						t.Error(err)
					}
				}
				return nil
			}
			var healthBeforeMerge, healthCalls atomic.Int32
			health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				healthCalls.Add(1)
				if mrs := f.list(); len(mrs) == 0 || mrs[0].State != "merged" {
					healthBeforeMerge.Add(1)
				}
			}))
			defer health.Close()
			d := newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.WaitForMerge = true }), func(c *Config) { c.HealthURL = health.URL })
			rec := &recorder{}
			res, err := d.Provision(context.Background(), webJob(12, "orders-api", 2, rec))
			if err != nil {
				t.Fatalf("Provision: %v", err)
			}
			head := res.Outputs["commit"]
			if left := strings.TrimSpace(gitIn(t, bare, "branch", "--list", "idpbot/*")); left != "" {
				t.Errorf("merged branches left in the repository: %s", left)
			}
			want := []string{
				"Pushed branch idpbot/12-create (" + head[:12] + ") with the manifests of " + ordersPath,
				"Opened merge request " + f.ref(1) + ": " + f.url(1),
				"Waiting for merge request " + f.ref(1) + " to be merged into main: " + f.url(1),
				"Merge request " + f.ref(1) + " was merged into main",
				"Reported healthy",
			}
			if diff := cmp.Diff(want, rec.all()); diff != "" {
				t.Errorf("steps mismatch (-want +got):\n%s", diff)
			}
			if got := f.count("GET /"); got != 3 {
				t.Errorf("merge request reads = %d, want 3", got)
			}
			if healthCalls.Load() != 1 || healthBeforeMerge.Load() != 0 {
				t.Errorf("health checked %d times, %d before the merge; want once, after", healthCalls.Load(), healthBeforeMerge.Load())
			}
			if rev(t, bare, "main") != head || res.Outputs["merge_request_url"] != f.url(1) {
				t.Errorf("after the merge main = %s (want %s), outputs %v", rev(t, bare, "main"), head, res.Outputs)
			}
		})
	}
}

func TestMergeRequestClosedWithoutMerging(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			bare := seededRepo(t)
			f := newFakeForge(t, provider, bare)
			f.onGet = func(mr *fakeMR, n int) *fakeAnswer {
				mr.State = "closed"
				return nil
			}
			d := newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.WaitForMerge = true }))
			job := webJob(12, "orders-api", 2, &recorder{})
			wantMsg := "merge request " + f.ref(1) + " was closed without merging"
			_, err := d.Provision(context.Background(), job)
			if !platform.IsPermanent(err) || platform.ErrorMessage(err) != wantMsg {
				t.Fatalf("Provision = %v, want a permanent %q", err, wantMsg)
			}
			// A retry does not overrule the reviewers by reopening it, even
			// without waiting for the merge.
			for _, dd := range []*Driver{d, newDriver(t, bare, withMR(f))} {
				_, err = dd.Provision(context.Background(), job)
				if !platform.IsPermanent(err) || platform.ErrorMessage(err) != wantMsg {
					t.Errorf("retried Provision = %v, want a permanent %q", err, wantMsg)
				}
			}
			if n := f.count("POST"); n != 1 {
				t.Errorf("merge requests opened = %d, want 1", n)
			}
		})
	}
}

func TestMergeRequestAPIErrors(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			bare := seededRepo(t)
			f := newFakeForge(t, provider, bare)

			// A 5xx is transient; the retry pushes nothing new and opens
			// the merge request.
			f.failNext("POST", fakeAnswer{http.StatusBadGateway, "<html>\n<h1>502 Bad Gateway</h1>\n</html>"})
			d := newDriver(t, bare, withMR(f))
			job := webJob(12, "orders-api", 2, &recorder{})
			_, err := d.Provision(context.Background(), job)
			if err == nil || platform.IsPermanent(err) || platform.ErrorCode(err) != platform.Unavailable {
				t.Fatalf("Provision with a 502 = %v, want a transient Unavailable error", err)
			}
			if msg := platform.ErrorMessage(err); !strings.Contains(msg, "502 Bad Gateway") || strings.Contains(msg, "\n") {
				t.Errorf("message = %q, want the status on one line", msg)
			}
			head := rev(t, bare, "idpbot/12-create")
			if _, err := d.Provision(context.Background(), job); err != nil {
				t.Fatalf("retried Provision: %v", err)
			}
			if got := rev(t, bare, "idpbot/12-create"); got != head || len(f.list()) != 1 {
				t.Errorf("retry: branch %s (want %s), %d merge requests (want 1)", got, head, len(f.list()))
			}

			// A merge request the lost answer had opened is found, not
			// opened twice.
			job13 := webJob(13, "billing", 1, &recorder{})
			if _, err := d.Provision(context.Background(), job13); err != nil {
				t.Fatalf("Provision 13: %v", err)
			}
			f.failNext("GET", fakeAnswer{http.StatusOK, "[]"})
			res, err := newDriver(t, bare, withMR(f)).Provision(context.Background(), job13)
			if err != nil || res.Outputs["merge_request_url"] != f.url(2) || len(f.list()) != 2 {
				t.Errorf("Provision racing its own merge request = %v, %v with %d merge requests; want it reused", err, res.Outputs, len(f.list()))
			}

			// A bad token is permanent, and never shown.
			bad := "bad-token-0123456789"
			d = newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.Token = bad }))
			_, err = d.Provision(context.Background(), webJob(14, "ledger", 1, &recorder{}))
			if platform.ErrorCode(err) != platform.Forbidden || !strings.Contains(platform.ErrorMessage(err), "401 Unauthorized") ||
				!strings.Contains(platform.ErrorMessage(err), "rejected the gitops driver's token") {
				t.Errorf("Provision with a bad token = %v, want Forbidden naming 401", err)
			}
			if err != nil && (strings.Contains(err.Error(), bad) || strings.Contains(platform.ErrorMessage(err), bad)) {
				t.Errorf("the error shows the token: %v", err)
			}

			// An unknown project is permanent and named.
			d = newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.Project = "acme/missing" }))
			_, err = d.Provision(context.Background(), webJob(15, "ledger", 1, &recorder{}))
			if !platform.IsPermanent(err) || !strings.Contains(platform.ErrorMessage(err), "acme/missing") || !strings.Contains(platform.ErrorMessage(err), "404") {
				t.Errorf("Provision for an unknown project = %v, want a permanent error naming it", err)
			}

			// A 422 is permanent; a long, multi-line body is cut to one line.
			f.failNext("POST", fakeAnswer{http.StatusUnprocessableEntity, `{"message":"Validation Failed","errors":[{"message":"` + strings.Repeat("line\\n", 400) + `"}]}`})
			d = newDriver(t, bare, withMR(f))
			_, err = d.Provision(context.Background(), webJob(16, "ledger", 1, &recorder{}))
			msg := platform.ErrorMessage(err)
			if platform.ErrorCode(err) != platform.Invalid || !strings.Contains(msg, "refused to open a merge request from idpbot/16-create") ||
				!strings.Contains(msg, "Validation Failed; line line") || strings.Contains(msg, "\n") || len(msg) > 500 {
				t.Errorf("Provision refused with 422 = %q (%v), want a permanent one-line message", msg, err)
			}
			if strings.Contains(msg, f.token) || strings.Contains(err.Error(), f.token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestMergeRequestUnreachableAndCancelled(t *testing.T) {
	t.Parallel()
	bare := seededRepo(t)
	f := newFakeForge(t, ProviderGitLab, bare)

	// Nothing listens: transient.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	d := newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.APIURL = down.URL }))
	_, err := d.Provision(context.Background(), webJob(12, "orders-api", 1, &recorder{}))
	if platform.ErrorCode(err) != platform.Unavailable || !strings.Contains(platform.ErrorMessage(err), "GitLab did not answer") {
		t.Errorf("Provision with the API down = %v, want Unavailable", err)
	}

	// Waiting for the merge ends with the context, long before the poll.
	d = newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.WaitForMerge = true }), func(c *Config) { c.PollInterval = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := webJob(13, "billing", 1, &recorder{})
	job.Step = func(s string) {
		if strings.HasPrefix(s, "Waiting for merge request") {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() { _, err := d.Provision(ctx, job); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || platform.IsPermanent(err) {
			t.Errorf("cancelled Provision = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Provision did not return after cancellation")
	}

	// A redirect to another host is refused: the token stays home.
	var leaked atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("PRIVATE-TOKEN"))
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	d = newDriver(t, bare, withMR(f, func(c *MergeRequestConfig) { c.APIURL = redirector.URL }))
	_, err = d.Provision(context.Background(), webJob(15, "ledger", 1, &recorder{}))
	if !platform.IsPermanent(err) || !strings.Contains(platform.ErrorMessage(err), "307 Temporary Redirect") || leaked.Load() != nil {
		t.Errorf("Provision redirected elsewhere = %v (token sent there: %v), want a permanent refusal", err, leaked.Load())
	}

	// The target branch must exist for a merge request.
	empty := bareRepo(t)
	d = newDriver(t, empty, withMR(newFakeForge(t, ProviderGitHub, empty)))
	_, err = d.Provision(context.Background(), webJob(14, "ledger", 1, &recorder{}))
	if !platform.IsPermanent(err) || platform.ErrorMessage(err) != "the gitops repository has no branch main to open merge requests against" {
		t.Errorf("Provision without a target branch = %v", err)
	}
}

func TestMergeRequestConfig(t *testing.T) {
	t.Parallel()
	good := func() *MergeRequestConfig {
		return &MergeRequestConfig{Provider: "github", APIURL: "https://api.github.com", Project: "acme/platform", Token: "t0ken-value"}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*MergeRequestConfig)
		want   string
	}{
		{"no provider", func(c *MergeRequestConfig) { c.Provider = "" }, "merge_request.provider is required"},
		{"unknown provider", func(c *MergeRequestConfig) { c.Provider = "bitbucket" }, `merge_request.provider "bitbucket" is not github or gitlab`},
		{"no api url", func(c *MergeRequestConfig) { c.APIURL = "" }, "merge_request.api_url is required"},
		{"api url not http", func(c *MergeRequestConfig) { c.APIURL = "file:///etc" }, "merge_request.api_url"},
		{"api url with credentials", func(c *MergeRequestConfig) { c.APIURL = "https://u:p@api.github.com" }, "must not hold credentials"},
		{"no project", func(c *MergeRequestConfig) { c.Project = "" }, "merge_request.project is required"},
		{"github project not owner/repo", func(c *MergeRequestConfig) { c.Project = "acme" }, `merge_request.project "acme" is not owner/repo`},
		{"gitlab project with spaces", func(c *MergeRequestConfig) { c.Provider, c.Project = "gitlab", "acme platform" }, "merge_request.project"},
		{"bad target branch", func(c *MergeRequestConfig) { c.TargetBranch = "-main" }, "merge_request.target_branch"},
		{"no token", func(c *MergeRequestConfig) { c.Token = "" }, "merge_request.token is empty"},
	} {
		mr := good()
		tc.mutate(mr)
		_, err := New(Config{Repository: "r", MergeRequest: mr})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "u:p@") {
			t.Errorf("%s: error shows credentials: %v", tc.name, err)
		}
	}

	// The target defaults to Branch; the caller's config is not changed.
	mr := good()
	d, err := New(Config{Repository: "r", Branch: "release", MergeRequest: mr})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if d.cfg.MergeRequest.TargetBranch != "release" || mr.TargetBranch != "" {
		t.Errorf("target branch = %q (caller's %q), want release and the caller's untouched", d.cfg.MergeRequest.TargetBranch, mr.TargetBranch)
	}
	gl := &MergeRequestConfig{Provider: "gitlab", APIURL: "https://gitlab.example.com/api/v4", Project: "42", Token: "x"}
	if _, err := New(Config{Repository: "r", MergeRequest: gl}); err != nil {
		t.Errorf("New with a GitLab project id = %v", err)
	}
	b, err := json.Marshal(Config{MergeRequest: good()})
	if err != nil || strings.Contains(string(b), "t0ken-value") || !strings.Contains(string(b), `"merge_request":{"provider":"github"`) {
		t.Errorf("marshalled config = %s (%v), want it without the token", b, err)
	}
}
