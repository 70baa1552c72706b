// Package kubernetes is the provisioner driver for Kubernetes clusters. It
// builds kubernetes-namespace (a team's namespace with a ResourceQuota,
// default-deny NetworkPolicies and a RoleBinding for the team's group),
// web-application (a Deployment and a Service, waiting for the rollout) and
// api-gateway (an Ingress, or a Gateway API HTTPRoute, in front of a
// web-application) with server-side apply under the field manager "idpbot".
//
// Targets are named per environment. Render is exported so that the gitops
// driver commits exactly the objects this driver would apply.
//
// Binding settings (catalog provisioner settings): group (RoleBinding
// subject, default "{{team}}"), cluster_role (default "edit"), port (the
// web-application's container port, default 8080) and host (api-gateway's
// host name; placeholders {{name}}, {{team}}, {{environment}},
// {{namespace}}, {{service}}).
package kubernetes

import (
	"context"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/idpbot/idpbot/internal/platform"
)

// FieldManager is the server-side apply field manager of everything idpbot
// applies.
const FieldManager = "idpbot"

// Defaults of Config.
const (
	DefaultTimeout      = 10 * time.Minute
	DefaultPollInterval = 2 * time.Second
	DefaultFailureGrace = time.Minute
)

// Target is one cluster, as configured for an environment.
type Target struct {
	// Kubeconfig is the path of a kubeconfig file (empty: the default
	// loading rules, $KUBECONFIG or ~/.kube/config).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context selects a kubeconfig context (empty: the current one).
	Context string `json:"context,omitempty"`
	// InCluster uses the pod's service account instead of a kubeconfig.
	InCluster bool `json:"in_cluster,omitempty"`
	// IngressClass is the ingressClassName of api-gateway Ingresses.
	IngressClass string `json:"ingress_class,omitempty"`
	// GatewayAPI makes api-gateway create an HTTPRoute instead of an Ingress.
	GatewayAPI bool `json:"gateway_api,omitempty"`
	// GatewayName is the parent Gateway of HTTPRoutes, "name" or
	// "namespace/name".
	GatewayName string `json:"gateway_name,omitempty"`
	// Annotations are added to every api-gateway Ingress or HTTPRoute.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Domain is the parent domain of api-gateway hosts:
	// <name>.<team>-<env>.<domain>.
	Domain string `json:"domain,omitempty"`
	// TLS adds a TLS section (secret <name>-tls) and makes URLs https.
	TLS bool `json:"tls,omitempty"`
	// Auth maps an api-gateway authentication method (api_key, oauth2,
	// oidc) to the controller annotations that enforce it, for example
	// ingress-nginx's nginx.ingress.kubernetes.io/auth-url. A method with
	// no entry is refused.
	Auth map[string]map[string]string `json:"auth,omitempty"`
	// RateLimitAnnotation is the annotation carrying api-gateway's rate
	// limit in requests per minute (default ingress-nginx's
	// nginx.ingress.kubernetes.io/limit-rpm).
	RateLimitAnnotation string `json:"rate_limit_annotation,omitempty"`
	// IngressNamespace is the namespace of the ingress controller or
	// gateway pods; when set, api-gateway adds a NetworkPolicy letting them
	// reach the upstream through the namespace's default deny.
	IngressNamespace string `json:"ingress_namespace,omitempty"`
}

// Config configures the kubernetes driver.
type Config struct {
	// Targets are the clusters by environment name.
	Targets map[string]Target `json:"targets,omitempty"`
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// PollInterval is how often a rollout is checked (default
	// DefaultPollInterval).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	// FailureGrace is how long pods may report a failure such as
	// ImagePullBackOff before the request fails (default
	// DefaultFailureGrace).
	FailureGrace time.Duration `json:"failure_grace,omitempty"`
}

// Driver provisions Kubernetes objects. It is safe for concurrent use.
type Driver struct {
	cfg   Config
	conns *Connections
}

var _ platform.Driver = (*Driver)(nil)

// New returns a driver that connects to its targets on first use.
func New(cfg Config) *Driver {
	return NewWithClients(cfg, nil)
}

// NewWithClient returns a driver using the given typed clients by
// environment (tests pass fake.NewClientset()).
func NewWithClient(cfg Config, clients map[string]kubernetes.Interface) *Driver {
	cs := make(map[string]Clients, len(clients))
	for env, c := range clients {
		cs[env] = Clients{Typed: c}
	}
	return NewWithClients(cfg, cs)
}

// NewWithClients returns a driver using the given clients by environment;
// environments without clients connect to their Target on first use.
func NewWithClients(cfg Config, clients map[string]Clients) *Driver {
	conns := NewConnections(cfg.Targets, clients)
	cfg.Targets = conns.targets
	return &Driver{cfg: cfg, conns: conns}
}

// Check returns an Unavailable error when no target is configured or one is
// contradictory.
func (d *Driver) Check() error { return d.conns.Check() }

// CheckEnvironment returns an Unavailable error when env has no target.
func (d *Driver) CheckEnvironment(env string) error { return d.conns.CheckEnvironment(env) }

// Connections returns the driver's clusters, for drivers that share them.
func (d *Driver) Connections() *Connections { return d.conns }

// Timeout bounds one provisioning attempt.
func (d *Driver) Timeout() time.Duration { return cmpOr(d.cfg.Timeout, DefaultTimeout) }

// target returns the clients and target of env, connecting on first use.
func (d *Driver) target(env string) (Clients, Target, error) { return d.conns.Get(env) }

// Provision applies the resource's objects and, for a web-application,
// waits for its rollout. Objects another request owns are a Conflict.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
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
	for _, u := range m.Objects {
		if u.GetKind() == "Namespace" {
			continue
		}
		if err := checkOwner(ctx, c, u, r.ID); err != nil {
			return platform.Result{}, err
		}
	}
	if r.Service != ServiceNamespace {
		if err := EnsureNamespace(ctx, c, r.Team, r.Environment, step); err != nil {
			return platform.Result{}, err
		}
	}
	if r.Service == ServiceAPIGateway {
		up := m.Outputs["upstream"]
		if _, err := c.Typed.CoreV1().Services(m.Namespace).Get(ctx, up, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return platform.Result{}, fieldError("upstream", fmt.Sprintf("there is no web-application %s in %s to put the gateway in front of", up, m.Namespace))
			}
			return platform.Result{}, APIError(err, "read the upstream service "+up)
		}
	}
	for _, u := range m.Objects {
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

// Deprovision deletes what Provision made for the resource. Objects owned by
// another request are left alone; missing ones are fine.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	r := job.Resource
	c, t, err := d.target(r.Environment)
	if err != nil {
		return err
	}
	ns, err := Namespace(r.Team, r.Environment)
	if err != nil {
		return err
	}
	step := stepper(job)
	var objs []objectRef
	switch r.Service {
	case ServiceNamespace:
		return d.deleteNamespace(ctx, c, ns, r, step)
	case ServiceWebApp:
		objs = []objectRef{{"Deployment", ns, r.Name}, {"Service", ns, r.Name}}
	case ServiceAPIGateway:
		kind := "Ingress"
		if t.GatewayAPI {
			kind = "HTTPRoute"
		}
		objs = []objectRef{{kind, ns, r.Name}, {"NetworkPolicy", ns, r.Name + gatewayPolicySuffix}}
	default:
		return platform.Errorf(platform.Invalid, "the kubernetes driver cannot deprovision %s", r.Service)
	}
	for _, o := range objs {
		if err := deleteOwned(ctx, c, o, r.ID, step); err != nil {
			return err
		}
	}
	return nil
}

// deleteNamespace removes a kubernetes-namespace: refused while managed
// workloads of other requests remain in it, then the namespace is deleted
// and awaited.
func (d *Driver) deleteNamespace(ctx context.Context, c Clients, ns string, r *platform.Resource, step func(string)) error {
	quota, err := getObject(ctx, c, objectRef{"ResourceQuota", ns, quotaName})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return APIError(err, "read the namespace quota")
	default:
		if owner := quota.GetAnnotations()[AnnotationRequestID]; owner != strconv.FormatInt(r.ID, 10) {
			step(fmt.Sprintf("Namespace %s belongs to request #%s; left alone", ns, owner))
			return nil
		}
	}
	deps, err := c.Typed.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedByValue})
	if err != nil && !apierrors.IsNotFound(err) {
		return APIError(err, "list the namespace's deployments")
	}
	if err == nil && len(deps.Items) > 0 {
		held := deps.Items[0]
		return platform.Errorf(platform.Conflict, "namespace %s still holds web-application %s (request #%s); delete it first", ns, held.Name, held.Annotations[AnnotationRequestID])
	}
	n, err := c.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return APIError(err, "read namespace "+ns)
	}
	if n.DeletionTimestamp == nil {
		if err := c.Typed.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return APIError(err, "delete namespace "+ns)
		}
		step("Deleted Namespace " + ns)
	}
	return d.poll(ctx, func() (bool, error) {
		_, err := c.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}, func() { step("Waiting for namespace " + ns + " to terminate") })
}

// poll calls done every PollInterval until it reports true, fails or ctx
// ends; waiting runs once before the first wait.
func (d *Driver) poll(ctx context.Context, done func() (bool, error), waiting func()) error {
	interval := cmpOr(d.cfg.PollInterval, DefaultPollInterval)
	t := time.NewTimer(0)
	defer t.Stop()
	first := true
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait: %w", ctx.Err())
		case <-t.C:
		}
		ok, err := done()
		if err != nil {
			return APIError(err, "wait")
		}
		if ok {
			return nil
		}
		if first && waiting != nil {
			waiting()
			first = false
		}
		t.Reset(interval)
	}
}

// EnsureNamespace creates the namespace of team in env when it is missing,
// as a kubernetes-namespace would (labels, pod security); an existing one is
// left as it is.
func EnsureNamespace(ctx context.Context, c Clients, team, env string, step func(string)) error {
	u, err := NamespaceObject(team, env)
	if err != nil {
		return err
	}
	_, err = c.Typed.CoreV1().Namespaces().Get(ctx, u.GetName(), metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return APIError(err, "read namespace "+u.GetName())
	}
	if err := apply(ctx, c, u); err != nil {
		return err
	}
	step("Created namespace " + u.GetName())
	return nil
}

// checkOwner returns a Conflict when u exists and belongs to another
// request or to nobody idpbot knows.
func checkOwner(ctx context.Context, c Clients, u *unstructured.Unstructured, id int64) error {
	cur, err := getObject(ctx, c, refOf(u))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return APIError(err, "read "+ObjectKey(u))
	}
	owner, ok := cur.GetAnnotations()[AnnotationRequestID]
	switch {
	case !ok:
		return platform.Errorf(platform.Conflict, "%s already exists and is not managed by idpbot", ObjectKey(u))
	case owner != strconv.FormatInt(id, 10):
		return platform.Errorf(platform.Conflict, "%s already belongs to request #%s; delete that request first", ObjectKey(u), owner)
	}
	return nil
}

func deleteOwned(ctx context.Context, c Clients, o objectRef, id int64, step func(string)) error {
	cur, err := getObject(ctx, c, o)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return APIError(err, "read "+o.String())
	}
	if owner := cur.GetAnnotations()[AnnotationRequestID]; owner != strconv.FormatInt(id, 10) {
		step(fmt.Sprintf("%s belongs to request #%s; left alone", o, owner))
		return nil
	}
	if err := deleteObject(ctx, c, o); err != nil && !apierrors.IsNotFound(err) {
		return APIError(err, "delete "+o.String())
	}
	step("Deleted " + o.String())
	return nil
}

func stepper(job platform.Job) func(string) {
	if job.Step == nil {
		return func(string) {}
	}
	return job.Step
}

func cmpOr(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}
