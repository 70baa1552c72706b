package manifests

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idpbot/idpbot/internal/platform"
)

// operatorStatus makes every read of gvr's objects carry the status last
// given to set, as the operator would report it.
func (c *cluster) operatorStatus(gvr schema.GroupVersionResource, initial map[string]any) (set func(map[string]any)) {
	var mu sync.Mutex
	cur := initial
	c.dyn.PrependReactor("get", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := c.dyn.Tracker().Get(gvr, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		u := obj.(*unstructured.Unstructured).DeepCopy()
		u.Object["status"] = cur
		return true, u, nil
	})
	return func(s map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		cur = s
	}
}

func TestStatusKafkaTopic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCluster(t, topicsGVR)
	ready := map[string]any{"topicName": "orders-events", "conditions": []any{cond("Ready", "True", "", "")}}
	set := c.operatorStatus(topicsGVR, ready)
	d := c.driver(Config{})
	job := newJob(t, shipped(t, "message-queue"), "orders-events", nil, &recorder{})
	const key = "KafkaTopic payments-production/orders-events"
	read := func(what string) platform.LiveStatus {
		t.Helper()
		st, err := d.Status(ctx, job)
		if err != nil {
			t.Fatalf("%s: Status: %v", what, err)
		}
		return st
	}

	want := platform.LiveStatus{Health: platform.Missing, Summary: key + " is gone.",
		Checks: []platform.LiveCheck{{Name: key, Recorded: "ready", Live: "absent"}}}
	if diff := cmp.Diff(want, read("before Provision")); diff != "" {
		t.Errorf("before Provision: status mismatch (-want +got):\n%s", diff)
	}

	if _, err := d.Provision(ctx, job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	want = platform.LiveStatus{Health: platform.Healthy, Summary: key + " exists and is ready.",
		Checks: []platform.LiveCheck{{Name: key, Recorded: "ready", Live: "ready", OK: true}}}
	if diff := cmp.Diff(want, read("after Provision")); diff != "" {
		t.Errorf("after Provision: status mismatch (-want +got):\n%s", diff)
	}

	// The operator reports a failure: degraded, with its message.
	set(map[string]any{"conditions": []any{cond("Ready", "False", "KafkaError", "Replication factor: 3 larger than available brokers: 1.")}})
	want = platform.LiveStatus{Health: platform.Degraded, Summary: key + " failed: Replication factor: 3 larger than available brokers: 1.",
		Checks: []platform.LiveCheck{{Name: key, Recorded: "ready", Live: "failed (Replication factor: 3 larger than available brokers: 1.)"}}}
	if diff := cmp.Diff(want, read("failed")); diff != "" {
		t.Errorf("operator failure: status mismatch (-want +got):\n%s", diff)
	}

	// Not ready without a failure: degraded too.
	set(map[string]any{})
	if st := read("not ready"); st.Health != platform.Degraded || st.Summary != key+" is not ready." {
		t.Errorf("not ready: %q %q, want degraded, not ready", st.Health, st.Summary)
	}

	// Taken over by another request: missing.
	set(ready)
	u, err := c.dyn.Tracker().Get(topicsGVR, "payments-production", "orders-events")
	if err != nil {
		t.Fatal(err)
	}
	other := u.(*unstructured.Unstructured).DeepCopy()
	other.SetAnnotations(map[string]string{"idpbot.io/request-id": "99"})
	if err := c.dyn.Tracker().Update(topicsGVR, other, "payments-production"); err != nil {
		t.Fatal(err)
	}
	wantCheck := platform.LiveCheck{Name: key + " owner", Recorded: "request #7", Live: "request #99"}
	if st := read("taken over"); st.Health != platform.Missing || len(st.Checks) != 1 || st.Checks[0] != wantCheck {
		t.Errorf("taken over: %+v, want missing with %+v", st, wantCheck)
	}

	// Deleted out of band: missing.
	if err := c.dyn.Resource(topicsGVR).Namespace("payments-production").Delete(ctx, "orders-events", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := read("deleted"); st.Health != platform.Missing || st.Summary != key+" is gone." {
		t.Errorf("deleted: %q %q, want missing", st.Health, st.Summary)
	}
}

func TestStatusCloudNativePGFailover(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clustersGVR, backupsGVR)
	d := c.driver(Config{})
	job := newJob(t, shipped(t, "postgresql-database"), "orders-db", nil, &recorder{})
	c.script(clustersGVR, map[string]any{"phase": "Cluster in healthy state", "writeService": "orders-db-rw", "conditions": []any{cond("Ready", "True", "ClusterIsReady", "Cluster is Ready")}},
		map[string]any{"phase": "Failing over", "conditions": []any{cond("Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready")}})
	if _, err := c.typed.CoreV1().Secrets("payments-production").Create(context.Background(), cnpgSecret(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Provision(context.Background(), job); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	got, err := d.Status(context.Background(), job)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := platform.LiveStatus{
		Health:  platform.Degraded,
		Summary: "Cluster payments-production/orders-db is not ready: Failing over.",
		Checks: []platform.LiveCheck{
			{Name: "Cluster payments-production/orders-db", Recorded: "ready", Live: "not ready (Failing over)"},
			{Name: "ScheduledBackup payments-production/orders-db-daily", Recorded: "ready", Live: "ready", OK: true},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after failover: status mismatch (-want +got):\n%s", diff)
	}
}

func TestStatusKindNoLongerServed(t *testing.T) {
	t.Parallel()
	c := newCluster(t) // the operator was uninstalled
	job := newJob(t, shipped(t, "message-queue"), "orders-events", nil, &recorder{})
	st, err := c.driver(Config{}).Status(context.Background(), job)
	if err != nil || st.Health != platform.Missing {
		t.Errorf("Status = %+v, %v; want missing", st, err)
	}
}

func TestStatusUnreadableIsAnError(t *testing.T) {
	t.Parallel()
	c := newCluster(t, topicsGVR)
	c.dyn.PrependReactor("get", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	job := newJob(t, shipped(t, "message-queue"), "orders-events", nil, &recorder{})
	if st, err := c.driver(Config{}).Status(context.Background(), job); err == nil {
		t.Errorf("Status of an unreachable cluster = %+v, want an error", st)
	}
}
