package manifests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/jsonpath"

	"github.com/idpbot/idpbot/internal/drivers/livestatus"
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
	// Message is the operator's own message (progress or failure).
	Message string `json:"message,omitempty"`
}

var _ platform.StatusReader = (*Driver)(nil)

// Status reads, without changing anything, the live state of the
// resource's objects by the same checks provisioning waits for (the
// binding's ready and failed rules). An object that is gone, being
// deleted, taken over by another request, or of a kind the cluster no
// longer serves is Missing; one whose operator reports a failure or that is
// not ready is Degraded, with the operator's message. An error means the
// cluster could not be read.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	if job.Resource == nil {
		return platform.LiveStatus{}, errors.New("status: job has no resource")
	}
	_, c, objs, err := d.prepare(job, false)
	if errors.Is(err, errNoKind) {
		msg := platform.ErrorMessage(err)
		return platform.LiveStatus{
			Health:  platform.Missing,
			Summary: livestatus.Sentence([]string{msg}),
			Checks:  []platform.LiveCheck{{Name: "kind", Recorded: "served", Live: "not served"}},
		}, nil
	}
	if err != nil {
		return platform.LiveStatus{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	var (
		checks            []platform.LiveCheck
		missing, degraded []string
	)
	id := strconv.FormatInt(job.Resource.ID, 10)
	for _, o := range objs {
		key := objectKey(o.u)
		cur, err := o.client(c).Get(ctx, o.u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			checks = append(checks, platform.LiveCheck{Name: key, Recorded: "ready", Live: "absent"})
			missing = append(missing, key+" is gone")
			continue
		}
		if err != nil {
			return platform.LiveStatus{}, apiError(err, "get", o)
		}
		if cur.GetDeletionTimestamp() != nil {
			checks = append(checks, platform.LiveCheck{Name: key, Recorded: "ready", Live: "being deleted"})
			missing = append(missing, key+" is being deleted")
			continue
		}
		if owner, ok := ownedBy(cur); !ok || owner != id {
			live := "not managed by idpbot"
			if ok {
				live = "request #" + owner
			}
			checks = append(checks, platform.LiveCheck{Name: key + " owner", Recorded: "request #" + id, Live: live})
			missing = append(missing, key+" was replaced by an object of "+live)
			continue
		}
		st := evaluate(o.m, cur)
		msg := platform.OneLine(st.Message, 300)
		switch {
		case st.Failed:
			checks = append(checks, platform.LiveCheck{Name: key, Recorded: "ready", Live: withMessage("failed", msg)})
			degraded = append(degraded, key+" failed"+colon(msg))
		case !st.Ready:
			checks = append(checks, platform.LiveCheck{Name: key, Recorded: "ready", Live: withMessage("not ready", msg)})
			degraded = append(degraded, key+" is not ready"+colon(msg))
		default:
			checks = append(checks, platform.LiveCheck{Name: key, Recorded: "ready", Live: "ready", OK: true})
		}
	}
	healthy := fmt.Sprintf("All %d objects exist and are ready.", len(objs))
	if len(objs) == 1 {
		healthy = objectKey(objs[0].u) + " exists and is ready."
	}
	ls := livestatus.Verdict(checks, missing, degraded, nil, healthy)
	return ls, nil
}

// withMessage is "state (message)", or state alone without a message.
func withMessage(state, msg string) string {
	if msg == "" {
		return state
	}
	return state + " (" + msg + ")"
}

// colon is ": message", or nothing without a message.
func colon(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + strings.TrimSuffix(msg, ".")
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
