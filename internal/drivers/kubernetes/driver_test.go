package kubernetes

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/platform"
)

// recorder collects the progress steps a driver reports.
type recorder struct {
	mu    sync.Mutex
	steps []string
}

func (r *recorder) step(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.steps...)
}

func newJob(id int64, service, name string, params map[string]any, rec *recorder) platform.Job {
	return platform.Job{
		Resource: &platform.Resource{
			ID: id, Service: service, Name: name, Team: "payments", Environment: "production",
			Parameters: params, Requester: platform.Actor{ID: "console:alice", Name: "alice"},
		},
		Service:  &platform.ServiceDefinition{Name: service},
		Settings: map[string]any{},
		Step:     rec.step,
	}
}

func testConfig() Config {
	return Config{PollInterval: time.Millisecond, FailureGrace: time.Nanosecond, Timeout: 10 * time.Second}
}

// applied returns, for each object of want, the last object server-side
// applied to cs (the exact patch sent), keyed "Kind namespace/name". It
// checks each apply used the field manager idpbot with Force, and that the
// object is stored under that manager.
func applied(t *testing.T, cs *fake.Clientset, want map[string]map[string]any) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	for _, a := range cs.Actions() {
		p, ok := a.(k8stesting.PatchActionImpl)
		if !ok || p.GetPatchType() != types.ApplyPatchType {
			continue
		}
		if p.PatchOptions.FieldManager != FieldManager || p.PatchOptions.Force == nil || !*p.PatchOptions.Force {
			t.Errorf("apply of %s/%s with options %+v, want field manager idpbot and force", p.GetNamespace(), p.GetName(), p.PatchOptions)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(p.GetPatch()); err != nil {
			t.Fatalf("apply patch is not an object: %v", err)
		}
		got[ObjectKey(u)] = u.Object
	}
	for key, w := range want {
		o, err := getObject(context.Background(), Clients{Typed: cs}, refOf(&unstructured.Unstructured{Object: w}))
		if err != nil {
			t.Errorf("%s is not stored: %v", key, err)
			continue
		}
		managers := map[string]string{}
		for _, f := range o.GetManagedFields() {
			managers[f.Manager] = string(f.Operation)
		}
		if diff := cmp.Diff(map[string]string{FieldManager: "Apply"}, managers); diff != "" {
			t.Errorf("%s field managers mismatch (-want +got):\n%s", key, diff)
		}
	}
	return got
}

// documents parses a multi-document YAML into objects keyed "Kind namespace/name".
func documents(t *testing.T, s string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, doc := range strings.Split(s, "\n---\n") {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("bad want YAML: %v", err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("bad want YAML: %v", err)
		}
		out[ObjectKey(u)] = u.Object
	}
	return out
}

// wantNamespaceOnly is the namespace a web-application or api-gateway
// creates when it is missing.
const wantNamespaceOnly = `apiVersion: v1
kind: Namespace
metadata:
  name: payments-production
  labels: {app.kubernetes.io/managed-by: idp, team: payments, environment: production, pod-security.kubernetes.io/enforce: baseline}
`

const wantNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: payments-production
  labels: {app.kubernetes.io/managed-by: idp, team: payments, environment: production, pod-security.kubernetes.io/enforce: baseline}
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: idp-quota
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: payments-prod, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "7", idpbot.io/requester: console:alice}
spec:
  hard: {requests.cpu: "8", limits.cpu: "8", requests.memory: 16Gi, limits.memory: 16Gi, pods: "50"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: payments-prod, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "7", idpbot.io/requester: console:alice}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-same-namespace
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: payments-prod, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "7", idpbot.io/requester: console:alice}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: team-edit
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: payments-prod, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "7", idpbot.io/requester: console:alice}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: oidc:payments}`

func TestProvisionNamespace(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	c := Clients{Typed: cs}
	d := NewWithClients(testConfig(), map[string]Clients{"production": c})
	rec := &recorder{}
	job := newJob(7, ServiceNamespace, "payments-prod", map[string]any{"cpu": "8", "memory": "16Gi", "pods": int64(50)}, rec)
	job.Settings = map[string]any{"group": "oidc:{{team}}"}

	res, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"namespace": "payments-production"}, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	want := documents(t, wantNamespace)
	if diff := cmp.Diff(want, applied(t, cs, want)); diff != "" {
		t.Errorf("applied objects mismatch (-want +got):\n%s", diff)
	}
	wantSteps := []string{
		"Applied Namespace payments-production",
		"Applied ResourceQuota payments-production/idp-quota",
		"Applied NetworkPolicy payments-production/default-deny-ingress",
		"Applied NetworkPolicy payments-production/allow-same-namespace",
		"Applied RoleBinding payments-production/team-edit",
	}
	if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}

	// A retried job applies the same objects again without error or change.
	if _, err := d.Provision(context.Background(), job); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	if diff := cmp.Diff(want, applied(t, cs, want)); diff != "" {
		t.Errorf("objects after re-run mismatch (-want +got):\n%s", diff)
	}

	// Another request for the same namespace is a conflict naming the owner.
	_, err = d.Provision(context.Background(), newJob(8, ServiceNamespace, "payments-prod-2", nil, &recorder{}))
	if !platform.IsPermanent(err) || !strings.Contains(platform.ErrorMessage(err), "already belongs to request #7") {
		t.Errorf("Provision of a second namespace request = %v, want a permanent conflict naming request #7", err)
	}

	// Deletion is refused while a web-application of another request lives there.
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders-api", Namespace: "payments-production",
		Labels: map[string]string{LabelManagedBy: ManagedByValue}, Annotations: map[string]string{AnnotationRequestID: "9"}}}
	if _, err := cs.AppsV1().Deployments("payments-production").Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = d.Deprovision(context.Background(), job)
	if platform.ErrorCode(err) != platform.Conflict || !strings.Contains(err.Error(), "still holds web-application orders-api (request #9)") {
		t.Fatalf("Deprovision with a workload inside = %v, want a conflict naming orders-api", err)
	}
	if err := cs.AppsV1().Deployments("payments-production").Delete(context.Background(), "orders-api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "payments-production", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after Deprovision: err = %v, want NotFound", err)
	}
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Errorf("second Deprovision = %v, want nil", err)
	}
}

const wantWebApp = `apiVersion: v1
kind: Namespace
metadata:
  name: payments-production
  labels: {app.kubernetes.io/managed-by: idp, team: payments, environment: production, pod-security.kubernetes.io/enforce: baseline}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: orders-api, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "12", idpbot.io/requester: console:alice}
spec:
  replicas: 3
  selector:
    matchLabels: {app.kubernetes.io/name: orders-api}
  template:
    metadata:
      labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: orders-api, team: payments, environment: production}
    spec:
      containers:
      - name: app
        image: registry.example.com/payments/orders:1.4.2
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
        resources:
          requests: {cpu: "1", memory: 1Gi}
          limits: {cpu: "1", memory: 1Gi}  # 1000m, canonical
        securityContext: {allowPrivilegeEscalation: false}
---
apiVersion: v1
kind: Service
metadata:
  name: orders-api
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: orders-api, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "12", idpbot.io/requester: console:alice}
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: orders-api}
  ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]`

// scriptStatus makes every read of a deployment return the next status of
// script (the last one once it runs out), as a cluster's controller would.
func scriptStatus(cs *fake.Clientset, script ...appsv1.DeploymentStatus) {
	var mu sync.Mutex
	i := 0
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		dep := obj.(*appsv1.Deployment).DeepCopy()
		dep.Status = script[min(i, len(script)-1)]
		i++
		return true, dep, nil
	})
}

func status(replicas, updated, available int32) appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{Replicas: replicas, UpdatedReplicas: updated, AvailableReplicas: available, ReadyReplicas: available}
}

func webAppParams() map[string]any {
	return map[string]any{"image": "registry.example.com/payments/orders:1.4.2", "replicas": int64(3), "cpu": "1000m", "memory": "1Gi"}
}

func TestProvisionWebApplicationRollout(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	scriptStatus(cs, status(3, 3, 0), status(3, 3, 1), status(3, 3, 1), status(3, 3, 2), status(3, 3, 3))
	c := Clients{Typed: cs}
	d := NewWithClients(testConfig(), map[string]Clients{"production": c})
	rec := &recorder{}
	job := newJob(12, ServiceWebApp, "orders-api", webAppParams(), rec)

	res, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	wantOut := map[string]string{
		"url":        "http://orders-api.payments-production.svc.cluster.local",
		"namespace":  "payments-production",
		"deployment": "orders-api",
		"image":      "registry.example.com/payments/orders:1.4.2",
	}
	if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	want := documents(t, wantWebApp)
	if diff := cmp.Diff(want, applied(t, cs, want)); diff != "" {
		t.Errorf("applied objects mismatch (-want +got):\n%s", diff)
	}
	wantSteps := []string{
		"Created namespace payments-production",
		"Applied Deployment payments-production/orders-api",
		"Applied Service payments-production/orders-api",
		"0/3 replicas available",
		"1/3 replicas available",
		"2/3 replicas available",
		"3/3 replicas available",
	}
	if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "payments-production", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace not created: %v", err)
	}
	if ns.Labels[LabelManagedBy] != ManagedByValue || ns.Labels[LabelTeam] != "payments" {
		t.Errorf("namespace labels = %v, want managed-by idp and team payments", ns.Labels)
	}

	// Re-running finds everything in place and applies no second deployment.
	rec2 := &recorder{}
	job.Step = rec2.step
	if _, err := d.Provision(context.Background(), job); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	deps, err := cs.AppsV1().Deployments("payments-production").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(deps.Items) != 1 {
		t.Fatalf("deployments after re-run = %v, %v; want exactly 1", deps, err)
	}
	if got := rec2.all(); len(got) == 0 || got[0] != "Applied Deployment payments-production/orders-api" {
		t.Errorf("re-run steps = %q, want no namespace creation", got)
	}

	// The same name from another request is a conflict.
	_, err = d.Provision(context.Background(), newJob(13, ServiceWebApp, "orders-api", webAppParams(), &recorder{}))
	if platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("Provision by another request = %v, want Conflict", err)
	}

	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	for _, o := range []objectRef{{"Deployment", "payments-production", "orders-api"}, {"Service", "payments-production", "orders-api"}} {
		if _, err := getObject(context.Background(), c, o); !apierrors.IsNotFound(err) {
			t.Errorf("%s after Deprovision: err = %v, want NotFound", o, err)
		}
	}
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Errorf("second Deprovision = %v, want nil", err)
	}
}

func TestProvisionWebApplicationFailureReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		waiting corev1.ContainerStateWaiting
		want    string
	}{
		{"image pull", corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image \"nginx:nope\""},
			`web-application orders-api did not start: pod orders-api-5d8f-abcde: ImagePullBackOff (Back-off pulling image "nginx:nope")`},
		{"crash loop", corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=app\n\x1b[31m"},
			`web-application orders-api did not start: pod orders-api-5d8f-abcde: CrashLoopBackOff (back-off 40s restarting failed container=app [31m)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "orders-api-5d8f-abcde", Namespace: "payments-production", Labels: map[string]string{LabelName: "orders-api"}},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
					State: corev1.ContainerState{Waiting: &tt.waiting}}}},
			}
			other := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "billing-1", Namespace: "payments-production", Labels: map[string]string{LabelName: "billing"}},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}},
			}
			cs := fake.NewClientset(pod, other)
			scriptStatus(cs, status(3, 3, 0))
			d := NewWithClient(testConfig(), map[string]kubernetes.Interface{"production": cs})
			rec := &recorder{}
			_, err := d.Provision(context.Background(), newJob(12, ServiceWebApp, "orders-api", webAppParams(), rec))
			if !platform.IsPermanent(err) {
				t.Fatalf("Provision = %v, want a permanent failure", err)
			}
			if got := platform.ErrorMessage(err); got != tt.want {
				t.Errorf("failure message = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProvisionWebApplicationGracePeriod(t *testing.T) {
	t.Parallel()
	// A pod pulling its image slowly is not a failure while the grace period runs.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-api-1", Namespace: "payments-production", Labels: map[string]string{LabelName: "orders-api"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}},
	}
	cs := fake.NewClientset(pod)
	scriptStatus(cs, status(1, 1, 0), status(1, 1, 0), status(1, 1, 1))
	cfg := testConfig()
	cfg.FailureGrace = time.Hour
	d := NewWithClient(cfg, map[string]kubernetes.Interface{"production": cs})
	params := webAppParams()
	params["replicas"] = int64(1)
	if _, err := d.Provision(context.Background(), newJob(12, ServiceWebApp, "orders-api", params, &recorder{})); err != nil {
		t.Fatalf("Provision = %v, want success once the pod recovers", err)
	}
}

func TestProvisionCancelled(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	scriptStatus(cs, status(3, 3, 1))
	d := NewWithClient(testConfig(), map[string]kubernetes.Interface{"production": cs})
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	job := newJob(12, ServiceWebApp, "orders-api", webAppParams(), rec)
	job.Step = func(s string) {
		rec.step(s)
		if s == "1/3 replicas available" {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.Provision(ctx, job)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || platform.IsPermanent(err) {
			t.Errorf("Provision after cancel = %v, want a transient context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Provision did not return after cancellation")
	}
}

func TestAPIGatewayIngress(t *testing.T) {
	t.Parallel()
	upstream := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders-api", Namespace: "payments-production"}}
	cs := fake.NewClientset(upstream)
	c := Clients{Typed: cs}
	cfg := testConfig()
	cfg.Targets = map[string]Target{"production": {
		IngressClass: "nginx", Domain: "apps.example.com", TLS: true,
		Annotations: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"},
		Auth: map[string]map[string]string{"oauth2": {
			"nginx.ingress.kubernetes.io/auth-url":    "https://oauth2.example.com/oauth2/auth",
			"nginx.ingress.kubernetes.io/auth-signin": "https://oauth2.example.com/oauth2/start?rd=https://{{name}}.{{namespace}}.apps.example.com",
		}},
		IngressNamespace: "ingress-nginx",
	}}
	d := NewWithClients(cfg, map[string]Clients{"production": c})
	rec := &recorder{}
	job := newJob(20, ServiceAPIGateway, "orders-gw", map[string]any{"upstream": "orders-api", "rate_limit": int64(600), "authentication": "oauth2"}, rec)
	res, err := d.Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	wantOut := map[string]string{"url": "https://orders-gw.payments-production.apps.example.com/", "host": "orders-gw.payments-production.apps.example.com", "upstream": "orders-api"}
	if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	want := documents(t, wantNamespaceOnly+`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: orders-gw
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: orders-gw, team: payments, environment: production}
  annotations:
    idpbot.io/request-id: "20"
    idpbot.io/requester: console:alice
    cert-manager.io/cluster-issuer: letsencrypt
    nginx.ingress.kubernetes.io/limit-rpm: "600"
    nginx.ingress.kubernetes.io/auth-url: https://oauth2.example.com/oauth2/auth
    nginx.ingress.kubernetes.io/auth-signin: https://oauth2.example.com/oauth2/start?rd=https://orders-gw.payments-production.apps.example.com
spec:
  ingressClassName: nginx
  tls: [{hosts: [orders-gw.payments-production.apps.example.com], secretName: orders-gw-tls}]
  rules:
  - host: orders-gw.payments-production.apps.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: orders-api, port: {name: http}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: orders-gw-from-gateway
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: orders-gw, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "20", idpbot.io/requester: console:alice}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: orders-api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]`)
	if diff := cmp.Diff(want, applied(t, cs, want)); diff != "" {
		t.Errorf("applied objects mismatch (-want +got):\n%s", diff)
	}
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	for key, w := range want {
		if w["kind"] == "Namespace" {
			continue
		}
		if _, err := getObject(context.Background(), c, refOf(&unstructured.Unstructured{Object: w})); !apierrors.IsNotFound(err) {
			t.Errorf("%s after Deprovision: err = %v, want NotFound", key, err)
		}
	}
	if _, err := cs.CoreV1().Services("payments-production").Get(context.Background(), "orders-api", metav1.GetOptions{}); err != nil {
		t.Errorf("upstream service deleted with the gateway: %v", err)
	}
}

func TestAPIGatewayRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"missing upstream", map[string]any{"authentication": "none"}, "api-gateway needs the name of the web-application it fronts (upstream=orders-api)"},
		{"unknown upstream", map[string]any{"upstream": "ghost", "authentication": "none"}, "there is no web-application ghost in payments-production to put the gateway in front of"},
		{"unconfigured auth", map[string]any{"upstream": "orders-api", "authentication": "oidc"}, "authentication oidc is not set up for gateways in production; choose another or ask the platform team"},
		{"bad auth", map[string]any{"upstream": "orders-api", "authentication": "basic"}, "authentication must be one of none, api_key, oauth2, oidc"},
		{"bad rate", map[string]any{"upstream": "orders-api", "rate_limit": int64(0)}, "rate_limit must be a whole number from 1 to 1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := fake.NewClientset(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders-api", Namespace: "payments-production"}})
			cfg := testConfig()
			cfg.Targets = map[string]Target{"production": {Domain: "apps.example.com"}}
			d := NewWithClient(cfg, map[string]kubernetes.Interface{"production": cs})
			_, err := d.Provision(context.Background(), newJob(20, ServiceAPIGateway, "orders-gw", tt.params, &recorder{}))
			if !platform.IsPermanent(err) || platform.ErrorMessage(err) != tt.want {
				t.Errorf("Provision = %v (permanent %v), want %q", err, platform.IsPermanent(err), tt.want)
			}
			ings, _ := cs.NetworkingV1().Ingresses("payments-production").List(context.Background(), metav1.ListOptions{})
			if len(ings.Items) != 0 {
				t.Errorf("refused request created %d ingresses", len(ings.Items))
			}
		})
	}
}

func TestAPIGatewayHTTPRoute(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders-api", Namespace: "payments-production"}})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{HTTPRouteResource: "HTTPRouteList"})
	// The plain fake tracker cannot create objects by apply; do what the
	// API server would for a first apply.
	dyn.PrependReactor("patch", "httproutes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(p.GetPatch()); err != nil {
			return true, nil, err
		}
		if err := dyn.Tracker().Create(HTTPRouteResource, u, p.GetNamespace()); apierrors.IsAlreadyExists(err) {
			err = dyn.Tracker().Update(HTTPRouteResource, u, p.GetNamespace())
			if err != nil {
				return true, nil, err
			}
		} else if err != nil {
			return true, nil, err
		}
		return true, u, nil
	})
	cfg := testConfig()
	cfg.Targets = map[string]Target{"production": {GatewayAPI: true, GatewayName: "infra/public", Domain: "apps.example.com"}}
	d := NewWithClients(cfg, map[string]Clients{"production": {Typed: cs, Dynamic: dyn}})
	job := newJob(21, ServiceAPIGateway, "orders-gw", map[string]any{"upstream": "orders-api", "rate_limit": int64(100), "authentication": "none"}, &recorder{})
	for i := range 2 {
		if _, err := d.Provision(context.Background(), job); err != nil {
			t.Fatalf("Provision #%d: %v", i+1, err)
		}
	}
	got, err := dyn.Resource(HTTPRouteResource).Namespace("payments-production").Get(context.Background(), "orders-gw", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("HTTPRoute not applied: %v", err)
	}
	var want map[string]any
	if err := yaml.Unmarshal([]byte(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: orders-gw
  namespace: payments-production
  labels: {app.kubernetes.io/managed-by: idp, app.kubernetes.io/name: orders-gw, team: payments, environment: production}
  annotations: {idpbot.io/request-id: "21", idpbot.io/requester: console:alice, nginx.ingress.kubernetes.io/limit-rpm: "100"}
spec:
  parentRefs: [{namespace: infra, name: public}]
  hostnames: [orders-gw.payments-production.apps.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: orders-api, port: 80}]`), &want); err != nil {
		t.Fatal(err)
	}
	wantU := &unstructured.Unstructured{Object: want}
	if err := wantU.UnmarshalJSON(mustJSON(t, want)); err != nil {
		t.Fatal(err)
	}
	delete(got.Object["metadata"].(map[string]any), "resourceVersion")
	if diff := cmp.Diff(wantU.Object, got.Object); diff != "" {
		t.Errorf("HTTPRoute mismatch (-want +got):\n%s", diff)
	}
	if err := d.Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if _, err := dyn.Resource(HTTPRouteResource).Namespace("payments-production").Get(context.Background(), "orders-gw", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("HTTPRoute after Deprovision: err = %v, want NotFound", err)
	}
}

func TestNoTarget(t *testing.T) {
	t.Parallel()
	d := New(Config{})
	err := d.Check()
	if platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != "no kubernetes target configured" {
		t.Errorf("Check() = %v, want Unavailable: no kubernetes target configured", err)
	}
	d = NewWithClient(testConfig(), map[string]kubernetes.Interface{"development": fake.NewClientset()})
	if err := d.Check(); err != nil {
		t.Errorf("Check() with a target = %v, want nil", err)
	}
	_, err = d.Provision(context.Background(), newJob(1, ServiceWebApp, "orders-api", webAppParams(), &recorder{}))
	if platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != "no kubernetes target configured for production" {
		t.Errorf("Provision in production = %v, want Unavailable: no kubernetes target configured for production", err)
	}
	if err := d.CheckEnvironment("production"); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("CheckEnvironment(production) = %v, want Unavailable", err)
	}
}

func TestRenderRejectsBadParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service string
		params  map[string]any
		want    string
	}{
		{ServiceWebApp, map[string]any{}, "web-application needs an image to run (image=registry.example.com/team/app:1.0)"},
		{ServiceWebApp, map[string]any{"image": "nginx; rm -rf /"}, "image must be a container image reference like registry.example.com/team/app:1.0"},
		{ServiceWebApp, map[string]any{"image": "nginx", "memory": "lots"}, "memory must be a positive Kubernetes quantity like 500m or 512Mi"},
		{ServiceNamespace, map[string]any{"pods": "many"}, "pods must be a whole number from 1 to 10000"},
		{"redis-cache", nil, "the kubernetes driver cannot provision redis-cache"},
	}
	for _, tt := range tests {
		_, err := Render(newJob(1, tt.service, "orders-api", tt.params, &recorder{}), Target{})
		if !platform.IsPermanent(err) || platform.ErrorMessage(err) != tt.want {
			t.Errorf("Render(%s, %v) = %v, want permanent %q", tt.service, tt.params, err, tt.want)
		}
	}
	job := newJob(1, ServiceWebApp, "orders-api", map[string]any{"image": "nginx"}, &recorder{})
	job.Resource.Team = strings.Repeat("t", 60)
	if _, err := Render(job, Target{}); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("Render with a 71-character namespace = %v, want Invalid", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := (&unstructured.Unstructured{Object: v.(map[string]any)}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
