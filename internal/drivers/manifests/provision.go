package manifests

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/platform"
)

// Provision applies the binding's objects, waits until each is ready by
// its status, and returns the outputs and the referenced Secret's keys.
// An operator's failure condition, or no readiness within the timeout,
// fails the request with the operator's last message.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	spec, c, objs, err := d.prepare(job, false)
	if err != nil {
		return platform.Result{}, err
	}
	timeout := cmp.Or(spec.timeout, d.Timeout())
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := job.Resource
	step := stepper(job)
	for _, o := range objs {
		if err := checkOwner(wctx, c, o, r.ID); err != nil {
			return platform.Result{}, err
		}
	}
	if err := kubernetes.EnsureNamespace(wctx, c, r.Team, r.Environment, step); err != nil {
		return platform.Result{}, err
	}
	for _, o := range objs {
		if _, err := o.client(c).Apply(wctx, o.u.GetName(), o.u, metav1.ApplyOptions{FieldManager: kubernetes.FieldManager, Force: true}); err != nil {
			return platform.Result{}, apiError(err, "patch", o)
		}
		step("Applied " + objectKey(o.u))
	}
	live, err := d.waitReady(ctx, wctx, c, objs, timeout, step)
	if err != nil {
		return platform.Result{}, err
	}
	res := platform.Result{Outputs: map[string]string{}}
	for i, o := range objs {
		if err := outputs(o.m, live[i], res.Outputs); err != nil {
			return platform.Result{}, err
		}
	}
	if spec.Secret != nil {
		if res.Secrets, err = d.readSecret(ctx, wctx, c, job, spec, timeout, step); err != nil {
			return platform.Result{}, err
		}
	}
	return res, nil
}

// waitReady polls every object until all are ready, stepping each new
// operator message. It returns the objects as last read.
func (d *Driver) waitReady(parent, ctx context.Context, c kubernetes.Clients, objs []object, timeout time.Duration, step func(string)) ([]*unstructured.Unstructured, error) {
	live := make([]*unstructured.Unstructured, len(objs))
	last := make([]string, len(objs))
	done := make([]bool, len(objs))
	err := d.poll(ctx, func() (bool, error) {
		for i, o := range objs {
			if done[i] {
				continue
			}
			u, err := o.client(c).Get(ctx, o.u.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				last[i] = "not found"
				continue
			}
			if err != nil {
				return false, apiError(err, "get", o)
			}
			live[i] = u
			st := evaluate(o.m, u)
			if st.Failed {
				return false, platform.Errorf(platform.Invalid, "%s failed: %s", st.Object, platform.OneLine(st.Message, 300))
			}
			if st.Message != "" && st.Message != last[i] {
				last[i] = st.Message
				step(st.Object + ": " + platform.OneLine(st.Message, 300))
			}
			if st.Ready {
				done[i] = true
				step(st.Object + " is ready")
			}
		}
		return !slices.Contains(done, false), nil
	})
	if err != nil && parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		i := slices.Index(done, false)
		msg := cmp.Or(last[i], "no status yet")
		return nil, platform.Errorf(platform.Invalid, "%s was not ready within %s; last message: %s", objectKey(objs[i].u), timeout, platform.OneLine(msg, 300))
	}
	return live, err
}

// readSecret waits for the binding's Secret and returns its keys by the
// names shown to the requester.
func (d *Driver) readSecret(parent, ctx context.Context, c kubernetes.Clients, job platform.Job, spec *Spec, timeout time.Duration, step func(string)) (map[string]string, error) {
	data, err := NewData(job, spec)
	if err != nil {
		return nil, err
	}
	name, err := renderString(spec.Secret.Name, data)
	if err != nil {
		return nil, platform.Wrap(platform.Invalid, err, "the manifests binding's secret.name does not render: "+err.Error())
	}
	out := map[string]string{}
	waiting := false
	err = d.poll(ctx, func() (bool, error) {
		s, err := c.Typed.CoreV1().Secrets(data.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if !waiting {
				waiting = true
				step(fmt.Sprintf("Waiting for Secret %s/%s", data.Namespace, name))
			}
			return false, nil
		}
		if err != nil {
			return false, kubernetes.APIError(err, fmt.Sprintf("get secrets in namespace %s", data.Namespace))
		}
		for shown, key := range spec.Secret.Keys {
			v, ok := s.Data[key]
			if !ok {
				return false, platform.Errorf(platform.Invalid, "Secret %s/%s has no key %s", data.Namespace, name, key)
			}
			out[shown] = string(v)
		}
		return true, nil
	})
	if err != nil && parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, platform.Errorf(platform.Invalid, "Secret %s/%s did not appear within %s", data.Namespace, name, timeout)
	}
	return out, err
}

// poll calls done at once and then every PollInterval until it reports
// true, fails or ctx ends.
func (d *Driver) poll(ctx context.Context, done func() (bool, error)) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait: %w", ctx.Err())
		case <-t.C:
		}
		ok, err := done()
		if err != nil || ok {
			return err
		}
		t.Reset(cmp.Or(d.cfg.PollInterval, DefaultPollInterval))
	}
}

func renderString(text string, d Data) (string, error) {
	u, err := executeText(text, d)
	return strings.TrimSpace(u), err
}
