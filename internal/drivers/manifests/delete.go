package manifests

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idpbot/idpbot/internal/platform"
)

// Deprovision deletes the resource's objects, last first, and waits until
// they are gone (operators' finalizers run first), stepping what still
// holds them. Objects another request owns are left alone; missing ones
// are fine.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	spec, c, objs, err := d.prepare(job, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, max(spec.timeout, d.Timeout()))
	defer cancel()
	step := stepper(job)
	var pending []object
	for _, o := range slices.Backward(objs) {
		cur, err := o.client(c).Get(ctx, o.u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return apiError(err, "get", o)
		}
		if owner, _ := ownedBy(cur); owner != strconv.FormatInt(job.Resource.ID, 10) {
			step(fmt.Sprintf("%s belongs to request #%s; left alone", objectKey(o.u), owner))
			continue
		}
		if cur.GetDeletionTimestamp() == nil {
			if err := o.client(c).Delete(ctx, o.u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return apiError(err, "delete", o)
			}
			step("Deleting " + objectKey(o.u))
		}
		pending = append(pending, o)
	}
	last := map[string]string{}
	return d.poll(ctx, func() (bool, error) {
		gone := true
		for _, o := range pending {
			key := objectKey(o.u)
			if last[key] == "gone" {
				continue
			}
			cur, err := o.client(c).Get(ctx, o.u.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				last[key] = "gone"
				step("Deleted " + key)
				continue
			}
			if err != nil {
				return false, apiError(err, "get", o)
			}
			gone = false
			msg := "Waiting for " + key + " to be removed"
			if f := cur.GetFinalizers(); len(f) > 0 {
				msg += " (finalizers: " + strings.Join(f, ", ") + ")"
			}
			if last[key] != msg {
				last[key] = msg
				step(msg)
			}
		}
		return gone, nil
	})
}
