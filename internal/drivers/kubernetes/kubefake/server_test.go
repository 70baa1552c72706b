package kubefake_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/drivers/kubernetes/kubefake"
)

var widgets = kubefake.Resource{GVR: schema.GroupVersionResource{Group: "example.io", Version: "v1", Resource: "widgets"}, Kind: "Widget", Namespaced: true}

func clients(t *testing.T, s *kubefake.Server) kubernetes.Clients {
	t.Helper()
	c, _, err := kubernetes.NewConnections(map[string]kubernetes.Target{"test": {Kubeconfig: s.Kubeconfig(t)}}, nil).Get("test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func widget(ns, name string, size int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.io/v1", "kind": "Widget", "spec": map[string]any{"size": size}}}
	u.SetName(name)
	u.SetNamespace(ns)
	return u
}

// TestServerLifecycle: discovery, apply, an operator's status and owned
// Secret, and a delete held by a finalizer, through the real clients.
func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	s := kubefake.New(t, widgets)
	s.Operate(widgets.GVR, func(obj *unstructured.Unstructured, reads int, create func(*unstructured.Unstructured)) {
		obj.SetFinalizers([]string{"example.io/cleanup"})
		obj.Object["status"] = map[string]any{"reads": int64(reads)}
		if reads == 1 {
			sec := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": map[string]any{"k": "dg=="}}}
			sec.SetName(obj.GetName() + "-secret")
			sec.SetNamespace(obj.GetNamespace())
			sec.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "example.io/v1", Kind: "Widget", Name: obj.GetName(), UID: obj.GetUID()}})
			create(sec)
		}
	})
	c := clients(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	list, err := c.Typed.Discovery().ServerResourcesForGroupVersion("example.io/v1")
	if err != nil || len(list.APIResources) != 1 || list.APIResources[0].Kind != "Widget" || !list.APIResources[0].Namespaced {
		t.Fatalf("discover example.io/v1 = %+v, %v; want the namespaced Widget", list, err)
	}
	if _, err := c.Typed.Discovery().ServerResourcesForGroupVersion("postgresql.cnpg.io/v1"); !apierrors.IsNotFound(err) {
		t.Errorf("discover an unserved group = %v, want NotFound", err)
	}

	w := c.Dynamic.Resource(widgets.GVR).Namespace("team")
	opts := metav1.ApplyOptions{FieldManager: "test", Force: true}
	if _, err := w.Apply(ctx, "a", widget("team", "a", 1), opts); !apierrors.IsNotFound(err) {
		t.Errorf("apply in a missing namespace = %v, want NotFound", err)
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	ns.SetName("team")
	if _, err := c.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Apply(ctx, "team", ns, opts); err != nil {
		t.Fatalf("apply namespace: %v", err)
	}
	if _, err := w.Apply(ctx, "a", widget("team", "a", 1), opts); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if _, err := w.Patch(ctx, "a", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsUnsupportedMediaType(err) {
		t.Errorf("merge patch = %v, want UnsupportedMediaType", err)
	}
	if _, err := w.Patch(ctx, "a", types.ApplyPatchType, []byte(`{"apiVersion":"example.io/v1","kind":"Widget","metadata":{"name":"a"}}`), metav1.PatchOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("apply without a field manager = %v, want BadRequest", err)
	}

	got, err := w.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reads, _, _ := unstructured.NestedInt64(got.Object, "status", "reads"); reads != 1 {
		t.Errorf("status.reads = %d, want 1 (the operator ran on the read)", reads)
	}
	if _, err := c.Typed.CoreV1().Secrets("team").Get(ctx, "a-secret", metav1.GetOptions{}); err != nil {
		t.Errorf("the operator's Secret: %v", err)
	}
	// A later apply keeps the status and finalizers another manager set.
	if got, err = w.Apply(ctx, "a", widget("team", "a", 2), opts); err != nil {
		t.Fatal(err)
	}
	size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size")
	if size != 2 || got.GetFinalizers() == nil || got.Object["status"] == nil {
		t.Errorf("reapplied = %v, want size 2 with the status and finalizers kept", got.Object)
	}

	if err := w.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = w.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || got.GetDeletionTimestamp() == nil {
		t.Fatalf("read after delete = %v, %v; want the object terminating", got, err)
	}
	if _, err := w.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second read after delete = %v, want NotFound", err)
	}
	if diff := cmp.Diff([]string{"namespaces team"}, s.Objects()); diff != "" {
		t.Errorf("objects after the delete mismatch (-want +got):\n%s", diff)
	}
}

// TestServerRefusesUnservedPaths: what it does not serve is a clear error.
func TestServerRefusesUnservedPaths(t *testing.T) {
	t.Parallel()
	s := kubefake.New(t)
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/apis/example.io/v1/namespaces/team/widgets/a"},
		{http.MethodGet, "/api/v1/namespaces/team/secrets"},
		{http.MethodPut, "/api/v1/namespaces/team"},
	} {
		req, err := http.NewRequest(tt.method, s.URL()+tt.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("%s %s = %d, want an error status", tt.method, tt.path, resp.StatusCode)
		}
	}
}
