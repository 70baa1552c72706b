// Package manifests is the provisioner driver for whatever a Kubernetes
// operator manages (CloudNativePG clusters, Strimzi topics, Crossplane
// composite resources, plain PersistentVolumeClaims): a catalog binding
// carries object templates (Go text/template, the functions in Funcs),
// rendered from the request and applied with server-side apply through the
// dynamic client in the team's namespace, with the kubernetes driver's
// ownership labels. Readiness, failure and progress come from each object's
// status as its binding declares (a condition or a JSONPath); outputs come
// from status fields and secrets from a referenced Secret.
//
// The driver shares the kubernetes driver's targets (kubernetes.Connections)
// rather than having its own.
//
// Binding settings (see Spec): manifests (list of {template, operator,
// ready, failed, progress, outputs}), secret ({name, keys}), timeout; every
// other key is passed to the templates as .Settings.
package manifests

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/platform"
)

// Defaults of Config.
const (
	DefaultTimeout      = 30 * time.Minute
	DefaultPollInterval = 5 * time.Second
)

// Config configures the manifests driver; its clusters are the kubernetes
// driver's.
type Config struct {
	// Timeout bounds one attempt unless the binding sets its own
	// (default DefaultTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// PollInterval is how often status is read (default
	// DefaultPollInterval).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
}

// Driver applies and watches operator objects. It is safe for concurrent
// use.
type Driver struct {
	cfg   Config
	conns *kubernetes.Connections
	mu    sync.Mutex
	// kinds caches discovered resources by environment, apiVersion and
	// kind; only found ones are kept.
	kinds map[string]schema.GroupVersionResource
}

var (
	_ platform.Driver             = (*Driver)(nil)
	_ platform.EnvironmentChecker = (*Driver)(nil)
	_ platform.BindingChecker     = (*Driver)(nil)
)

// New returns a driver working on conns' clusters. It does no I/O.
func New(cfg Config, conns *kubernetes.Connections) *Driver {
	return &Driver{cfg: cfg, conns: conns, kinds: map[string]schema.GroupVersionResource{}}
}

// Check returns an Unavailable error when no cluster is configured.
func (d *Driver) Check() error { return d.conns.Check() }

// CheckEnvironment returns an Unavailable error when env has no cluster.
func (d *Driver) CheckEnvironment(env string) error { return d.conns.CheckEnvironment(env) }

// Timeout bounds one attempt.
func (d *Driver) Timeout() time.Duration { return cmp.Or(d.cfg.Timeout, DefaultTimeout) }

// CheckBinding returns an Unavailable error when b's settings are unusable
// or env's cluster lacks a kind its manifests declare literally ("the
// cluster has no CloudNativePG (postgresql.cnpg.io/v1 Cluster): ...").
// A cluster it cannot reach is not reported here: provisioning retries.
func (d *Driver) CheckBinding(env string, b platform.Binding) error {
	spec, err := ParseSpec(b.Settings)
	if err != nil {
		return platform.Wrap(platform.Unavailable, err, platform.ErrorMessage(err))
	}
	c, _, err := d.conns.Get(env)
	if err != nil {
		return err
	}
	for _, m := range spec.Manifests {
		av, kind, ok := staticKind(m.Template)
		if !ok {
			continue
		}
		if _, err := d.resource(c, env, m, av, kind); err != nil {
			if platform.ErrorCode(err) == platform.Invalid {
				return platform.Wrap(platform.Unavailable, err, platform.ErrorMessage(err))
			}
			return nil
		}
	}
	return nil
}

// resource finds the API resource serving apiVersion/kind in env's cluster
// by discovery. A kind the cluster lacks is an Invalid error.
func (d *Driver) resource(c kubernetes.Clients, env string, m Manifest, apiVersion, kind string) (schema.GroupVersionResource, error) {
	key := env + " " + apiVersion + " " + kind
	d.mu.Lock()
	gvr, ok := d.kinds[key]
	d.mu.Unlock()
	if ok {
		return gvr, nil
	}
	missing := func() error {
		what := cmp.Or(m.Operator, kind)
		return platform.Wrap(platform.Invalid, errNoKind, fmt.Sprintf("the cluster has no %s (%s %s): install the operator or bind another driver", what, apiVersion, kind))
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return gvr, platform.Errorf(platform.Invalid, "%q is not an apiVersion", apiVersion)
	}
	list, err := c.Typed.Discovery().ServerResourcesForGroupVersion(apiVersion)
	if apierrors.IsNotFound(err) {
		return gvr, missing()
	}
	if err != nil {
		return gvr, kubernetes.APIError(err, "discover "+apiVersion)
	}
	for _, r := range list.APIResources {
		if r.Kind != kind || strings.Contains(r.Name, "/") {
			continue
		}
		if !r.Namespaced {
			return gvr, platform.Errorf(platform.Invalid, "%s %s is cluster-scoped; the manifests driver makes objects in the team's namespace only", apiVersion, kind)
		}
		gvr = gv.WithResource(r.Name)
		d.mu.Lock()
		d.kinds[key] = gvr
		d.mu.Unlock()
		return gvr, nil
	}
	return gvr, missing()
}

// errNoKind is wrapped by the error for a kind the cluster does not serve.
var errNoKind = errors.New("kind not served")

// object is one rendered object with its manifest and API resource.
type object struct {
	m   Manifest
	u   *unstructured.Unstructured
	gvr schema.GroupVersionResource
}

func (o object) client(c kubernetes.Clients) dynamic.ResourceInterface {
	return c.Dynamic.Resource(o.gvr).Namespace(o.u.GetNamespace())
}

// prepare parses the binding, renders the objects and resolves their
// resources in the resource's cluster. With skipMissing, objects of kinds
// the cluster does not serve are left out (they cannot exist).
func (d *Driver) prepare(job platform.Job, skipMissing bool) (*Spec, kubernetes.Clients, []object, error) {
	spec, err := ParseSpec(job.Settings)
	if err != nil {
		return nil, kubernetes.Clients{}, nil, err
	}
	c, _, err := d.conns.Get(job.Resource.Environment)
	if err != nil {
		return nil, c, nil, err
	}
	if c.Dynamic == nil {
		return nil, c, nil, platform.Errorf(platform.Unavailable, "the kubernetes target for %s has no dynamic client", job.Resource.Environment)
	}
	data, err := NewData(job, spec)
	if err != nil {
		return nil, c, nil, err
	}
	us, err := Render(spec, data, job.Resource)
	if err != nil {
		var re *RenderError
		if errors.As(err, &re) {
			return nil, c, nil, platform.Wrap(platform.Invalid, err, "the catalog's manifests binding does not render: "+re.Error())
		}
		return nil, c, nil, err
	}
	objs := make([]object, 0, len(us))
	for i, u := range us {
		gvr, err := d.resource(c, job.Resource.Environment, spec.Manifests[i], u.GetAPIVersion(), u.GetKind())
		if skipMissing && errors.Is(err, errNoKind) {
			continue
		}
		if err != nil {
			return nil, c, nil, err
		}
		objs = append(objs, object{m: spec.Manifests[i], u: u, gvr: gvr})
	}
	return spec, c, objs, nil
}

// ownedBy returns the request id on u and whether idpbot manages it.
func ownedBy(u *unstructured.Unstructured) (string, bool) {
	id, ok := u.GetAnnotations()[kubernetes.AnnotationRequestID]
	return id, ok
}

func checkOwner(ctx context.Context, c kubernetes.Clients, o object, id int64) error {
	cur, err := o.client(c).Get(ctx, o.u.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return apiError(err, "get", o)
	}
	owner, ok := ownedBy(cur)
	switch {
	case !ok:
		return platform.Errorf(platform.Conflict, "%s already exists and is not managed by idpbot", objectKey(o.u))
	case owner != strconv.FormatInt(id, 10):
		return platform.Errorf(platform.Conflict, "%s already belongs to request #%s; delete that request first", objectKey(o.u), owner)
	}
	return nil
}

// apiError names the verb, resource and namespace of a failed call (a
// forbidden one says what RBAC rule is missing).
func apiError(err error, verb string, o object) error {
	return kubernetes.APIError(err, fmt.Sprintf("%s %s in namespace %s", verb, o.gvr.GroupResource(), o.u.GetNamespace()))
}

func stepper(job platform.Job) func(string) {
	if job.Step == nil {
		return func(string) {}
	}
	return job.Step
}
