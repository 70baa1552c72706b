package kubernetes

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpbot/idpbot/internal/drivers/livestatus"
	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.StatusReader = (*Driver)(nil)

// Status reads, without changing anything, every object Provision applies
// for the resource. An object that is gone, being deleted or taken over by
// another request is Missing; a Deployment whose rollout is not available
// (ready replicas short of the desired count, or a generation the
// controller has not observed) is Degraded; a Deployment whose replica
// count or image differs from the record is Changed. An error means the
// cluster could not be read.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	r := job.Resource
	if r == nil {
		return platform.LiveStatus{}, platform.Errorf(platform.Internal, "no resource in the job")
	}
	c, t, err := d.target(r.Environment)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	m, err := Render(job, t)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	var f findings
	for _, u := range m.Objects {
		if err := f.object(ctx, c, u); err != nil {
			return platform.LiveStatus{}, err
		}
	}
	return f.status(len(m.Objects)), nil
}

// findings collect the checks of one Status call, and what each bad one
// means.
type findings struct {
	checks                     []platform.LiveCheck
	missing, degraded, changed []string
}

// object reads the live copy of the rendered object u and records what it
// finds.
func (f *findings) object(ctx context.Context, c Clients, u *unstructured.Unstructured) error {
	key := ObjectKey(u)
	cur, err := getObject(ctx, c, refOf(u))
	switch {
	case apierrors.IsNotFound(err):
		f.checks = append(f.checks, platform.LiveCheck{Name: key, Recorded: "present", Live: "absent"})
		f.missing = append(f.missing, key+" is gone")
		return nil
	case err != nil:
		return APIError(err, "read "+key)
	}
	if cur.GetDeletionTimestamp() != nil {
		f.checks = append(f.checks, platform.LiveCheck{Name: key, Recorded: "present", Live: "being deleted"})
		f.missing = append(f.missing, key+" is being deleted")
		return nil
	}
	if want, ok := u.GetAnnotations()[AnnotationRequestID]; ok {
		if got := cur.GetAnnotations()[AnnotationRequestID]; got != want {
			live := "not managed by idpbot"
			if got != "" {
				live = "request #" + got
			}
			f.checks = append(f.checks, platform.LiveCheck{Name: key + " owner", Recorded: "request #" + want, Live: live})
			f.missing = append(f.missing, key+" was replaced by an object of "+live)
			return nil
		}
	}
	f.checks = append(f.checks, platform.LiveCheck{Name: key, Recorded: "present", Live: "present", OK: true})
	if u.GetKind() != "Deployment" {
		return nil
	}
	dep, err := c.Typed.AppsV1().Deployments(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Deleted between the two reads.
		f.checks[len(f.checks)-1] = platform.LiveCheck{Name: key, Recorded: "present", Live: "absent"}
		f.missing = append(f.missing, key+" is gone")
		return nil
	}
	if err != nil {
		return APIError(err, "read "+key)
	}
	f.deployment(u, dep)
	return nil
}

// deployment compares a live Deployment with the rendered one u.
func (f *findings) deployment(u *unstructured.Unstructured, dep *appsv1.Deployment) {
	name := "Deployment " + dep.Namespace + "/" + dep.Name
	desired := int32(1)
	if dep.Spec.Replicas != nil {
		desired = *dep.Spec.Replicas
	}
	if want, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); ok {
		ok := int64(desired) == want
		f.checks = append(f.checks, platform.LiveCheck{Name: "replicas", Recorded: strconv.FormatInt(want, 10), Live: strconv.Itoa(int(desired)), OK: ok})
		if !ok {
			f.changed = append(f.changed, fmt.Sprintf("%s runs %d replicas, recorded %d", name, desired, want))
		}
	}
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	for _, rc := range containers {
		rc, _ := rc.(map[string]any)
		cname, _ := rc["name"].(string)
		want, _ := rc["image"].(string)
		live := "absent"
		for _, lc := range dep.Spec.Template.Spec.Containers {
			if lc.Name == cname {
				live = lc.Image
			}
		}
		check := "image"
		if len(containers) > 1 {
			check = "image of " + cname
		}
		f.checks = append(f.checks, platform.LiveCheck{Name: check, Recorded: want, Live: live, OK: live == want})
		if live != want {
			f.changed = append(f.changed, fmt.Sprintf("%s runs image %s, recorded %s", name, live, want))
		}
	}
	st := dep.Status
	current := st.ObservedGeneration >= dep.Generation
	ready := st.ReadyReplicas == desired && st.AvailableReplicas == desired
	f.checks = append(f.checks, platform.LiveCheck{
		Name: "rollout", Recorded: fmt.Sprintf("%d/%d ready", desired, desired),
		Live: fmt.Sprintf("%d/%d ready", st.ReadyReplicas, desired), OK: current && ready,
	})
	switch {
	case !current:
		f.degraded = append(f.degraded, name+" has a rollout the controller has not picked up yet")
	case !ready:
		f.degraded = append(f.degraded, fmt.Sprintf("%s has %d of %d replicas ready", name, st.ReadyReplicas, desired))
	}
}

// status is the LiveStatus of the findings: the worst decides (missing,
// then degraded, then changed).
func (f *findings) status(objects int) platform.LiveStatus {
	healthy := fmt.Sprintf("All %d objects exist as recorded.", objects)
	if objects == 1 {
		healthy = "The object exists as recorded."
	}
	st := livestatus.Verdict(f.checks, f.missing, f.degraded, f.changed, healthy)
	return st
}
