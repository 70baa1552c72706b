package deploy_test

import (
	"bytes"
	"debug/buildinfo"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// helmVersion is the helm the chart is checked with; .ci/run installs it.
const helmVersion = "v4.3.2"

// chartDir is the chart, relative to deploy/.
const chartDir = "helm/idpbot"

// helmInstall is how to get the pinned helm.
const helmInstall = "GOBIN=$(go env GOCACHE)/../idpbot-tools go install helm.sh/helm/v4/cmd/helm@" + helmVersion

// findHelm looks for the pinned helm in the tools directory .ci/run
// installs it in, then on PATH.
var findHelm = sync.OnceValues(func() (string, error) {
	var candidates []string
	if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		if cache := strings.TrimSpace(string(out)); cache != "" && cache != "off" {
			candidates = append(candidates, filepath.Join(filepath.Dir(cache), "idpbot-tools", "helm"))
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		candidates = append(candidates, p)
	}
	var found []string
	for _, p := range candidates {
		// go install leaves the version in the module build info (helm
		// version says only "v4.3"); release binaries say it themselves.
		if bi, err := buildinfo.ReadFile(p); err == nil && bi.Main.Path == "helm.sh/helm/v4" {
			if bi.Main.Version == helmVersion {
				return p, nil
			}
		}
		out, err := exec.Command(p, "version", "--template", "{{.Version}}").Output()
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(out))
		if v == helmVersion {
			return p, nil
		}
		found = append(found, p+" is "+v)
	}
	if len(found) > 0 {
		return "", &helmMissing{"no helm " + helmVersion + " (" + strings.Join(found, ", ") + ")"}
	}
	return "", &helmMissing{"helm " + helmVersion + " is not installed"}
})

type helmMissing struct{ why string }

func (e *helmMissing) Error() string { return e.why }

// helm returns the pinned helm's path. Without it the test fails when CI
// is set (.ci/run installs it) and is skipped otherwise, saying how to
// install it.
func helm(t *testing.T) string {
	t.Helper()
	p, err := findHelm()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v and CI is set: install it with %s", err, helmInstall)
		}
		t.Skipf("%v; install it with %s (CI requires it)", err, helmInstall)
	}
	return p
}

// runHelm runs helm with args in deploy/ and returns its stdout, or its
// stderr as the error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), helm(t), args...)
	// A clean helm home: no repositories, plugins or caches of the user's.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &helmError{args, err, stderr.String()}
	}
	return stdout.String(), nil
}

type helmError struct {
	args   []string
	err    error
	stderr string
}

func (e *helmError) Error() string {
	return "helm " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

// rendered is the output of helm template, by "Kind/name".
type rendered map[string][]byte

// helmTemplate renders the chart as release "idpbot" in namespace "idp"
// with the extra args (--set ..., -f ...).
func helmTemplate(t *testing.T, args ...string) (rendered, error) {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", "idpbot", chartDir, "--namespace", "idp"}, args...)...)
	if err != nil {
		return nil, err
	}
	r := rendered{}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("helm template output: %v\n%s", err, doc)
		}
		key := obj.Kind + "/" + obj.Metadata.Name
		if _, dup := r[key]; dup {
			t.Fatalf("helm template renders %s twice", key)
		}
		r[key] = []byte(doc)
	}
	return r, nil
}

// mustTemplate is helmTemplate that fails the test on an error.
func mustTemplate(t *testing.T, args ...string) rendered {
	t.Helper()
	r, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// decode decodes the rendered object key strictly into v.
func (r rendered) decode(t *testing.T, key string, v any) {
	t.Helper()
	doc, ok := r[key]
	if !ok {
		t.Fatalf("helm template renders no %s (it renders %v)", key, r.keys())
	}
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("rendered %s: %v", key, err)
	}
}

func (r rendered) keys() []string { return slices.Sorted(maps.Keys(r)) }

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
