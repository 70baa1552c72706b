package manifests

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/jsonpath"

	"github.com/idpbot/idpbot/internal/platform"
)

// ObjectState is what an object's status says, by its manifest's checks.
type ObjectState struct {
	// Object is "Kind namespace/name".
	Object string `json:"object"`
	// Ready is true when the manifest's ready check holds.
	Ready bool `json:"ready"`
	// Failed is true when one of the manifest's failed checks holds.
	Failed bool `json:"failed,omitempty"`
	// Missing is true when the object does not exist.
	Missing bool `json:"missing,omitempty"`
	// Message is the operator's own message (progress or failure).
	Message string `json:"message,omitempty"`
}

// LiveStatus is the live state of a resource's objects, for the day-2
// drift check: Ready when every object is ready, with the operators'
// messages.
type LiveStatus struct {
	Ready   bool          `json:"ready"`
	Message string        `json:"message,omitempty"`
	Objects []ObjectState `json:"objects"`
}

// evaluate reads u's state by m's checks.
func evaluate(m Manifest, u *unstructured.Unstructured) ObjectState {
	st := ObjectState{Object: objectKey(u)}
	for _, f := range m.Failed {
		if ok, msg := f.holds(u); ok {
			st.Failed, st.Message = true, msg
			if st.Message == "" {
				st.Message = f.describe()
			}
			return st
		}
	}
	if m.Ready == nil {
		st.Ready = true
	} else {
		st.Ready, st.Message = m.Ready.holds(u)
	}
	if m.Progress != "" {
		if v, ok := lookup(u, m.Progress); ok && v != "" {
			st.Message = v
		}
	}
	return st
}

// holds reports whether c holds for u, with the message that goes with it
// (the condition's message, or the JSONPath's current value).
func (c Check) holds(u *unstructured.Unstructured) (bool, string) {
	if c.JSONPath != "" {
		v, _ := lookup(u, c.JSONPath)
		want := c.Values
		if c.Value != "" {
			want = append(slices.Clone(want), c.Value)
		}
		return slices.Contains(want, v), v
	}
	cond, ok := condition(u, c.Condition)
	if !ok {
		return false, ""
	}
	status := c.Status
	if status == "" {
		status = "True"
	}
	msg := cond["message"]
	if msg == "" {
		msg = cond["reason"]
	}
	return strings.EqualFold(cond["status"], status) && (c.Reason == "" || cond["reason"] == c.Reason), msg
}

func (c Check) describe() string {
	if c.JSONPath != "" {
		return fmt.Sprintf("%s is %s", c.JSONPath, strings.Join(append(slices.Clone(c.Values), c.Value), " or "))
	}
	return fmt.Sprintf("condition %s is %s", c.Condition, c.Status)
}

// condition returns the status condition of type typ, as strings.
func condition(u *unstructured.Unstructured, typ string) (map[string]string, bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		out := map[string]string{}
		for _, k := range []string{"type", "status", "reason", "message"} {
			if v, ok := m[k]; ok {
				out[k] = fmt.Sprint(v)
			}
		}
		return out, true
	}
	return nil, false
}

// lookup evaluates a JSONPath against u; a path that finds nothing is
// ("", false), not an error (status fields appear as operators work).
func lookup(u *unstructured.Unstructured, path string) (string, bool) {
	jp := jsonpath.New("")
	if err := jp.Parse(path); err != nil {
		return "", false
	}
	var b strings.Builder
	if err := jp.Execute(&b, u.Object); err != nil {
		return "", false
	}
	return b.String(), b.Len() > 0
}

// outputs evaluates m's outputs against u. A path that finds nothing is
// an error naming it: the binding promised that field.
func outputs(m Manifest, u *unstructured.Unstructured, into map[string]string) error {
	for name, p := range m.Outputs {
		v, ok := lookup(u, p)
		if !ok {
			return platform.Errorf(platform.Invalid, "%s is ready but has no %s for output %s", objectKey(u), p, name)
		}
		into[name] = platform.OneLine(v, 500)
	}
	return nil
}

func objectKey(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}
