package kubefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// apiError is an API server's failure Status.
type apiError struct {
	code            int
	reason, message string
}

func badRequest(msg string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: string(metav1.StatusReasonBadRequest), message: msg}
}

func notFound(r Resource, name string) *apiError {
	return &apiError{code: http.StatusNotFound, reason: string(metav1.StatusReasonNotFound),
		message: fmt.Sprintf("%s %q not found", r.GVR.GroupResource(), name)}
}

var noSuchResource = &apiError{code: http.StatusNotFound, reason: string(metav1.StatusReasonNotFound), message: "the server could not find the requested resource"}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	gv, rest, ok := splitPath(req.URL.Path)
	switch {
	case req.URL.Path == "/api" && req.Method == http.MethodGet:
		write(w, http.StatusOK, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": req.Host}}})
	case req.URL.Path == "/apis" && req.Method == http.MethodGet:
		write(w, http.StatusOK, s.groups())
	case !ok:
		fail(w, noSuchResource)
	case len(rest) == 0 && req.Method == http.MethodGet:
		if list, ok := s.resourceList(gv); ok {
			write(w, http.StatusOK, list)
		} else {
			fail(w, noSuchResource)
		}
	default:
		s.object(w, req, gv, rest)
	}
}

// splitPath splits /api/v1/... and /apis/group/version/... into the group
// version and the segments after it.
func splitPath(p string) (schema.GroupVersion, []string, bool) {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(seg) >= 2 && seg[0] == "api" && seg[1] == "v1":
		return schema.GroupVersion{Version: "v1"}, seg[2:], true
	case len(seg) >= 3 && seg[0] == "apis":
		return schema.GroupVersion{Group: seg[1], Version: seg[2]}, seg[3:], true
	}
	return schema.GroupVersion{}, nil, false
}

func (s *Server) groups() map[string]any {
	seen := map[schema.GroupVersion]bool{}
	var groups []map[string]any
	for gvr := range s.resources {
		gv := gvr.GroupVersion()
		if gv.Group == "" || seen[gv] {
			continue
		}
		seen[gv] = true
		v := map[string]string{"groupVersion": gv.String(), "version": gv.Version}
		groups = append(groups, map[string]any{"name": gv.Group, "versions": []any{v}, "preferredVersion": v})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i]["name"].(string) < groups[j]["name"].(string) })
	return map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
}

func (s *Server) resourceList(gv schema.GroupVersion) (map[string]any, bool) {
	var list []map[string]any
	for gvr, r := range s.resources {
		if gvr.GroupVersion() != gv {
			continue
		}
		list = append(list, map[string]any{"name": gvr.Resource, "singularName": strings.ToLower(r.Kind), "namespaced": r.Namespaced,
			"kind": r.Kind, "verbs": []string{"get", "patch", "delete"}})
	}
	if len(list) == 0 {
		return nil, false
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["name"].(string) < list[j]["name"].(string) })
	return map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv.String(), "resources": list}, true
}

// object serves get, apply and delete of one object:
// <resource>/<name> or namespaces/<namespace>/<resource>/<name>.
func (s *Server) object(w http.ResponseWriter, req *http.Request, gv schema.GroupVersion, rest []string) {
	var namespace, resource, name string
	switch {
	case len(rest) == 2:
		resource, name = rest[0], rest[1]
	case len(rest) == 4 && rest[0] == "namespaces":
		namespace, resource, name = rest[1], rest[2], rest[3]
	default:
		fail(w, &apiError{code: http.StatusMethodNotAllowed, reason: string(metav1.StatusReasonMethodNotAllowed),
			message: fmt.Sprintf("kubefake serves get, apply and delete of single objects only, not %s %s", req.Method, req.URL.Path)})
		return
	}
	r, ok := s.resources[gv.WithResource(resource)]
	if !ok || r.Namespaced != (namespace != "") {
		fail(w, noSuchResource)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{r.GVR, namespace, name}
	switch req.Method {
	case http.MethodGet:
		e, ok := s.objects[k]
		if !ok {
			fail(w, notFound(r, name))
			return
		}
		e.reads++
		if e.obj.GetDeletionTimestamp() != nil {
			// The finalizers' owners are done: this read is the last.
			write(w, http.StatusOK, e.obj.Object)
			s.remove(k)
			return
		}
		if op := s.operators[r.GVR]; op != nil {
			op(e.obj, e.reads, s.create)
		}
		write(w, http.StatusOK, e.obj.Object)
	case http.MethodPatch:
		if ct := req.Header.Get("Content-Type"); ct != "application/apply-patch+yaml" {
			fail(w, &apiError{code: http.StatusUnsupportedMediaType, reason: string(metav1.StatusReasonUnsupportedMediaType),
				message: fmt.Sprintf("kubefake accepts server-side apply (application/apply-patch+yaml) only, not %q", ct)})
			return
		}
		if req.URL.Query().Get("fieldManager") == "" {
			fail(w, badRequest("PATCH with apply requires the fieldManager parameter"))
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			fail(w, badRequest(err.Error()))
			return
		}
		u, aerr := s.apply(r, namespace, name, body)
		if aerr != nil {
			fail(w, aerr)
			return
		}
		write(w, http.StatusOK, u.Object)
	case http.MethodDelete:
		e, ok := s.objects[k]
		if !ok {
			fail(w, notFound(r, name))
			return
		}
		if len(e.obj.GetFinalizers()) == 0 {
			s.remove(k)
			write(w, http.StatusOK, map[string]any{"kind": "Status", "apiVersion": "v1", "status": metav1.StatusSuccess})
			return
		}
		if e.obj.GetDeletionTimestamp() == nil {
			now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
			e.obj.SetDeletionTimestamp(&now)
		}
		write(w, http.StatusOK, e.obj.Object)
	default:
		fail(w, &apiError{code: http.StatusMethodNotAllowed, reason: string(metav1.StatusReasonMethodNotAllowed),
			message: fmt.Sprintf("kubefake does not serve %s", req.Method)})
	}
}

// remove deletes the object at k with what it owns, as the garbage
// collector would (a namespace owns its objects; an object owns those whose
// ownerReferences name its uid); s.mu is held.
func (s *Server) remove(k key) {
	e, ok := s.objects[k]
	if !ok {
		return
	}
	delete(s.objects, k)
	for o, oe := range s.objects {
		owned := k.gvr == namespaces && o.namespace == k.name
		for _, ref := range oe.obj.GetOwnerReferences() {
			owned = owned || ref.UID == e.obj.GetUID()
		}
		if owned {
			s.remove(o)
		}
	}
}

func write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, e *apiError) {
	write(w, e.code, map[string]any{"kind": "Status", "apiVersion": "v1", "status": metav1.StatusFailure,
		"message": e.message, "reason": e.reason, "code": e.code})
}
