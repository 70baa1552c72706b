package kubernetes

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes/kubefake"
	"github.com/idpbot/idpbot/internal/platform"
)

// liveStatus makes every read of a deployment report the status last given
// to set, as a cluster's controller would.
func liveStatus(cs *fake.Clientset, initial appsv1.DeploymentStatus) (set func(appsv1.DeploymentStatus)) {
	var mu sync.Mutex
	cur := initial
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		dep := obj.(*appsv1.Deployment).DeepCopy()
		dep.Status = cur
		return true, dep, nil
	})
	return func(s appsv1.DeploymentStatus) {
		mu.Lock()
		defer mu.Unlock()
		cur = s
	}
}

func TestStatusWebApplication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset()
	setStatus := liveStatus(cs, status(3, 3, 3))
	d := NewWithClients(testConfig(), map[string]Clients{"production": {Typed: cs}})
	job := newJob(12, ServiceWebApp, "orders-api", webAppParams(), &recorder{})
	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	read := func(what string) platform.LiveStatus {
		t.Helper()
		st, err := d.Status(ctx, job)
		if err != nil {
			t.Fatalf("%s: Status: %v", what, err)
		}
		return st
	}

	st := read("after Provision")
	want := platform.LiveStatus{
		Health:  platform.Healthy,
		Summary: "All 2 objects exist as recorded.",
		Checks: []platform.LiveCheck{
			{Name: "Deployment payments-production/orders-api", Recorded: "present", Live: "present", OK: true},
			{Name: "replicas", Recorded: "3", Live: "3", OK: true},
			{Name: "image", Recorded: "registry.example.com/payments/orders:1.4.2", Live: "registry.example.com/payments/orders:1.4.2", OK: true},
			{Name: "rollout", Recorded: "3/3 ready", Live: "3/3 ready", OK: true},
			{Name: "Service payments-production/orders-api", Recorded: "present", Live: "present", OK: true},
		},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("after Provision: status mismatch (-want +got):\n%s", diff)
	}

	// A replica down: degraded.
	setStatus(status(3, 3, 2))
	if st := read("one replica down"); st.Health != platform.Degraded || st.Summary != "Deployment payments-production/orders-api has 2 of 3 replicas ready." {
		t.Errorf("one replica down: %q %q, want degraded with 2 of 3 ready", st.Health, st.Summary)
	}
	// A generation not yet observed: degraded.
	s := status(3, 3, 3)
	s.ObservedGeneration = -1
	setStatus(s)
	if st := read("new generation"); st.Health != platform.Degraded {
		t.Errorf("unobserved generation: %q %q, want degraded", st.Health, st.Summary)
	}

	// Scaled and re-imaged behind the bot's back: changed.
	deps := cs.AppsV1().Deployments("payments-production")
	dep, err := deps.Get(ctx, "orders-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	dep.Spec.Replicas = &five
	dep.Spec.Template.Spec.Containers[0].Image = "registry.example.com/payments/orders:hotfix"
	if _, err := deps.Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	setStatus(status(5, 5, 5))
	st = read("scaled")
	if st.Health != platform.Changed {
		t.Errorf("scaled: Health = %q (%s), want changed", st.Health, st.Summary)
	}
	for _, c := range []platform.LiveCheck{
		{Name: "replicas", Recorded: "3", Live: "5"},
		{Name: "image", Recorded: "registry.example.com/payments/orders:1.4.2", Live: "registry.example.com/payments/orders:hotfix"},
	} {
		if !containsCheck(st.Checks, c) {
			t.Errorf("scaled: checks = %+v, want one %+v", st.Checks, c)
		}
	}

	// The Service deleted: missing.
	if err := cs.CoreV1().Services("payments-production").Delete(ctx, "orders-api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	st = read("service deleted")
	if st.Health != platform.Missing || !containsCheck(st.Checks, platform.LiveCheck{Name: "Service payments-production/orders-api", Recorded: "present", Live: "absent"}) {
		t.Errorf("service deleted: %+v, want missing with the Service absent", st)
	}

	// Another request's object under the same name: missing.
	if err := deps.Delete(ctx, "orders-api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := read("all deleted"); st.Health != platform.Missing {
		t.Errorf("all deleted: %q %q, want missing", st.Health, st.Summary)
	}
}

func TestStatusNamespaceOwnership(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset()
	d := NewWithClients(testConfig(), map[string]Clients{"production": {Typed: cs}})
	job := newJob(7, ServiceNamespace, "payments-prod", map[string]any{}, &recorder{})
	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	st, err := d.Status(ctx, job)
	if err != nil || st.Health != platform.Healthy {
		t.Fatalf("after Provision: Status = %+v, %v; want healthy", st, err)
	}
	q, err := cs.CoreV1().ResourceQuotas("payments-production").Get(ctx, quotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q.Annotations[AnnotationRequestID] = "99"
	if _, err := cs.CoreV1().ResourceQuotas("payments-production").Update(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err = d.Status(ctx, job)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := platform.LiveCheck{Name: "ResourceQuota payments-production/idp-quota owner", Recorded: "request #7", Live: "request #99"}
	if st.Health != platform.Missing || !containsCheck(st.Checks, want) {
		t.Errorf("quota taken over: %+v, want missing with %+v", st, want)
	}
}

func TestStatusUnreadableIsAnError(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	d := NewWithClients(testConfig(), map[string]Clients{"production": {Typed: cs}})
	job := newJob(12, ServiceWebApp, "orders-api", webAppParams(), &recorder{})
	cs.PrependReactor("get", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if st, err := d.Status(context.Background(), job); err == nil {
		t.Errorf("Status of an unreachable cluster = %+v, want an error", st)
	}
	job.Resource.Environment = "staging"
	if _, err := d.Status(context.Background(), job); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Status without a target: %v, want Unavailable", err)
	}
}

// containsCheck reports whether checks hold want.
func containsCheck(checks []platform.LiveCheck, want platform.LiveCheck) bool {
	for _, c := range checks {
		if c == want {
			return true
		}
	}
	return false
}

// TestStatusThroughTheAPI reads the live status with the real client-go
// clients over HTTP, against kubefake, whose Deployment "controller" is an
// Operator reporting the status the test sets.
func TestStatusThroughTheAPI(t *testing.T) {
	t.Parallel()
	deployments := kubefake.Resource{GVR: appsv1.SchemeGroupVersion.WithResource("deployments"), Kind: "Deployment", Namespaced: true}
	services := kubefake.Resource{GVR: corev1.SchemeGroupVersion.WithResource("services"), Kind: "Service", Namespaced: true}
	s := kubefake.New(t, deployments, services)
	var mu sync.Mutex
	ready := int64(3)
	s.Operate(deployments.GVR, func(obj *unstructured.Unstructured, _ int, _ func(*unstructured.Unstructured)) {
		mu.Lock()
		defer mu.Unlock()
		obj.Object["status"] = map[string]any{"observedGeneration": obj.GetGeneration(), "replicas": int64(3), "updatedReplicas": int64(3), "readyReplicas": ready, "availableReplicas": ready}
	})
	d := New(Config{Targets: map[string]Target{"production": {Kubeconfig: s.Kubeconfig(t)}}, PollInterval: time.Millisecond, FailureGrace: time.Nanosecond, Timeout: 30 * time.Second})
	ctx := context.Background()
	job := newJob(12, ServiceWebApp, "orders-api", webAppParams(), &recorder{})
	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if st, err := d.Status(ctx, job); err != nil || st.Health != platform.Healthy {
		t.Fatalf("after Provision: Status = %+v, %v; want healthy", st, err)
	}
	mu.Lock()
	ready = 1
	mu.Unlock()
	if st, err := d.Status(ctx, job); err != nil || st.Health != platform.Degraded {
		t.Errorf("1 of 3 ready: Status = %+v, %v; want degraded", st, err)
	}
	c, _, err := d.Connections().Get("production")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Typed.CoreV1().Services("payments-production").Delete(ctx, "orders-api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(ctx, job); err != nil || st.Health != platform.Missing {
		t.Errorf("service deleted: Status = %+v, %v; want missing", st, err)
	}
}
