package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// allOn turns on every optional part of the chart.
var allOn = []string{
	"--set", "rbac.kubernetes.enabled=true", "--set", "rbac.manifests.enabled=true",
	"--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
}

func TestHelmLint(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{"defaults": nil, "everything on": allOn} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestHelmTemplateKinds(t *testing.T) {
	t.Parallel()
	base := []string{"ConfigMap/idpbot-config", "Deployment/idpbot", "NetworkPolicy/idpbot",
		"PodDisruptionBudget/idpbot", "Service/idpbot", "ServiceAccount/idpbot"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"defaults", nil, base},
		{"everything on", allOn, append(slices.Clone(base),
			"ClusterRole/idpbot-kubernetes", "ClusterRoleBinding/idpbot-kubernetes",
			"ClusterRole/idpbot-manifests", "ClusterRoleBinding/idpbot-manifests",
			"PrometheusRule/idpbot", "ServiceMonitor/idpbot")},
		{"one replica: no disruption budget, which would block every drain", []string{"--set", "replicaCount=1"},
			slices.DeleteFunc(slices.Clone(base), func(k string) bool { return k == "PodDisruptionBudget/idpbot" })},
		{"existing ConfigMaps, no network policy", []string{"--set", "config.existingConfigMap=my-config",
			"--set", "catalog.existingConfigMap=my-catalog", "--set", "networkPolicy.enabled=false"},
			[]string{"Deployment/idpbot", "PodDisruptionBudget/idpbot", "Service/idpbot", "ServiceAccount/idpbot"}},
		{"catalog files", []string{"--set-file", `catalog.files.web-application\.yaml=../catalog/web-application.yaml`},
			append(slices.Clone(base), "ConfigMap/idpbot-catalog")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, want := mustTemplate(t, tc.args...).keys(), slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) {
				t.Errorf("helm template renders %q, want %q", got, want)
			}
		})
	}
}

// TestHelmDeploymentMatchesKustomize renders the chart with its defaults
// and compares what it renders with the kustomize base: the pod spec in
// full (image, args, env, ports, probes, securityContext, resources,
// volumes and mounts), the rollout strategy and the other objects' specs.
func TestHelmDeploymentMatchesKustomize(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	r := mustTemplate(t, "--set", "serviceMonitor.enabled=true")

	var d appsv1.Deployment
	r.decode(t, "Deployment/idpbot", &d)
	for k, v := range b.podLabels() {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("chart pod label %s = %q, want %q (kustomize)", k, d.Spec.Template.Labels[k], v)
		}
	}
	want, got := b.deployment.Spec, d.Spec
	want.Template.ObjectMeta, got.Template.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chart Deployment spec differs from deploy/kubernetes/deployment.yaml (-kustomize +chart):\n%s", diff)
	}

	var svc corev1.Service
	r.decode(t, "Service/idpbot", &svc)
	if diff := cmp.Diff(b.service.Spec, svc.Spec); diff != "" {
		t.Errorf("Service spec (-kustomize +chart):\n%s", diff)
	}
	var pdb policyv1.PodDisruptionBudget
	r.decode(t, "PodDisruptionBudget/idpbot", &pdb)
	if diff := cmp.Diff(b.pdb.Spec, pdb.Spec); diff != "" {
		t.Errorf("PodDisruptionBudget spec (-kustomize +chart):\n%s", diff)
	}
	var np networkingv1.NetworkPolicy
	r.decode(t, "NetworkPolicy/idpbot", &np)
	if diff := cmp.Diff(b.networkPolicy.Spec, np.Spec); diff != "" {
		t.Errorf("NetworkPolicy spec (-kustomize +chart):\n%s", diff)
	}
	var sa corev1.ServiceAccount
	r.decode(t, "ServiceAccount/idpbot", &sa)
	if diff := cmp.Diff(b.serviceAccount.AutomountServiceAccountToken, sa.AutomountServiceAccountToken); diff != "" {
		t.Errorf("ServiceAccount automountServiceAccountToken (-kustomize +chart):\n%s", diff)
	}
	var sm serviceMonitor
	r.decode(t, "ServiceMonitor/idpbot", &sm)
	if diff := cmp.Diff(b.serviceMonitor.Spec, sm.Spec); diff != "" {
		t.Errorf("ServiceMonitor spec (-kustomize +chart):\n%s", diff)
	}

	// The default config is the example configuration, as in the base.
	var cm corev1.ConfigMap
	r.decode(t, "ConfigMap/idpbot-config", &cm)
	if got, want := cm.Data["config.yaml"], string(readFile(t, "config.example.yaml")); got != want {
		t.Errorf("chart ConfigMap config.yaml differs from config.example.yaml: copy it to %s/files/config.yaml", chartDir)
	}
	if got, want := readFile(t, chartDir+"/files/config.yaml"), readFile(t, "config.example.yaml"); !bytes.Equal(got, want) {
		t.Errorf("%s/files/config.yaml differs from config.example.yaml: copy config.example.yaml over it", chartDir)
	}
}

// TestHelmPrometheusRule checks the chart's PrometheusRule carries exactly
// the groups of deploy/prometheus/rules.yaml, which promtool tests.
func TestHelmPrometheusRule(t *testing.T) {
	t.Parallel()
	if got, want := readFile(t, chartDir+"/files/rules.yaml"), readFile(t, "prometheus/rules.yaml"); !bytes.Equal(got, want) {
		t.Errorf("%s/files/rules.yaml differs from prometheus/rules.yaml: copy prometheus/rules.yaml over it", chartDir)
	}
	r := mustTemplate(t, "--set", "prometheusRule.enabled=true", "--set", "prometheusRule.labels.release=kube-prometheus-stack")
	var pr prometheusRule
	r.decode(t, "PrometheusRule/idpbot", &pr)
	if diff := cmp.Diff(loadRules(t).Groups, pr.Spec.Groups); diff != "" {
		t.Errorf("chart PrometheusRule groups differ from prometheus/rules.yaml (-rules.yaml +chart):\n%s", diff)
	}
	if pr.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels = %v, want prometheusRule.labels among them", pr.Metadata.Labels)
	}
}

// TestHelmRBAC checks the chart's default rules equal the kustomize
// components', that the bindings name the bot's service account in the
// release namespace, and that only then a token is mounted.
func TestHelmRBAC(t *testing.T) {
	t.Parallel()
	r := mustTemplate(t, allOn...)
	for _, driver := range []string{"kubernetes", "manifests"} {
		var chartRole, kustRole rbacv1.ClusterRole
		r.decode(t, "ClusterRole/idpbot-"+driver, &chartRole)
		decodeYAML(t, filepath.Join("kubernetes", "rbac-"+driver, "clusterrole.yaml"), &kustRole)
		if diff := cmp.Diff(kustRole.Rules, chartRole.Rules); diff != "" {
			t.Errorf("%s rules (-kustomize component +chart):\n%s", driver, diff)
		}
		if len(chartRole.Rules) == 0 {
			t.Errorf("ClusterRole idpbot-%s has no rules", driver)
		}
		var crb rbacv1.ClusterRoleBinding
		r.decode(t, "ClusterRoleBinding/idpbot-"+driver, &crb)
		wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "idpbot", Namespace: "idp"}}
		if crb.RoleRef.Name != chartRole.Name || crb.RoleRef.Kind != "ClusterRole" || !cmp.Equal(crb.Subjects, wantSubjects) {
			t.Errorf("ClusterRoleBinding idpbot-%s = %+v %+v, want ClusterRole %s to %+v", driver, crb.RoleRef, crb.Subjects, chartRole.Name, wantSubjects)
		}
	}
	for name, args := range map[string][]string{"rbac on": allOn, "rbac off": nil} {
		var d appsv1.Deployment
		var sa corev1.ServiceAccount
		rr := mustTemplate(t, args...)
		rr.decode(t, "Deployment/idpbot", &d)
		rr.decode(t, "ServiceAccount/idpbot", &sa)
		want := name == "rbac on"
		for what, got := range map[string]*bool{"pod": d.Spec.Template.Spec.AutomountServiceAccountToken, "ServiceAccount": sa.AutomountServiceAccountToken} {
			if got == nil || *got != want {
				t.Errorf("%s: %s automountServiceAccountToken = %v, want %v", name, what, got, want)
			}
		}
	}
}

// TestHelmExistingObjects renders with an existing Secret and ConfigMaps
// and checks the pod reads them and the chart creates none of its own.
func TestHelmExistingObjects(t *testing.T) {
	t.Parallel()
	r := mustTemplate(t, "--set", "existingSecret=bot-tokens", "--set", "config.existingConfigMap=my-config",
		"--set", "catalog.existingConfigMap=my-catalog",
		"--set", "image.digest=sha256:"+strings.Repeat("ab", 32), "--set", "image.tag=v1.2.3")
	var d appsv1.Deployment
	r.decode(t, "Deployment/idpbot", &d)
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	if want := imageRepo + ":v1.2.3@sha256:" + strings.Repeat("ab", 32); c.Image != want {
		t.Errorf("image = %q, want %q", c.Image, want)
	}
	var refs int
	for _, e := range c.Env {
		if ref := secretRef(e); ref != nil {
			refs++
			if ref.Name != "bot-tokens" {
				t.Errorf("%s reads Secret %s, want bot-tokens", e.Name, ref.Name)
			}
		}
	}
	if refs != 8 {
		t.Errorf("%d env vars from the Secret, want 8", refs)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	for vol, want := range map[string]string{"config": "my-config", "catalog": "my-catalog"} {
		if cm := vols[vol].ConfigMap; cm == nil || cm.Name != want {
			t.Errorf("volume %s = %+v, want ConfigMap %s", vol, vols[vol], want)
		}
	}
	if s := vols["secrets"].Secret; s == nil || s.SecretName != "bot-tokens" {
		t.Errorf("volume secrets = %+v, want Secret bot-tokens", vols["secrets"])
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "IDPBOT_CATALOG_DIR" && e.Value == "/etc/idpbot/catalog" }) {
		t.Error("with a catalog ConfigMap, IDPBOT_CATALOG_DIR must point at its mount")
	}
	for k := range r {
		if strings.HasPrefix(k, "ConfigMap/") || strings.HasPrefix(k, "Secret/") {
			t.Errorf("chart renders %s although existing ones are named", k)
		}
	}
}

// TestHelmConfigFromValues checks config.content and catalog.files become
// the ConfigMaps the pod mounts, and that a change rolls the pods.
func TestHelmConfigFromValues(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("environments:\n  development: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustTemplate(t, "--set-file", "config.content="+cfg,
		"--set-file", `catalog.files.web-application\.yaml=../catalog/web-application.yaml`)
	var cm, cat corev1.ConfigMap
	r.decode(t, "ConfigMap/idpbot-config", &cm)
	r.decode(t, "ConfigMap/idpbot-catalog", &cat)
	if got := cm.Data["config.yaml"]; got != "environments:\n  development: {}\n" {
		t.Errorf("config.yaml = %q, want the file given", got)
	}
	if got, want := cat.Data["web-application.yaml"], string(readFile(t, "../catalog/web-application.yaml")); got != want {
		t.Errorf("catalog ConfigMap web-application.yaml = %q, want the catalog file", got)
	}
	var d, dDefault appsv1.Deployment
	r.decode(t, "Deployment/idpbot", &d)
	mustTemplate(t).decode(t, "Deployment/idpbot", &dDefault)
	if a, b := d.Spec.Template.Annotations["checksum/config"], dDefault.Spec.Template.Annotations["checksum/config"]; a == "" || a == b {
		t.Errorf("checksum/config = %q with another config, %q by default: a config change must roll the pods", a, b)
	}
}

// TestHelmSchemaRejects checks that values.schema.json (or the templates)
// refuse bad values with an error that names them.
func TestHelmSchemaRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set, want string
	}{
		{"replicas=3", "replicas"},
		{"image.tags=v1", "tags"},
		{"rbac.kubernetes.enable=true", "enable"},
		{"serviceMonitor.enabeld=true", "enabeld"},
		{"logLevel=verbose", "logLevel"},
		{"image.digest=latest", "digest"},
		{"existingSecret=", "existingSecret"},
		{"config.content=x,config.existingConfigMap=y", "not both"},
		{"catalog.files.README=x", "README"},
		{"rbac.manifests.rules[0].verbs[0]=own", "verbs"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			t.Parallel()
			_, err := helmTemplate(t, "--set", tc.set)
			if err == nil {
				t.Fatalf("helm template --set %s succeeded, want an error", tc.set)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template --set %s: error does not name %q:\n%v", tc.set, tc.want, err)
			}
		})
	}
}
