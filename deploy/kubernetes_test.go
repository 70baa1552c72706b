package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of a kustomization.yaml the base uses.
type kustomization struct {
	APIVersion         string   `json:"apiVersion"`
	Kind               string   `json:"kind"`
	Namespace          string   `json:"namespace,omitempty"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name     string   `json:"name"`
		Behavior string   `json:"behavior,omitempty"`
		Files    []string `json:"files,omitempty"`
		Literals []string `json:"literals,omitempty"`
	} `json:"configMapGenerator,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor the
// base uses.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// base is the parsed Kubernetes base.
type base struct {
	kust           kustomization
	deployment     appsv1.Deployment
	service        corev1.Service
	serviceAccount corev1.ServiceAccount
	pdb            policyv1.PodDisruptionBudget
	networkPolicy  networkingv1.NetworkPolicy
	serviceMonitor serviceMonitor
	// kinds counts the resources of each kind.
	kinds map[string]int
}

// loadBase parses every resource of deploy/kubernetes/kustomization.yaml
// strictly into its Kubernetes type, and fails on any file of the directory
// that the kustomization does not use.
func loadBase(t *testing.T) *base {
	t.Helper()
	b := &base{kinds: map[string]int{}}
	decodeYAML(t, "kubernetes/kustomization.yaml", &b.kust)
	if b.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || b.kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", b.kust.APIVersion, b.kust.Kind)
	}
	used := map[string]bool{"kustomization.yaml": true}
	for _, g := range b.kust.ConfigMapGenerator {
		for _, f := range g.Files {
			used[f] = true
		}
	}
	for _, r := range b.kust.Resources {
		p := path.Join("kubernetes", r)
		if st, err := os.Stat(p); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
			continue
		} else if st.IsDir() {
			if _, err := os.Stat(path.Join(p, "kustomization.yaml")); err != nil {
				t.Errorf("kustomization resource %s is a directory without kustomization.yaml", r)
			}
			continue
		}
		used[r] = true
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(readFile(t, p), &tm); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b.kinds[tm.Kind]++
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			decodeYAML(t, p, &b.deployment)
		case "v1 Service":
			decodeYAML(t, p, &b.service)
		case "v1 ServiceAccount":
			decodeYAML(t, p, &b.serviceAccount)
		case "policy/v1 PodDisruptionBudget":
			decodeYAML(t, p, &b.pdb)
		case "networking.k8s.io/v1 NetworkPolicy":
			decodeYAML(t, p, &b.networkPolicy)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			decodeYAML(t, p, &b.serviceMonitor)
		default:
			t.Errorf("%s: unexpected %s %s", p, tm.APIVersion, tm.Kind)
		}
	}
	for kind, n := range b.kinds {
		if n > 1 {
			t.Errorf("%d resources of kind %s; the checks expect one", n, kind)
		}
	}
	entries, err := os.ReadDir("kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && isComponent(t, path.Join("kubernetes", e.Name())) {
			continue // an optional component for overlays, such as rbac-kubernetes
		}
		if !used[e.Name()] {
			t.Errorf("kubernetes/%s is not used by kustomization.yaml", e.Name())
		}
	}
	return b
}

// isComponent reports whether dir holds a kustomize Component.
func isComponent(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile(path.Join(dir, "kustomization.yaml"))
	if err != nil {
		return false
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(b, &tm); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	return tm.APIVersion == "kustomize.config.k8s.io/v1alpha1" && tm.Kind == "Component"
}

// container returns the bot's container.
func (b *base) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := b.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("deployment has %d containers, want 1", len(cs))
	}
	return cs[0]
}

// podLabels are the labels of the Deployment's pods.
func (b *base) podLabels() labels.Set { return b.deployment.Spec.Template.Labels }

// selects reports whether sel selects the bot's pods.
func selects(t *testing.T, sel *metav1.LabelSelector, set labels.Set) bool {
	t.Helper()
	if sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return false // an empty selector selects everything: never what we want
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("selector %+v: %v", sel, err)
		return false
	}
	return s.Matches(set)
}

// resolvePort returns the container port number a probe or Service port refers to.
func resolvePort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

func TestKustomization(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	for _, want := range []string{"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"} {
		if b.kinds[want] != 1 {
			t.Errorf("kustomization.yaml lists no %s", want)
		}
	}
	if !slices.Contains(b.kust.Resources, "../prometheus") {
		t.Errorf("kustomization.yaml resources = %q, want ../prometheus (the PrometheusRule)", b.kust.Resources)
	}
	gens := map[string][]string{}
	for _, g := range b.kust.ConfigMapGenerator {
		gens[g.Name] = g.Files
	}
	if files, ok := gens["idpbot-config"]; !ok || !slices.Equal(files, []string{"config.yaml"}) {
		t.Errorf("configMapGenerator idpbot-config files = %q (present: %v), want [config.yaml]", files, ok)
	}
	if _, ok := gens["idpbot-catalog"]; !ok {
		t.Error("configMapGenerator has no idpbot-catalog")
	}
	// The ConfigMap ships the example configuration, byte for byte but for
	// the first line, which points editors at the schema from its own
	// directory.
	_, got, _ := bytes.Cut(readFile(t, "kubernetes/config.yaml"), []byte("\n"))
	_, want, _ := bytes.Cut(readFile(t, "config.example.yaml"), []byte("\n"))
	if !bytes.Equal(got, want) {
		t.Error("kubernetes/config.yaml differs from config.example.yaml: copy config.example.yaml over it, keeping its first line")
	}
	if len(b.kust.Images) != 1 || b.kust.Images[0].Name != imageRepo {
		t.Errorf("kustomization images = %+v, want one entry named %s", b.kust.Images, imageRepo)
	}
}

func TestDeployment(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	d := b.deployment
	c := b.container(t)
	spec := d.Spec.Template.Spec

	if r := d.Spec.Replicas; r == nil || *r != 2 {
		t.Errorf("replicas = %s, want 2", fmtInt32(r))
	}
	if !selects(t, d.Spec.Selector, b.podLabels()) {
		t.Errorf("deployment selector %+v does not select its pod labels %v", d.Spec.Selector, b.podLabels())
	}
	if repo, _, _ := strings.Cut(c.Image, ":"); repo != imageRepo {
		t.Errorf("image = %q, want %s:<tag>", c.Image, imageRepo)
	}
	if len(c.Command) != 0 {
		t.Errorf("command = %q: leave it to the image's ENTRYPOINT", c.Command)
	}
	if len(c.Args) != 0 && !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args = %q, want [serve] (or none: the image's CMD is serve)", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != httpPort || c.Ports[0].Name != "http" {
		t.Errorf("ports = %+v, want one port http %d", c.Ports, httpPort)
	}

	// Probes: the paths and port the bot serves.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, healthzPath},
		{"livenessProbe", c.LivenessProbe, healthzPath},
		{"readinessProbe", c.ReadinessProbe, readyzPath},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe on %s", p.name, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s path = %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if port := resolvePort(c, p.probe.HTTPGet.Port); port != httpPort {
			t.Errorf("%s port %s resolves to %d, want %d", p.name, p.probe.HTTPGet.Port.String(), port, httpPort)
		}
	}
	if sp := c.StartupProbe; sp != nil && sp.PeriodSeconds*sp.FailureThreshold < 60 {
		t.Errorf("startupProbe allows %ds; migrations at start need at least 60", sp.PeriodSeconds*sp.FailureThreshold)
	}

	// Environment: only names the bot reads; secrets from the Secret.
	var names []string
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		names = append(names, e.Name)
		env[e.Name] = e
	}
	checkEnvNames(t, "deployment", names)
	for _, name := range []string{"DATABASE_URL", "IDPBOT_SECRET_KEY"} {
		ref := secretRef(env[name])
		if ref == nil || ref.Optional != nil && *ref.Optional {
			t.Errorf("%s must come from a required key of the Secret %s, got %+v", name, secretName, env[name])
		}
	}
	wantKeys := map[string]string{
		"DATABASE_URL": "database-url", "IDPBOT_SECRET_KEY": "secret-key",
		"SLACK_BOT_TOKEN": "slack-bot-token", "SLACK_SIGNING_SECRET": "slack-signing-secret",
		"SLACK_APP_TOKEN": "slack-app-token", "DISCORD_BOT_TOKEN": "discord-bot-token",
		"DISCORD_APP_ID": "discord-app-id", "DISCORD_PUBLIC_KEY": "discord-public-key",
	}
	for name, key := range wantKeys {
		ref := secretRef(env[name])
		if ref == nil || ref.Name != secretName || ref.Key != key {
			t.Errorf("%s: want secretKeyRef %s/%s, got %+v", name, secretName, key, env[name])
			continue
		}
		platform := strings.HasPrefix(name, "SLACK_") || strings.HasPrefix(name, "DISCORD_")
		if platform && (ref.Optional == nil || !*ref.Optional) {
			t.Errorf("%s: a chat platform may be absent: mark its key optional", name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef == nil && e.ValueFrom.ResourceFieldRef == nil {
			t.Errorf("%s comes from %+v; secrets come from the Secret %s", e.Name, e.ValueFrom, secretName)
		}
		if ref := secretRef(e); ref != nil && wantKeys[e.Name] != ref.Key {
			t.Errorf("%s reads Secret key %s, not one of the documented keys", e.Name, ref.Key)
		}
		if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "token") {
			t.Errorf("%s has a literal value; tokens come from the Secret", e.Name)
		}
	}
	if got := env["IDPBOT_HTTP_ADDR"].Value; got != "" && got != ":8080" {
		t.Errorf("IDPBOT_HTTP_ADDR = %q, want :8080 (the container port)", got)
	}
	if got := env["IDPBOT_LOG_FORMAT"].Value; got != "json" {
		t.Errorf("IDPBOT_LOG_FORMAT = %q, want json", got)
	}
	if got := env["IDPBOT_CONFIG"].Value; got != configPath {
		t.Errorf("IDPBOT_CONFIG = %q, want %s", got, configPath)
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && env["GOMEMLIMIT"].Value != "" {
		gomem, err := resource.ParseQuantity(strings.TrimSuffix(env["GOMEMLIMIT"].Value, "B"))
		if err != nil {
			t.Errorf("GOMEMLIMIT %q: %v", env["GOMEMLIMIT"].Value, err)
		} else if gomem.Cmp(lim) >= 0 || gomem.Value() < lim.Value()*3/4 {
			t.Errorf("GOMEMLIMIT %s, want 75%%–100%% of limits.memory %s", gomem.String(), lim.String())
		}
	}

	// Volumes: config from idpbot-config at IDPBOT_CONFIG, a writable /tmp.
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	var configMounted, tmpMounted bool
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Errorf("volumeMount %s has no volume", m.Name)
			continue
		}
		switch {
		case m.MountPath == configPath:
			configMounted = v.ConfigMap != nil && v.ConfigMap.Name == "idpbot-config" && m.SubPath == "config.yaml"
		case m.MountPath == "/tmp":
			tmpMounted = v.EmptyDir != nil
		}
	}
	if !configMounted {
		t.Errorf("no mount of ConfigMap idpbot-config key config.yaml at %s", configPath)
	}
	if !tmpMounted {
		t.Error("no emptyDir at /tmp (the root filesystem is read-only)")
	}
	if v, ok := vols["catalog"]; !ok || v.ConfigMap == nil || v.ConfigMap.Name != "idpbot-catalog" ||
		v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional {
		t.Errorf("volume catalog = %+v, want the optional ConfigMap idpbot-catalog", v)
	}

	// Security.
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != nonrootUID ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot, runAsUser %d, seccomp RuntimeDefault", psc, nonrootUID)
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container securityContext: readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container securityContext: allowPrivilegeEscalation must be false")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("container securityContext: runAsNonRoot must be true")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container capabilities = %+v, want drop [ALL] and no add", sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the pod must not mount a service account token")
	}
	if spec.ServiceAccountName != b.serviceAccount.Name {
		t.Errorf("serviceAccountName = %q, want %q (serviceaccount.yaml)", spec.ServiceAccountName, b.serviceAccount.Name)
	}
	if sa := b.serviceAccount.AutomountServiceAccountToken; sa == nil || *sa {
		t.Error("ServiceAccount: automountServiceAccountToken must be false")
	}

	// Lifecycle and scheduling.
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("terminationGracePeriodSeconds = %v, want 30 (the bot drains within ~15 s)", g)
	}
	if p := c.Lifecycle; p != nil && p.PreStop != nil && p.PreStop.Sleep != nil && spec.TerminationGracePeriodSeconds != nil &&
		p.PreStop.Sleep.Seconds+15 > *spec.TerminationGracePeriodSeconds {
		t.Errorf("preStop sleep %ds + 15 s of draining exceeds the grace period", p.PreStop.Sleep.Seconds)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("resources.requests.%s is not set", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("resources.limits.%s is not set", r)
		}
	}
	var spread bool
	for _, tsc := range spec.TopologySpreadConstraints {
		if tsc.TopologyKey == "kubernetes.io/hostname" && selects(t, tsc.LabelSelector, b.podLabels()) {
			spread = true
		}
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if selects(t, term.PodAffinityTerm.LabelSelector, b.podLabels()) {
				spread = true
			}
		}
	}
	if !spread {
		t.Error("no topology spread or anti-affinity across nodes for the bot's pods")
	}
}

func secretRef(e corev1.EnvVar) *corev1.SecretKeySelector {
	if e.ValueFrom == nil {
		return nil
	}
	return e.ValueFrom.SecretKeyRef
}

func TestService(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	c := b.container(t)
	s := b.service
	if s.Name != "idpbot" {
		t.Errorf("service name = %q, want idpbot", s.Name)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, b.podLabels()) {
		t.Errorf("service selector %v does not select the pod labels %v", s.Spec.Selector, b.podLabels())
	}
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("service has %d ports, want 1", len(s.Spec.Ports))
	}
	p := s.Spec.Ports[0]
	if p.Name != "http" || p.Port != 80 {
		t.Errorf("service port = %s %d, want http 80", p.Name, p.Port)
	}
	if got := resolvePort(c, p.TargetPort); got != httpPort {
		t.Errorf("service targetPort %s resolves to container port %d, want %d", p.TargetPort.String(), got, httpPort)
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	if ma := b.pdb.Spec.MinAvailable; ma == nil || ma.String() != "1" {
		t.Errorf("PodDisruptionBudget minAvailable = %v, want 1", ma)
	}
	if !selects(t, b.pdb.Spec.Selector, b.podLabels()) {
		t.Errorf("PodDisruptionBudget selector %+v does not select the pod labels %v", b.pdb.Spec.Selector, b.podLabels())
	}
	if r := b.deployment.Spec.Replicas; r != nil && *r <= 1 {
		t.Errorf("minAvailable 1 with %d replica(s) blocks every drain", *r)
	}
}

func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	np := b.networkPolicy
	if !selects(t, &np.Spec.PodSelector, b.podLabels()) {
		t.Errorf("NetworkPolicy podSelector %+v does not select the pod labels %v", np.Spec.PodSelector, b.podLabels())
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("policyTypes = %v, want Ingress", np.Spec.PolicyTypes)
	}
	var open bool
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port != nil && resolvePort(b.container(t), *p.Port) == httpPort {
				open = true
			}
		}
	}
	if !open {
		t.Errorf("NetworkPolicy does not allow ingress on port %d: Slack, Discord and Prometheus could not reach the bot", httpPort)
	}
}

func TestServiceMonitor(t *testing.T) {
	t.Parallel()
	b := loadBase(t)
	sm := b.serviceMonitor
	if !selects(t, &sm.Spec.Selector, b.service.Labels) {
		t.Errorf("ServiceMonitor selector %+v does not select the Service's labels %v", sm.Spec.Selector, b.service.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Path != metricsPath || ep.Port != b.service.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoint = %s %s, want port %s path %s", ep.Port, ep.Path, b.service.Spec.Ports[0].Name, metricsPath)
	}
	// The alerts select job="idpbot": the scrape job must be called that.
	job := b.service.Name
	if sm.Spec.JobLabel != "" {
		job = b.service.Labels[sm.Spec.JobLabel]
	}
	if job != scrapeJob {
		t.Errorf("scraped series get job=%q, but the alert rules select job=%q", job, scrapeJob)
	}
}

func fmtInt32(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}

// TestKustomizeBuild renders the base with kustomize (kubectl's built-in or
// the kustomize binary) when one is installed; the other tests check the
// files themselves.
func TestKustomizeBuild(t *testing.T) {
	t.Parallel()
	var cmd *exec.Cmd
	if p, err := exec.LookPath("kustomize"); err == nil {
		cmd = exec.CommandContext(t.Context(), p, "build", "kubernetes")
	} else if p, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.CommandContext(t.Context(), p, "kustomize", "kubernetes")
	} else {
		t.Skip("neither kustomize nor kubectl is on PATH")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, exitStderr(err))
	}
	hashSuffix := regexp.MustCompile(`-[a-z0-9]{10}$`)
	generated := map[string]string{} // ConfigMap name → rendered name
	var kinds []string
	var d appsv1.Deployment
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("kustomize output: %v", err)
		}
		name := obj.Metadata.Name
		switch obj.Kind {
		case "ConfigMap":
			name = hashSuffix.ReplaceAllString(name, "")
			generated[name] = obj.Metadata.Name
		case "Deployment":
			if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
				t.Fatalf("rendered Deployment: %v", err)
			}
		}
		kinds = append(kinds, obj.Kind+"/"+name)
	}
	slices.Sort(kinds)
	want := []string{
		"ConfigMap/idpbot-catalog", "ConfigMap/idpbot-config", "Deployment/idpbot", "NetworkPolicy/idpbot",
		"PodDisruptionBudget/idpbot", "PrometheusRule/idpbot", "Service/idpbot", "ServiceAccount/idpbot", "ServiceMonitor/idpbot",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("kustomize renders %q, want %q", kinds, want)
	}
	// The Deployment refers to the generated, hash-suffixed ConfigMaps, so
	// changing the config rolls the pods.
	refs := map[string]bool{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			refs[v.ConfigMap.Name] = true
		}
	}
	for name, rendered := range generated {
		if rendered == name || !refs[rendered] {
			t.Errorf("ConfigMap %s is rendered as %s; the Deployment refers to %v", name, rendered, refs)
		}
	}
}

// exitStderr returns what a failed command wrote to stderr.
func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
