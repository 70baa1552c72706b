package kubernetes

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.Updater = (*Driver)(nil)

// Update applies a change of the resource's parameters to the objects
// Provision made: the manifests rendered from the new parameters are
// server-side applied over them (for a web-application: replicas, cpu,
// memory and image of its Deployment), and a web-application's rollout is
// waited for as when provisioning. Applying the same change again finds
// it made. An object that is gone, or that another request owns, is a
// permanent error: an update creates nothing.
func (d *Driver) Update(ctx context.Context, job platform.Job, old map[string]any) (platform.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	r := job.Resource
	c, t, err := d.target(r.Environment)
	if err != nil {
		return platform.Result{}, err
	}
	m, err := Render(job, t)
	if err != nil {
		return platform.Result{}, err
	}
	step := stepper(job)
	var objects []*unstructured.Unstructured
	for _, u := range m.Objects {
		if u.GetKind() == "Namespace" {
			continue
		}
		if _, err := getObject(ctx, c, refOf(u)); apierrors.IsNotFound(err) {
			return platform.Result{}, platform.Errorf(platform.Invalid, "%s no longer exists in the cluster; delete %s and create it again", ObjectKey(u), r.Name)
		} else if err != nil {
			return platform.Result{}, APIError(err, "read "+ObjectKey(u))
		}
		if err := checkOwner(ctx, c, u, r.ID); err != nil {
			return platform.Result{}, platform.Wrap(platform.Invalid, err, platform.ErrorMessage(err))
		}
		objects = append(objects, u)
	}
	if d := platform.Diff(old, r.Parameters); len(d) > 0 {
		step("changing " + platform.Summary(d))
	}
	for _, u := range objects {
		if err := apply(ctx, c, u); err != nil {
			return platform.Result{}, err
		}
		step("Applied " + ObjectKey(u))
	}
	if r.Service == ServiceWebApp {
		replicas, _, _ := unstructured.NestedInt64(m.Objects[0].Object, "spec", "replicas")
		if err := d.waitRollout(ctx, c, m.Namespace, r.Name, int32(replicas), step); err != nil {
			return platform.Result{}, err
		}
	}
	return platform.Result{Outputs: m.Outputs}, nil
}
