package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestRBACComponentsBuild builds an overlay of the base with both RBAC
// components (kubectl's kustomize or the kustomize binary, when installed)
// and checks the bindings name the bot's service account in the overlay's
// namespace and that the token is mounted only with them.
func TestRBACComponentsBuild(t *testing.T) {
	t.Parallel()
	build := func(t *testing.T, components ...string) map[string][]byte {
		t.Helper()
		dir := t.TempDir()
		abs, err := filepath.Abs("kubernetes")
		if err != nil {
			t.Fatal(err)
		}
		// kustomize loads only relative paths: link the base into the overlay.
		if err := os.Symlink(abs, filepath.Join(dir, "base")); err != nil {
			t.Fatal(err)
		}
		k := "namespace: idp\nresources: [base]\n"
		if len(components) > 0 {
			k += "components: [base/" + strings.Join(components, ", base/") + "]\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
			t.Fatal(err)
		}
		var cmd *exec.Cmd
		if p, err := exec.LookPath("kustomize"); err == nil {
			cmd = exec.CommandContext(t.Context(), p, "build", dir)
		} else if p, err := exec.LookPath("kubectl"); err == nil {
			cmd = exec.CommandContext(t.Context(), p, "kustomize", dir)
		} else {
			t.Skip("neither kustomize nor kubectl is on PATH")
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, exitStderr(err))
		}
		objs := map[string][]byte{}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
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
			if obj.Kind == "ConfigMap" {
				name = regexp.MustCompile(`-[a-z0-9]{10}$`).ReplaceAllString(name, "") // the generator's hash
			}
			objs[obj.Kind+"/"+name] = []byte(doc)
		}
		return objs
	}
	automount := func(t *testing.T, objs map[string][]byte) (pod, sa *bool) {
		t.Helper()
		var d appsv1.Deployment
		var s corev1.ServiceAccount
		if err := yaml.Unmarshal(objs["Deployment/idpbot"], &d); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(objs["ServiceAccount/idpbot"], &s); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.AutomountServiceAccountToken, s.AutomountServiceAccountToken
	}

	with := build(t, "rbac-kubernetes", "rbac-manifests")
	for _, driver := range []string{"kubernetes", "manifests"} {
		var role, file rbacv1.ClusterRole
		var crb rbacv1.ClusterRoleBinding
		for _, k := range []string{"ClusterRole/idpbot-" + driver, "ClusterRoleBinding/idpbot-" + driver} {
			if with[k] == nil {
				t.Fatalf("the overlay with the RBAC components renders no %s", k)
			}
		}
		if err := yaml.UnmarshalStrict(with["ClusterRole/idpbot-"+driver], &role); err != nil {
			t.Fatalf("ClusterRole idpbot-%s: %v", driver, err)
		}
		decodeYAML(t, filepath.Join("kubernetes", "rbac-"+driver, "clusterrole.yaml"), &file)
		if len(role.Rules) == 0 || !cmp.Equal(role.Rules, file.Rules) {
			t.Errorf("built ClusterRole idpbot-%s rules = %+v, want those of its file", driver, role.Rules)
		}
		if err := yaml.UnmarshalStrict(with["ClusterRoleBinding/idpbot-"+driver], &crb); err != nil {
			t.Fatalf("ClusterRoleBinding idpbot-%s: %v", driver, err)
		}
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "idpbot", Namespace: "idp"}}
		if crb.RoleRef.Name != role.Name || !cmp.Equal(crb.Subjects, want) {
			t.Errorf("ClusterRoleBinding idpbot-%s = %+v %+v, want ClusterRole %s to %+v", driver, crb.RoleRef, crb.Subjects, role.Name, want)
		}
	}
	if pod, sa := automount(t, with); pod == nil || !*pod || sa == nil || !*sa {
		t.Errorf("with the RBAC components, automountServiceAccountToken pod = %v, ServiceAccount = %v; want true: the drivers need the token", pod, sa)
	}
	without := build(t)
	for k := range without {
		if strings.HasPrefix(k, "ClusterRole") {
			t.Errorf("the base renders %s; RBAC must be opt-in", k)
		}
	}
	if pod, sa := automount(t, without); pod == nil || *pod || sa == nil || *sa {
		t.Errorf("without the RBAC components, automountServiceAccountToken pod = %v, ServiceAccount = %v; want false", pod, sa)
	}
}
