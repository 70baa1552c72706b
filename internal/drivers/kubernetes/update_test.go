package kubernetes

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idpbot/idpbot/internal/platform"
)

// rollingStatus makes the deployment's status follow its spec: each read
// has one more replica available, until all of them are.
func rollingStatus(cs *fake.Clientset) {
	var mu sync.Mutex
	available := map[string]int32{}
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		dep := obj.(*appsv1.Deployment).DeepCopy()
		want := *dep.Spec.Replicas
		key := dep.Name + "/" + dep.Spec.Template.Spec.Containers[0].Image
		if available[key] < want {
			available[key]++
		}
		dep.Status = status(want, want, available[key])
		return true, dep, nil
	})
}

func TestUpdateWebApplication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset()
	rollingStatus(cs)
	d := NewWithClients(testConfig(), map[string]Clients{"production": {Typed: cs}})
	job := newJob(12, ServiceWebApp, "orders-api", webAppParams(), &recorder{})
	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}

	old := webAppParams()
	next := maps.Clone(old)
	next["replicas"], next["cpu"], next["memory"], next["image"] = int64(4), "2000m", "2Gi", "registry.example.com/payments/orders:1.5.0"
	rec := &recorder{}
	upd := newJob(12, ServiceWebApp, "orders-api", next, rec)
	res, err := d.Update(ctx, upd, old)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if res.Outputs["image"] != "registry.example.com/payments/orders:1.5.0" {
		t.Errorf("outputs = %v, want the new image", res.Outputs)
	}
	dep, err := cs.AppsV1().Deployments("payments-production").Get(ctx, "orders-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := dep.Spec.Template.Spec.Containers[0]
	got := []string{ctr.Image, ctr.Resources.Limits.Cpu().String(), ctr.Resources.Limits.Memory().String(), ctr.Resources.Requests.Cpu().String()}
	if diff := cmp.Diff([]string{"registry.example.com/payments/orders:1.5.0", "2", "2Gi", "2"}, got); diff != "" || *dep.Spec.Replicas != 4 {
		t.Errorf("deployment after Update: replicas %d, image/cpu/memory mismatch (-want +got):\n%s", *dep.Spec.Replicas, diff)
	}
	wantSteps := []string{
		"changing cpu: 1000m → 2000m, image: registry.example.com/payments/orders:1.4.2 → registry.example.com/payments/orders:1.5.0, memory: 1Gi → 2Gi, replicas: 3 → 4",
		"Applied Deployment payments-production/orders-api",
		"Applied Service payments-production/orders-api",
		"1/4 replicas available",
		"2/4 replicas available",
		"3/4 replicas available",
		"4/4 replicas available",
	}
	if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	deps, _ := cs.AppsV1().Deployments("payments-production").List(ctx, metav1.ListOptions{})
	if len(deps.Items) != 1 {
		t.Errorf("%d deployments after Update, want 1", len(deps.Items))
	}

	// Another request's object, or one that is gone, is not updated.
	if _, err := d.Update(ctx, newJob(13, ServiceWebApp, "orders-api", next, &recorder{}), old); !platform.IsPermanent(err) {
		t.Errorf("Update by another request = %v, want a permanent error", err)
	}
	if err := cs.AppsV1().Deployments("payments-production").Delete(ctx, "orders-api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Update(ctx, upd, old); !platform.IsPermanent(err) || platform.ErrorMessage(err) != "Deployment payments-production/orders-api no longer exists in the cluster; delete orders-api and create it again" {
		t.Errorf("Update of a deleted deployment = %v, want a permanent error saying so", err)
	}
	if _, err := cs.AppsV1().Deployments("payments-production").Get(ctx, "orders-api", metav1.GetOptions{}); err == nil {
		t.Error("Update re-created the deleted deployment")
	}
}
