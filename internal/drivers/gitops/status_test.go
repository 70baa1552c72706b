package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := bareRepo(t)
	d := newDriver(t, bare)
	job := webJob(12, "orders-api", 3, &recorder{})
	read := func(what string, job platform.Job) platform.LiveStatus {
		t.Helper()
		st, err := d.Status(ctx, job)
		if err != nil {
			t.Fatalf("%s: Status: %v", what, err)
		}
		return st
	}

	// Nothing pushed yet: the branch does not even exist.
	want := platform.LiveStatus{Health: platform.Missing, Summary: "The directory " + ordersPath + " is no longer on branch main.",
		Checks: []platform.LiveCheck{{Name: ordersPath, Recorded: "on main", Live: "absent"}}}
	if diff := cmp.Diff(want, read("before Provision", job)); diff != "" {
		t.Errorf("before Provision: status mismatch (-want +got):\n%s", diff)
	}

	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	want = platform.LiveStatus{Health: platform.Healthy, Summary: "The manifests are on branch main as recorded.",
		Checks: []platform.LiveCheck{
			{Name: ordersPath + "/deployment-orders-api.yaml", Recorded: "present", Live: "present", OK: true},
			{Name: ordersPath + "/kustomization.yaml", Recorded: "present", Live: "present", OK: true},
			{Name: ordersPath + "/service-orders-api.yaml", Recorded: "present", Live: "present", OK: true},
		}}
	if diff := cmp.Diff(want, read("after Provision", job)); diff != "" {
		t.Errorf("after Provision: status mismatch (-want +got):\n%s", diff)
	}

	// The record says 5 replicas; the branch holds 3.
	st := read("record changed", webJob(12, "orders-api", 5, &recorder{}))
	wantCheck := platform.LiveCheck{Name: ordersPath + "/deployment-orders-api.yaml", Recorded: "as rendered", Live: "edited"}
	if st.Health != platform.Changed || !slicesContains(st.Checks, wantCheck) {
		t.Errorf("record changed: %+v, want changed with %+v", st, wantCheck)
	}

	// Someone removed one file on the branch.
	work := t.TempDir()
	run(t, "", "git", "clone", "-q", "-b", "main", bare, work)
	run(t, work, "git", "rm", "-q", ordersPath+"/service-orders-api.yaml")
	run(t, work, "git", "commit", "-q", "-m", "remove the service by hand")
	run(t, work, "git", "push", "-q", "origin", "HEAD:main")
	st = read("file removed", job)
	if st.Health != platform.Missing || st.Summary != "The file "+ordersPath+"/service-orders-api.yaml is gone from branch main." {
		t.Errorf("file removed: %q %q, want missing naming the file", st.Health, st.Summary)
	}

	// The whole path removed.
	if err := d.Deprovision(ctx, job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if st := read("path removed", job); st.Health != platform.Missing {
		t.Errorf("path removed: %q %q, want missing", st.Health, st.Summary)
	}
}

func TestStatusArgoCD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := seededRepo(t)
	a := newFakeArgo(t, bare, argoAnswer{sync: "Synced", revision: "ref:main", health: "Healthy"})
	d := newDriver(t, bare, a.config())
	job := webJob(12, "orders-api", 2, &recorder{})
	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	st, err := d.Status(ctx, job)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	wantArgo := platform.LiveCheck{Name: "Argo CD application " + argoApp1, Recorded: "Synced, Healthy", Live: "Synced, Healthy", OK: true}
	if st.Health != platform.Healthy || !slicesContains(st.Checks, wantArgo) ||
		st.Summary != "The manifests are on branch main, and Argo CD application "+argoApp1+" is synced and healthy." {
		t.Errorf("synced and healthy: %+v, want healthy with %+v", st, wantArgo)
	}

	a.set(argoAnswer{sync: "OutOfSync", revision: "ref:main", health: "Degraded", message: "Back-off pulling image."})
	st, err = d.Status(ctx, job)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := "Argo CD application " + argoApp1 + " is OutOfSync, Degraded: Back-off pulling image."
	if st.Health != platform.Degraded || st.Summary != want {
		t.Errorf("degraded: %q %q, want degraded %q", st.Health, st.Summary, want)
	}

	// An application Argo CD does not have.
	a.mu.Lock()
	a.app = "someone-else"
	a.mu.Unlock()
	if st, err := d.Status(ctx, job); err != nil || st.Health != platform.Degraded {
		t.Errorf("no application: %+v, %v; want degraded", st, err)
	}

	// A token Argo CD refuses: the status cannot be read.
	a.mu.Lock()
	a.token = "another-token"
	a.mu.Unlock()
	_, err = d.Status(ctx, job)
	if err == nil || strings.Contains(err.Error(), "argo-t0ken-S3CRET-value") || strings.Contains(platform.ErrorMessage(err), "argo-t0ken-S3CRET-value") {
		t.Errorf("refused token: %v, want an error without the token", err)
	}
}

func TestStatusNotConfigured(t *testing.T) {
	t.Parallel()
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Status(context.Background(), webJob(12, "orders-api", 3, &recorder{})); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Status without a repository: %v, want Unavailable", err)
	}
}

func slicesContains(checks []platform.LiveCheck, want platform.LiveCheck) bool {
	for _, c := range checks {
		if c == want {
			return true
		}
	}
	return false
}
