package manifests

import (
	"context"
	"flag"
	"os"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// catalogDir is the shipped catalog these tests provision from.
const catalogDir = "../../../deploy/catalog-kubernetes"

var (
	clustersGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}
	backupsGVR  = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "scheduledbackups"}
	topicsGVR   = schema.GroupVersionResource{Group: "kafka.strimzi.io", Version: "v1beta2", Resource: "kafkatopics"}
	bucketsGVR  = schema.GroupVersionResource{Group: "platform.idpbot.io", Version: "v1alpha1", Resource: "buckets"}
	pvcGVR      = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

// kinds are the kinds each fake cluster serves, by GVR.
var kinds = map[schema.GroupVersionResource]string{
	clustersGVR: "Cluster", backupsGVR: "ScheduledBackup", topicsGVR: "KafkaTopic", bucketsGVR: "Bucket", pvcGVR: "PersistentVolumeClaim",
}

// cluster is a fake cluster: typed and dynamic clients over trackers, an
// API server's server-side apply for first and later applies (status and
// finalizers kept, as the server keeps fields other managers own).
type cluster struct {
	typed *fake.Clientset
	dyn   *dynamicfake.FakeDynamicClient
}

func newCluster(t *testing.T, serve ...schema.GroupVersionResource) *cluster {
	t.Helper()
	c := &cluster{typed: fake.NewClientset()}
	list := map[schema.GroupVersionResource]string{}
	byGV := map[string]*metav1.APIResourceList{}
	for _, gvr := range serve {
		list[gvr] = kinds[gvr] + "List"
		gv := gvr.GroupVersion().String()
		if byGV[gv] == nil {
			byGV[gv] = &metav1.APIResourceList{GroupVersion: gv}
		}
		byGV[gv].APIResources = append(byGV[gv].APIResources, metav1.APIResource{Name: gvr.Resource, Kind: kinds[gvr], Namespaced: true},
			metav1.APIResource{Name: gvr.Resource + "/status", Kind: kinds[gvr], Namespaced: true})
	}
	disc := c.typed.Discovery().(*fakediscovery.FakeDiscovery)
	for _, l := range byGV {
		disc.Resources = append(disc.Resources, l)
	}
	c.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), list)
	c.dyn.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		if p.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(p.GetPatch()); err != nil {
			return true, nil, err
		}
		gvr := p.GetResource()
		cur, err := c.dyn.Tracker().Get(gvr, p.GetNamespace(), p.GetName())
		if apierrors.IsNotFound(err) {
			return true, u, c.dyn.Tracker().Create(gvr, u, p.GetNamespace())
		}
		if err != nil {
			return true, nil, err
		}
		old := cur.(*unstructured.Unstructured)
		if st, ok := old.Object["status"]; ok {
			u.Object["status"] = st
		}
		u.SetFinalizers(old.GetFinalizers())
		return true, u, c.dyn.Tracker().Update(gvr, u, p.GetNamespace())
	})
	return c
}

// script makes every read of gvr's objects carry the next status of
// script (the last once it runs out), as the operator would set it.
func (c *cluster) script(gvr schema.GroupVersionResource, script ...map[string]any) {
	var mu sync.Mutex
	i := 0
	c.dyn.PrependReactor("get", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := c.dyn.Tracker().Get(gvr, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		u := obj.(*unstructured.Unstructured).DeepCopy()
		u.Object["status"] = script[min(i, len(script)-1)]
		i++
		return true, u, nil
	})
}

func (c *cluster) driver(cfg Config) *Driver {
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 1 // poll as fast as the test runs
	}
	return New(cfg, kubernetes.NewConnections(nil, map[string]kubernetes.Clients{"production": {Typed: c.typed, Dynamic: c.dyn}}))
}

func (c *cluster) get(t *testing.T, gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := c.dyn.Resource(gvr).Namespace("payments-production").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s: %v", gvr.Resource, name, err)
	}
	return u
}

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

// shipped loads a service of the shipped catalog.
func shipped(t *testing.T, name string) *platform.ServiceDefinition {
	t.Helper()
	cat, err := catalog.Load(os.DirFS(catalogDir))
	if err != nil {
		t.Fatalf("load %s: %v", catalogDir, err)
	}
	svc, err := cat.Lookup(name)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", name, err)
	}
	return svc
}

// newJob is a production request #7 for name of svc by slack:U012AB3CD in
// team payments.
func newJob(t *testing.T, svc *platform.ServiceDefinition, name string, params map[string]any, rec *recorder) platform.Job {
	t.Helper()
	b, ok := svc.Binding("production")
	if !ok {
		t.Fatalf("%s has no production binding", svc.Name)
	}
	r := &platform.Resource{ID: 7, Service: svc.Name, Name: name, Team: "payments", Environment: "production",
		Parameters: svc.Defaults(params), Requester: platform.Actor{ID: "slack:U012AB3CD"}}
	return platform.Job{Resource: r, Service: svc, Settings: b.Settings, Step: rec.step}
}

func cond(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message}
}
