// Package kubefake is a Kubernetes API server for tests, speaking enough of
// the API over HTTP for the real client-go clients the kubernetes and
// manifests drivers build from a kubeconfig: discovery (/api, /apis and
// group-version resource lists), get, server-side apply (PATCH with
// application/apply-patch+yaml) and delete of the resources it serves.
// Operators are played by Operator functions run on each read; deleting an
// object with finalizers leaves it terminating until its next read.
package kubefake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Resource is one API resource the server serves.
type Resource struct {
	// GVR is its group, version and plural name.
	GVR schema.GroupVersionResource
	// Kind is the kind of its objects.
	Kind string
	// Namespaced is false for cluster-scoped resources.
	Namespaced bool
}

// Core are the core/v1 resources every Server serves.
var Core = []Resource{
	{GVR: namespaces, Kind: "Namespace"},
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, Kind: "Secret", Namespaced: true},
}

var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// Operator plays an operator on an object of its resource each time the
// object is read (reads counts them from 1): it may change obj (its status,
// finalizers), and make other objects with create (which panics on a kind
// the server does not serve: a mistake in the test). It runs with the
// server's lock held and must not call the Server.
type Operator func(obj *unstructured.Unstructured, reads int, create func(*unstructured.Unstructured))

// Server is the fake API server. It is safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	resources map[schema.GroupVersionResource]Resource
	operators map[schema.GroupVersionResource]Operator

	mu      sync.Mutex
	objects map[key]*entry
	version int
}

type key struct {
	gvr             schema.GroupVersionResource
	namespace, name string
}

type entry struct {
	obj   *unstructured.Unstructured
	reads int
}

// New starts a server serving Core and extra, closed when t ends.
func New(t testing.TB, extra ...Resource) *Server {
	t.Helper()
	s := &Server{resources: map[schema.GroupVersionResource]Resource{}, operators: map[schema.GroupVersionResource]Operator{}, objects: map[key]*entry{}}
	for _, r := range append(append([]Resource(nil), Core...), extra...) {
		s.resources[r.GVR] = r
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Operate makes op act on every read of gvr's objects.
func (s *Server) Operate(gvr schema.GroupVersionResource, op Operator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.operators[gvr] = op
}

// Kubeconfig writes a kubeconfig whose current context is this server
// into a temporary directory of t and returns its path.
func (s *Server) Kubeconfig(t testing.TB) string {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: %q}}]
users: [{name: fake, user: {token: fake-token}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`, s.srv.URL)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Get returns a copy of the stored object, or false when there is none.
// It is not a read: operators do not run.
func (s *Server) Get(gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.objects[key{gvr, namespace, name}]
	if !ok {
		return nil, false
	}
	return e.obj.DeepCopy(), true
}

// Objects lists the stored objects as "resource namespace/name" (or
// "resource name"), sorted.
func (s *Server) Objects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.objects))
	for k := range s.objects {
		name := k.name
		if k.namespace != "" {
			name = k.namespace + "/" + name
		}
		out = append(out, k.gvr.GroupResource().String()+" "+name)
	}
	sort.Strings(out)
	return out
}

// put stores u under gvr with a new resource version; s.mu is held.
func (s *Server) put(gvr schema.GroupVersionResource, u *unstructured.Unstructured) *entry {
	k := key{gvr, u.GetNamespace(), u.GetName()}
	e, ok := s.objects[k]
	if !ok {
		e = &entry{}
		s.objects[k] = e
		u.SetUID(types.UID("uid-" + strconv.Itoa(s.version+1)))
		u.SetCreationTimestamp(metav1.NewTime(time.Now().UTC().Truncate(time.Second)))
	}
	s.version++
	u.SetResourceVersion(strconv.Itoa(s.version))
	e.obj = u
	return e
}

// create stores an object an operator makes, by its apiVersion and kind.
func (s *Server) create(u *unstructured.Unstructured) {
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		panic(fmt.Sprintf("kubefake: operator made %s with apiVersion %q", u.GetKind(), u.GetAPIVersion()))
	}
	for gvr, r := range s.resources {
		if gvr.GroupVersion() == gv && r.Kind == u.GetKind() {
			s.put(gvr, u.DeepCopy())
			return
		}
	}
	panic(fmt.Sprintf("kubefake: operator made %s %s, which the server does not serve", u.GetAPIVersion(), u.GetKind()))
}

// apply is server-side apply by one manager: the applied object replaces
// the stored one except for what the server and other managers own (uid,
// creation time, status, finalizers, deletion).
func (s *Server) apply(r Resource, namespace, name string, body []byte) (*unstructured.Unstructured, *apiError) {
	data, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, badRequest("the apply patch is not YAML or JSON: " + err.Error())
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, badRequest("the apply patch is not an object: " + err.Error())
	}
	if u.GetName() != name {
		return nil, badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", u.GetName(), name))
	}
	if gv := r.GVR.GroupVersion().String(); u.GetAPIVersion() != gv || u.GetKind() != r.Kind {
		return nil, badRequest(fmt.Sprintf("the apply patch is %s %s, want %s %s", u.GetAPIVersion(), u.GetKind(), gv, r.Kind))
	}
	if ns := u.GetNamespace(); ns != "" && ns != namespace {
		return nil, badRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the URL (%s)", ns, namespace))
	}
	if r.Namespaced {
		if _, ok := s.objects[key{namespaces, "", namespace}]; !ok {
			return nil, notFound(Resource{GVR: namespaces}, namespace)
		}
		u.SetNamespace(namespace)
	}
	if cur, ok := s.objects[key{r.GVR, namespace, name}]; ok {
		if cur.obj.GetDeletionTimestamp() != nil {
			return nil, &apiError{code: http.StatusConflict, reason: "Conflict", message: fmt.Sprintf("%s %q is being deleted", r.GVR.Resource, name)}
		}
		if st, ok := cur.obj.Object["status"]; ok {
			u.Object["status"] = st
		}
		u.SetFinalizers(cur.obj.GetFinalizers())
		u.SetUID(cur.obj.GetUID())
		u.SetCreationTimestamp(cur.obj.GetCreationTimestamp())
	}
	return s.put(r.GVR, u).obj, nil
}
