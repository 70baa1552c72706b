package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/idpbot/idpbot/internal/platform"
)

// HTTPRouteResource is the Gateway API resource of HTTPRoutes.
var HTTPRouteResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// objectRef names one object by kind, namespace and name.
type objectRef struct {
	Kind, Namespace, Name string
}

func (o objectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

func refOf(u *unstructured.Unstructured) objectRef {
	return objectRef{u.GetKind(), u.GetNamespace(), u.GetName()}
}

var applyOptions = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// applyAs decodes data into the apply configuration AC and applies it.
func applyAs[AC any, R any](ctx context.Context, data []byte, fn func(context.Context, *AC, metav1.ApplyOptions) (R, error)) error {
	ac := new(AC)
	if err := json.Unmarshal(data, ac); err != nil {
		return err
	}
	_, err := fn(ctx, ac, applyOptions)
	return err
}

// apply server-side applies u with the field manager idpbot, forcing
// conflicts with other managers.
func apply(ctx context.Context, c Clients, u *unstructured.Unstructured) error {
	data, err := u.MarshalJSON()
	if err != nil {
		return platform.Wrap(platform.Internal, err, "could not encode "+ObjectKey(u))
	}
	ns, t := u.GetNamespace(), c.Typed
	switch u.GetKind() {
	case "Namespace":
		err = applyAs(ctx, data, t.CoreV1().Namespaces().Apply)
	case "ResourceQuota":
		err = applyAs(ctx, data, t.CoreV1().ResourceQuotas(ns).Apply)
	case "Service":
		err = applyAs(ctx, data, t.CoreV1().Services(ns).Apply)
	case "NetworkPolicy":
		err = applyAs(ctx, data, t.NetworkingV1().NetworkPolicies(ns).Apply)
	case "Ingress":
		err = applyAs(ctx, data, t.NetworkingV1().Ingresses(ns).Apply)
	case "RoleBinding":
		err = applyAs(ctx, data, t.RbacV1().RoleBindings(ns).Apply)
	case "Deployment":
		err = applyAs(ctx, data, t.AppsV1().Deployments(ns).Apply)
	case "HTTPRoute":
		if c.Dynamic == nil {
			return platform.Errorf(platform.Unavailable, "the kubernetes target has no client for the Gateway API")
		}
		_, err = c.Dynamic.Resource(HTTPRouteResource).Namespace(ns).Apply(ctx, u.GetName(), u, applyOptions)
	default:
		return platform.Errorf(platform.Internal, "cannot apply kind %s", u.GetKind())
	}
	if err != nil {
		return APIError(err, "apply "+ObjectKey(u))
	}
	return nil
}

func getAs[R metav1.Object](ctx context.Context, name string, fn func(context.Context, string, metav1.GetOptions) (R, error)) (metav1.Object, error) {
	o, err := fn(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// getObject reads the metadata of o; a NotFound error when it is missing.
func getObject(ctx context.Context, c Clients, o objectRef) (metav1.Object, error) {
	t := c.Typed
	switch o.Kind {
	case "Namespace":
		return getAs(ctx, o.Name, t.CoreV1().Namespaces().Get)
	case "ResourceQuota":
		return getAs(ctx, o.Name, t.CoreV1().ResourceQuotas(o.Namespace).Get)
	case "Service":
		return getAs(ctx, o.Name, t.CoreV1().Services(o.Namespace).Get)
	case "NetworkPolicy":
		return getAs(ctx, o.Name, t.NetworkingV1().NetworkPolicies(o.Namespace).Get)
	case "Ingress":
		return getAs(ctx, o.Name, t.NetworkingV1().Ingresses(o.Namespace).Get)
	case "RoleBinding":
		return getAs(ctx, o.Name, t.RbacV1().RoleBindings(o.Namespace).Get)
	case "Deployment":
		return getAs(ctx, o.Name, t.AppsV1().Deployments(o.Namespace).Get)
	case "HTTPRoute":
		if c.Dynamic == nil {
			return nil, platform.Errorf(platform.Unavailable, "the kubernetes target has no client for the Gateway API")
		}
		return c.Dynamic.Resource(HTTPRouteResource).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	}
	return nil, platform.Errorf(platform.Internal, "cannot read kind %s", o.Kind)
}

// deleteObject deletes o in the background (dependents are garbage collected).
func deleteObject(ctx context.Context, c Clients, o objectRef) error {
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	t := c.Typed
	switch o.Kind {
	case "Namespace":
		return t.CoreV1().Namespaces().Delete(ctx, o.Name, opts)
	case "ResourceQuota":
		return t.CoreV1().ResourceQuotas(o.Namespace).Delete(ctx, o.Name, opts)
	case "Service":
		return t.CoreV1().Services(o.Namespace).Delete(ctx, o.Name, opts)
	case "NetworkPolicy":
		return t.NetworkingV1().NetworkPolicies(o.Namespace).Delete(ctx, o.Name, opts)
	case "Ingress":
		return t.NetworkingV1().Ingresses(o.Namespace).Delete(ctx, o.Name, opts)
	case "RoleBinding":
		return t.RbacV1().RoleBindings(o.Namespace).Delete(ctx, o.Name, opts)
	case "Deployment":
		return t.AppsV1().Deployments(o.Namespace).Delete(ctx, o.Name, opts)
	case "HTTPRoute":
		if c.Dynamic == nil {
			return platform.Errorf(platform.Unavailable, "the kubernetes target has no client for the Gateway API")
		}
		return c.Dynamic.Resource(HTTPRouteResource).Namespace(o.Namespace).Delete(ctx, o.Name, opts)
	}
	return platform.Errorf(platform.Internal, "cannot delete kind %s", o.Kind)
}

// APIError classifies an error of an API call doing what ("apply Cluster
// payments-production/orders-db"): rejected objects and missing permissions
// are permanent, with the API server's reason; anything else is returned
// wrapped for the job to retry.
func APIError(err error, what string) error {
	var pe *platform.Error
	if errors.As(err, &pe) {
		return err
	}
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return platform.Wrap(platform.Invalid, err, fmt.Sprintf("Kubernetes rejected %s: %s", strings.TrimPrefix(what, "apply "), sanitize(apiMessage(err), 300)))
	case apierrors.IsForbidden(err) && !isTerminating(err):
		return platform.Wrap(platform.Forbidden, err, fmt.Sprintf("idpbot is not allowed to %s: %s", what, sanitize(apiMessage(err), 300)))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isTerminating reports a Forbidden error that goes away: creating in a
// namespace that is being deleted.
func isTerminating(err error) bool {
	return apierrors.HasStatusCause(err, "NamespaceTerminating") || strings.Contains(err.Error(), "being terminated")
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Message
	}
	return err.Error()
}

// sanitize makes untrusted text fit for a chat message (platform.OneLine).
func sanitize(s string, n int) string { return platform.OneLine(s, n) }
