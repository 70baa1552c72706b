package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/idpbot/idpbot/internal/platform"
)

// failingReasons are the container waiting reasons that mean a rollout will
// not finish on its own.
var failingReasons = map[string]bool{
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
	"CrashLoopBackOff":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// waitRollout waits until the deployment's replicas are all updated and
// available, reporting "2/3 replicas available" as the count changes. Pods
// that keep failing (ImagePullBackOff, CrashLoopBackOff, unschedulable) for
// FailureGrace, or a deployment past its progress deadline, fail the request
// with the pods' reason.
func (d *Driver) waitRollout(ctx context.Context, c Clients, ns, name string, want int32, step func(string)) error {
	grace := d.cfg.FailureGrace
	if grace == 0 {
		grace = DefaultFailureGrace
	}
	if grace < 0 {
		grace = 0
	}
	reported := int32(-1)
	var failingSince time.Time
	return d.poll(ctx, func() (bool, error) {
		dep, err := c.Typed.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := dep.Status
		if st.AvailableReplicas != reported {
			reported = st.AvailableReplicas
			step(fmt.Sprintf("%d/%d replicas available", st.AvailableReplicas, want))
		}
		if st.ObservedGeneration >= dep.Generation && st.UpdatedReplicas == want && st.AvailableReplicas == want && st.Replicas == want {
			return true, nil
		}
		deadline := progressDeadlineExceeded(dep)
		problem, err := podProblem(ctx, c, ns, dep)
		if err != nil {
			return false, err
		}
		switch {
		case problem == "" && !deadline:
			failingSince = time.Time{}
			return false, nil
		case problem == "":
			problem = "the rollout did not progress before its deadline"
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		if deadline || time.Since(failingSince) >= grace {
			return false, platform.Errorf(platform.Invalid, "web-application %s did not start: %s", name, problem)
		}
		return false, nil
	}, nil)
}

func progressDeadlineExceeded(dep *appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return true
		}
	}
	return false
}

// podProblem describes the first failing pod of dep: "pod orders-api-7d9f:
// ImagePullBackOff (Back-off pulling image …)", or "" when none fails.
func podProblem(ctx context.Context, c Clients, ns string, dep *appsv1.Deployment) (string, error) {
	sel := labels.Everything()
	if dep.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
		if err != nil {
			return "", err
		}
		sel = s
	}
	pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", err
	}
	items := pods.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for _, p := range items {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && failingReasons[w.Reason] {
				return describe(p.Name, w.Reason, w.Message), nil
			}
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				return describe(p.Name, cond.Reason, cond.Message), nil
			}
		}
	}
	return "", nil
}

func describe(pod, reason, msg string) string {
	s := "pod " + pod + ": " + reason
	if msg = sanitize(msg, 200); msg != "" && !strings.EqualFold(msg, reason) {
		s += " (" + msg + ")"
	}
	return s
}
