package kubernetes

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	"github.com/idpbot/idpbot/internal/platform"
)

// Services the kubernetes driver (and the gitops driver, through Render)
// knows how to build.
const (
	ServiceNamespace  = "kubernetes-namespace"
	ServiceWebApp     = "web-application"
	ServiceAPIGateway = "api-gateway"
)

// Labels and annotations idpbot puts on what it creates, and the default
// rate limit annotation of api-gateway (ingress-nginx's).
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	LabelName           = "app.kubernetes.io/name"
	LabelTeam           = "team"
	LabelEnvironment    = "environment"
	ManagedByValue      = "idp"
	AnnotationRequestID = "idpbot.io/request-id"
	AnnotationRequester = "idpbot.io/requester"
	DefaultRateLimitKey = "nginx.ingress.kubernetes.io/limit-rpm"
)

// Object names and parameter defaults.
const (
	quotaName            = "idp-quota"
	denyPolicyName       = "default-deny-ingress"
	sameNamespacePolicy  = "allow-same-namespace"
	teamRoleBindingName  = "team-edit"
	gatewayPolicySuffix  = "-from-gateway"
	containerName        = "app"
	portName             = "http"
	podSecurityEnforce   = "pod-security.kubernetes.io/enforce"
	podSecurityBaseline  = "baseline"
	defaultClusterRole   = "edit"
	defaultPort          = 8080
	defaultNamespaceCPU  = "4"
	defaultNamespaceMem  = "8Gi"
	defaultNamespacePods = 50
	defaultWebCPU        = "500m"
	defaultWebMemory     = "512Mi"
	defaultWebReplicas   = 2
	defaultRateLimit     = 1000
	defaultAuth          = "oauth2"
)

// Manifests is what a job renders to: the objects to apply, in order, and
// the outputs the resource will have once they are in place.
type Manifests struct {
	// Namespace is the namespace the objects live in.
	Namespace string
	// Objects are the Kubernetes objects, in apply order.
	Objects []*unstructured.Unstructured
	// Outputs are shown to the requester (URLs, names).
	Outputs map[string]string
}

// Namespace returns the namespace of a team's environment, "<team>-<env>",
// or an Invalid error when that is not a valid namespace name.
func Namespace(team, env string) (string, error) {
	ns := strings.ToLower(team + "-" + env)
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", platform.Errorf(platform.Invalid, "team %q and environment %q do not make a valid Kubernetes namespace name (%s)", team, env, strings.Join(errs, "; "))
	}
	return ns, nil
}

// Render builds the manifests of job's resource for target t: the same
// objects the kubernetes driver applies and the gitops driver commits.
// Parameter problems are Invalid errors naming the parameter.
func Render(job platform.Job, t Target) (Manifests, error) {
	r := job.Resource
	if r == nil {
		return Manifests{}, platform.Errorf(platform.Internal, "no resource in the job")
	}
	if err := platform.ValidateName(r.Name); err != nil {
		return Manifests{}, platform.Errorf(platform.Invalid, "name %q %v", r.Name, err)
	}
	ns, err := Namespace(r.Team, r.Environment)
	if err != nil {
		return Manifests{}, err
	}
	rd := renderer{job: job, r: r, t: t, ns: ns, settings: job.Settings}
	var objs []any
	var outputs map[string]string
	switch r.Service {
	case ServiceNamespace:
		objs, outputs, err = rd.namespaceService()
	case ServiceWebApp:
		objs, outputs, err = rd.webApplication()
	case ServiceAPIGateway:
		objs, outputs, err = rd.apiGateway()
	default:
		return Manifests{}, platform.Errorf(platform.Invalid, "the kubernetes driver cannot provision %s", r.Service)
	}
	if err != nil {
		return Manifests{}, err
	}
	m := Manifests{Namespace: ns, Outputs: outputs}
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			return Manifests{}, platform.Wrap(platform.Internal, err, "could not render the manifests")
		}
		m.Objects = append(m.Objects, u)
	}
	return m, nil
}

// NamespaceObject returns the namespace of a team's environment as idpbot
// labels it, whichever service creates it.
func NamespaceObject(team, env string) (*unstructured.Unstructured, error) {
	ns, err := Namespace(team, env)
	if err != nil {
		return nil, err
	}
	return toUnstructured(namespaceConfig(ns, team, env))
}

func namespaceConfig(ns, team, env string) *corev1ac.NamespaceApplyConfiguration {
	return corev1ac.Namespace(ns).WithLabels(map[string]string{
		LabelManagedBy:     ManagedByValue,
		LabelTeam:          team,
		LabelEnvironment:   env,
		podSecurityEnforce: podSecurityBaseline,
	})
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u, nil
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}

type renderer struct {
	job      platform.Job
	r        *platform.Resource
	t        Target
	ns       string
	settings map[string]any
}

// labels are the labels of every object made for the resource.
func (rd renderer) labels() map[string]string { return OwnerLabels(rd.r) }

func (rd renderer) annotations() map[string]string { return OwnerAnnotations(rd.r) }

// OwnerLabels are the labels idpbot puts on every object it makes for r:
// managed-by, team, environment and name.
func OwnerLabels(r *platform.Resource) map[string]string {
	return map[string]string{
		LabelManagedBy:   ManagedByValue,
		LabelTeam:        r.Team,
		LabelEnvironment: r.Environment,
		LabelName:        r.Name,
	}
}

// OwnerAnnotations are the annotations idpbot puts on every object it makes
// for r: the request id that owns it, and who asked.
func OwnerAnnotations(r *platform.Resource) map[string]string {
	a := map[string]string{AnnotationRequestID: strconv.FormatInt(r.ID, 10)}
	if r.Requester.ID != "" {
		a[AnnotationRequester] = r.Requester.ID
	}
	return a
}

func (rd renderer) selector() map[string]string {
	return map[string]string{LabelName: rd.r.Name}
}

// expand replaces {{name}}, {{team}}, {{environment}}, {{namespace}} and
// {{service}} in s.
func (rd renderer) expand(s string) string {
	return strings.NewReplacer(
		"{{name}}", rd.r.Name,
		"{{team}}", rd.r.Team,
		"{{environment}}", rd.r.Environment,
		"{{namespace}}", rd.ns,
		"{{service}}", rd.r.Service,
	).Replace(s)
}

func (rd renderer) namespaceService() ([]any, map[string]string, error) {
	cpu, err := quantityParam(rd.r.Parameters, "cpu", defaultNamespaceCPU)
	if err != nil {
		return nil, nil, err
	}
	mem, err := quantityParam(rd.r.Parameters, "memory", defaultNamespaceMem)
	if err != nil {
		return nil, nil, err
	}
	pods, err := intParam(rd.r.Parameters, "pods", defaultNamespacePods, 1, 10000)
	if err != nil {
		return nil, nil, err
	}
	group := rd.expand(stringSetting(rd.settings, "group", "{{team}}"))
	role := stringSetting(rd.settings, "cluster_role", defaultClusterRole)
	if group == "" || role == "" {
		return nil, nil, platform.Errorf(platform.Invalid, "the kubernetes binding of %s has an empty group or cluster_role setting", rd.r.Service)
	}
	labels, ann := rd.labels(), rd.annotations()
	hard := corev1.ResourceList{
		corev1.ResourceRequestsCPU:    cpu,
		corev1.ResourceLimitsCPU:      cpu,
		corev1.ResourceRequestsMemory: mem,
		corev1.ResourceLimitsMemory:   mem,
		corev1.ResourcePods:           *resource.NewQuantity(pods, resource.DecimalSI),
	}
	objs := []any{
		namespaceConfig(rd.ns, rd.r.Team, rd.r.Environment),
		corev1ac.ResourceQuota(quotaName, rd.ns).WithLabels(labels).WithAnnotations(ann).
			WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard)),
		networkingv1ac.NetworkPolicy(denyPolicyName, rd.ns).WithLabels(labels).WithAnnotations(ann).
			WithSpec(networkingv1ac.NetworkPolicySpec().
				WithPodSelector(metav1ac.LabelSelector()).
				WithPolicyTypes("Ingress")),
		networkingv1ac.NetworkPolicy(sameNamespacePolicy, rd.ns).WithLabels(labels).WithAnnotations(ann).
			WithSpec(networkingv1ac.NetworkPolicySpec().
				WithPodSelector(metav1ac.LabelSelector()).
				WithPolicyTypes("Ingress").
				WithIngress(networkingv1ac.NetworkPolicyIngressRule().
					WithFrom(networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector())))),
		rbacv1ac.RoleBinding(teamRoleBindingName, rd.ns).WithLabels(labels).WithAnnotations(ann).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(role)).
			WithSubjects(rbacv1ac.Subject().WithKind("Group").WithAPIGroup("rbac.authorization.k8s.io").WithName(group)),
	}
	return objs, map[string]string{"namespace": rd.ns}, nil
}

var imagePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$`)

func (rd renderer) webApplication() ([]any, map[string]string, error) {
	image, _ := rd.r.Parameters["image"].(string)
	image = strings.TrimSpace(image)
	switch {
	case image == "":
		return nil, nil, fieldError("image", "web-application needs an image to run (image=registry.example.com/team/app:1.0)")
	case len(image) > 255 || !imagePattern.MatchString(image):
		return nil, nil, fieldError("image", "image must be a container image reference like registry.example.com/team/app:1.0")
	}
	replicas, err := intParam(rd.r.Parameters, "replicas", defaultWebReplicas, 0, 100)
	if err != nil {
		return nil, nil, err
	}
	cpu, err := quantityParam(rd.r.Parameters, "cpu", defaultWebCPU)
	if err != nil {
		return nil, nil, err
	}
	mem, err := quantityParam(rd.r.Parameters, "memory", defaultWebMemory)
	if err != nil {
		return nil, nil, err
	}
	port, err := intSetting(rd.settings, "port", defaultPort, 1, 65535)
	if err != nil {
		return nil, nil, err
	}
	labels, ann := rd.labels(), rd.annotations()
	res := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	dep := appsv1ac.Deployment(rd.r.Name, rd.ns).WithLabels(labels).WithAnnotations(ann).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(int32(replicas)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(rd.selector())).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithSpec(corev1ac.PodSpec().
					WithContainers(corev1ac.Container().
						WithName(containerName).
						WithImage(image).
						WithPorts(corev1ac.ContainerPort().WithName(portName).WithContainerPort(int32(port)).WithProtocol(corev1.ProtocolTCP)).
						WithResources(corev1ac.ResourceRequirements().WithRequests(res).WithLimits(maps.Clone(res))).
						WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(false))))))
	svc := corev1ac.Service(rd.r.Name, rd.ns).WithLabels(labels).WithAnnotations(ann).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(rd.selector()).
			WithPorts(corev1ac.ServicePort().WithName(portName).WithPort(80).WithTargetPort(intstr.FromString(portName)).WithProtocol(corev1.ProtocolTCP)))
	out := map[string]string{
		"url":        fmt.Sprintf("http://%s.%s.svc.cluster.local", rd.r.Name, rd.ns),
		"namespace":  rd.ns,
		"deployment": rd.r.Name,
		"image":      image,
	}
	return []any{dep, svc}, out, nil
}

// Authentication methods of api-gateway.
var authMethods = []string{"none", "api_key", "oauth2", "oidc"}

func (rd renderer) apiGateway() ([]any, map[string]string, error) {
	upstream, _ := rd.r.Parameters["upstream"].(string)
	upstream = strings.TrimSpace(upstream)
	if upstream == "" {
		return nil, nil, fieldError("upstream", "api-gateway needs the name of the web-application it fronts (upstream=orders-api)")
	}
	if err := platform.ValidateName(upstream); err != nil {
		return nil, nil, fieldError("upstream", "upstream "+err.Error())
	}
	rate, err := intParam(rd.r.Parameters, "rate_limit", defaultRateLimit, 1, 1_000_000)
	if err != nil {
		return nil, nil, err
	}
	auth := defaultAuth
	if v, ok := rd.r.Parameters["authentication"]; ok {
		auth, _ = v.(string)
	}
	if !slices.Contains(authMethods, auth) {
		return nil, nil, fieldError("authentication", "authentication must be one of "+strings.Join(authMethods, ", "))
	}
	host, err := rd.host()
	if err != nil {
		return nil, nil, err
	}
	ann := rd.annotations()
	maps.Copy(ann, rd.t.Annotations)
	rateKey := rd.t.RateLimitAnnotation
	if rateKey == "" {
		rateKey = DefaultRateLimitKey
	}
	ann[rateKey] = strconv.FormatInt(rate, 10)
	if auth != "none" {
		extra, ok := rd.t.Auth[auth]
		if !ok || len(extra) == 0 {
			return nil, nil, fieldError("authentication", fmt.Sprintf("authentication %s is not set up for gateways in %s; choose another or ask the platform team", auth, rd.r.Environment))
		}
		for k, v := range extra {
			ann[k] = rd.expand(v)
		}
	}
	labels := rd.labels()
	scheme := "http"
	if rd.t.TLS {
		scheme = "https"
	}
	var route any
	if rd.t.GatewayAPI {
		route, err = rd.httpRoute(host, upstream, labels, ann)
		if err != nil {
			return nil, nil, err
		}
	} else {
		path := networkingv1ac.HTTPIngressPath().WithPath("/").WithPathType("Prefix").
			WithBackend(networkingv1ac.IngressBackend().WithService(networkingv1ac.IngressServiceBackend().
				WithName(upstream).WithPort(networkingv1ac.ServiceBackendPort().WithName(portName))))
		spec := networkingv1ac.IngressSpec().WithRules(networkingv1ac.IngressRule().WithHost(host).
			WithHTTP(networkingv1ac.HTTPIngressRuleValue().WithPaths(path)))
		if rd.t.IngressClass != "" {
			spec.WithIngressClassName(rd.t.IngressClass)
		}
		if rd.t.TLS {
			spec.WithTLS(networkingv1ac.IngressTLS().WithHosts(host).WithSecretName(rd.r.Name + "-tls"))
		}
		route = networkingv1ac.Ingress(rd.r.Name, rd.ns).WithLabels(labels).WithAnnotations(ann).WithSpec(spec)
	}
	objs := []any{route}
	if rd.t.IngressNamespace != "" {
		objs = append(objs, networkingv1ac.NetworkPolicy(rd.r.Name+gatewayPolicySuffix, rd.ns).
			WithLabels(labels).WithAnnotations(rd.annotations()).
			WithSpec(networkingv1ac.NetworkPolicySpec().
				WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{LabelName: upstream})).
				WithPolicyTypes("Ingress").
				WithIngress(networkingv1ac.NetworkPolicyIngressRule().
					WithFrom(networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(
						metav1ac.LabelSelector().WithMatchLabels(map[string]string{corev1.LabelMetadataName: rd.t.IngressNamespace}))))))
	}
	out := map[string]string{
		"url":      scheme + "://" + host + "/",
		"host":     host,
		"upstream": upstream,
	}
	return objs, out, nil
}

// host is the gateway's host name: the binding's host setting, or
// <name>.<namespace>.<domain>.
func (rd renderer) host() (string, error) {
	host := rd.expand(stringSetting(rd.settings, "host", ""))
	if host == "" {
		if rd.t.Domain == "" {
			return "", platform.Errorf(platform.Invalid, "api-gateway has no host name in %s: the platform team must set a domain for its kubernetes target or a host setting", rd.r.Environment)
		}
		host = rd.r.Name + "." + rd.ns + "." + strings.TrimPrefix(rd.t.Domain, ".")
	}
	host = strings.ToLower(host)
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
		return "", platform.Errorf(platform.Invalid, "api-gateway host %q is not a valid host name", host)
	}
	return host, nil
}

// httpRouteAPIVersion is the Gateway API version of the HTTPRoute api-gateway
// creates when a target sets GatewayAPI.
const httpRouteAPIVersion = "gateway.networking.k8s.io/v1"

func (rd renderer) httpRoute(host, upstream string, labels, ann map[string]string) (*unstructured.Unstructured, error) {
	if rd.t.GatewayName == "" {
		return nil, platform.Errorf(platform.Invalid, "api-gateway cannot use the Gateway API in %s: no gateway name is configured", rd.r.Environment)
	}
	parent := map[string]any{"name": rd.t.GatewayName}
	if ns, name, ok := strings.Cut(rd.t.GatewayName, "/"); ok {
		parent = map[string]any{"namespace": ns, "name": name}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": httpRouteAPIVersion,
		"kind":       "HTTPRoute",
		"metadata": map[string]any{
			"name":        rd.r.Name,
			"namespace":   rd.ns,
			"labels":      stringMap(labels),
			"annotations": stringMap(ann),
		},
		"spec": map[string]any{
			"parentRefs": []any{parent},
			"hostnames":  []any{host},
			"rules": []any{map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
				"backendRefs": []any{map[string]any{"name": upstream, "port": int64(80)}},
			}},
		},
	}}
	return u, nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func fieldError(field, msg string) error {
	return &platform.Error{Code: platform.Invalid, Message: msg, Fields: []platform.FieldError{{Field: field, Message: msg}}}
}

// intParam reads an integer parameter (int64, int, float64 holding a whole
// number, or a decimal string) within [lo, hi].
func intParam(params map[string]any, name string, def, lo, hi int64) (int64, error) {
	v, ok := params[name]
	if !ok || v == nil {
		return def, nil
	}
	n, ok := toInt(v)
	if !ok || n < lo || n > hi {
		return 0, fieldError(name, fmt.Sprintf("%s must be a whole number from %d to %d", name, lo, hi))
	}
	return n, nil
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func quantityParam(params map[string]any, name, def string) (resource.Quantity, error) {
	s := def
	if v, ok := params[name]; ok && v != nil {
		s = platform.FormatValue(v)
	}
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		return resource.Quantity{}, fieldError(name, fmt.Sprintf("%s must be a positive Kubernetes quantity like 500m or 512Mi", name))
	}
	return q, nil
}

func stringSetting(settings map[string]any, name, def string) string {
	if s, ok := settings[name].(string); ok && s != "" {
		return s
	}
	return def
}

func intSetting(settings map[string]any, name string, def, lo, hi int64) (int64, error) {
	v, ok := settings[name]
	if !ok || v == nil {
		return def, nil
	}
	n, ok := toInt(v)
	if !ok || n < lo || n > hi {
		return 0, platform.Errorf(platform.Invalid, "the kubernetes binding's %s setting must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// ObjectKey names an object for messages: "Deployment payments-production/orders-api".
func ObjectKey(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + " " + u.GetName()
	}
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}
