package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/platform"
)

// Data is what a template sees: {{ .Name }}, {{ .Parameters.size }},
// {{ .Settings.object_store }} and so on.
type Data struct {
	Name        string
	Team        string
	Environment string
	// Namespace is the team's namespace in the environment,
	// "<team>-<environment>", where every object goes.
	Namespace string
	Service   string
	// Parameters are the request's parameters, defaults filled in; a
	// parameter the schema declares but the request left out is present
	// and empty.
	Parameters map[string]any
	// Requester is the id of the person who asked ("slack:U012AB3CD").
	Requester string
	// Settings are the binding's other settings (sizes, object_store, ...).
	Settings map[string]any
}

// Funcs are the functions templates may call besides text/template's
// built-ins (index, eq, printf, ...): nothing that reads files, the
// environment or runs anything.
//
//	default D V     V, or D when V is empty
//	quote V         V as a double-quoted YAML/JSON string
//	toJson V        V as JSON (a YAML flow value)
//	lower S, upper S
//	replace OLD NEW S
//	trimSuffix SUFFIX S, trimPrefix PREFIX S
//	required MSG V  V, or an error saying MSG when V is empty
//	mul A B         A×B of two integers (hours to milliseconds)
var Funcs = template.FuncMap{
	"default": func(d, v any) any {
		if empty(v) {
			return d
		}
		return v
	},
	"quote": func(v any) (string, error) {
		b, err := json.Marshal(fmt.Sprint(v))
		return string(b), err
	},
	"toJson": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"mul": func(a, b any) (int64, error) {
		x, okx := toInt(a)
		y, oky := toInt(b)
		if !okx || !oky {
			return 0, fmt.Errorf("mul: %v and %v are not both integers", a, b)
		}
		return x * y, nil
	},
	"required": func(msg string, v any) (any, error) {
		if empty(v) {
			return nil, errors.New(msg)
		}
		return v, nil
	},
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		return int64(v), v == float64(int64(v))
	}
	return 0, false
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// NewData builds the template data of job's resource.
func NewData(job platform.Job, spec *Spec) (Data, error) {
	r := job.Resource
	ns, err := kubernetes.Namespace(r.Team, r.Environment)
	if err != nil {
		return Data{}, err
	}
	params := maps.Clone(r.Parameters)
	if params == nil {
		params = map[string]any{}
	}
	if job.Service != nil {
		for _, f := range job.Service.Fields {
			if _, ok := params[f.Name]; !ok {
				params[f.Name] = nil
			}
		}
	}
	return Data{
		Name: r.Name, Team: r.Team, Environment: r.Environment, Namespace: ns, Service: r.Service,
		Parameters: params, Requester: r.Requester.ID, Settings: spec.extra,
	}, nil
}

// RenderError is a template that does not render to an object: which
// manifest, the line within its template (0: unknown) and why.
type RenderError struct {
	Manifest int
	Line     int
	Message  string
}

func (e *RenderError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("manifests[%d].template: line %d: %s", e.Manifest, e.Line, e.Message)
	}
	return fmt.Sprintf("manifests[%d].template: %s", e.Manifest, e.Message)
}

// Render renders every manifest of spec with d: one object each, in the
// team's namespace, carrying idpbot's ownership labels and annotations.
// A template that fails is a *RenderError.
func Render(spec *Spec, d Data, r *platform.Resource) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(spec.Manifests))
	for i, m := range spec.Manifests {
		u, err := renderOne(i, m.Template, d)
		if err != nil {
			return nil, err
		}
		if ns := u.GetNamespace(); ns != "" && ns != d.Namespace {
			return nil, &RenderError{Manifest: i, Message: fmt.Sprintf("namespace %q is not the team's namespace %s; leave it out", ns, d.Namespace)}
		}
		u.SetNamespace(d.Namespace)
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, kubernetes.OwnerLabels(r))
		u.SetLabels(labels)
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		maps.Copy(ann, kubernetes.OwnerAnnotations(r))
		u.SetAnnotations(ann)
		out = append(out, u)
	}
	return out, nil
}

var (
	tmplLine   = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)
	missingKey = regexp.MustCompile(`map has no entry for key "([^"]*)"`)
	executing  = regexp.MustCompile(`^executing "[^"]*" at <[^>]*>: (.*)$`)
	yamlLine   = regexp.MustCompile(`(?:yaml: )?line (\d+): (.*)$`)
)

func renderOne(i int, text string, d Data) (*unstructured.Unstructured, error) {
	fail := func(line int, msg string) error { return &RenderError{Manifest: i, Line: line, Message: msg} }
	out, err := executeText(text, d)
	if err != nil {
		return nil, templateError(i, err)
	}
	js, err := yaml.YAMLToJSONStrict([]byte(out))
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, fail(0, fmt.Sprintf("renders invalid YAML at line %s of the rendered object: %s", m[1], m[2]))
		}
		return nil, fail(0, "renders invalid YAML: "+strings.TrimPrefix(msg, "yaml: "))
	}
	var obj map[string]any
	if err := json.Unmarshal(js, &obj); err != nil || obj == nil {
		return nil, fail(0, "does not render to a YAML mapping (one Kubernetes object)")
	}
	u := &unstructured.Unstructured{Object: obj}
	switch {
	case u.GetAPIVersion() == "":
		return nil, fail(0, "renders an object without apiVersion")
	case u.GetKind() == "":
		return nil, fail(0, "renders an object without kind")
	case u.GetName() == "":
		return nil, fail(0, "renders an object without metadata.name")
	}
	return u, nil
}

// executeText runs the template text with d; a key missing from a map
// (an unknown parameter) is an error.
func executeText(text string, d Data) (string, error) {
	t, err := template.New("manifest").Funcs(Funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// templateError turns a text/template error into a RenderError with the
// template line, naming an unknown parameter or setting plainly.
func templateError(i int, err error) error {
	msg := err.Error()
	line := 0
	if m := tmplLine.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[2]
	}
	if m := missingKey.FindStringSubmatch(msg); m != nil {
		field := msg[:max(0, strings.Index(msg, ">"))]
		what := "key"
		switch {
		case strings.Contains(field, ".Parameters"):
			what = "parameter"
		case strings.Contains(field, ".Settings"):
			what = "setting"
		}
		msg = fmt.Sprintf("refers to unknown %s %q", what, m[1])
	} else if m := executing.FindStringSubmatch(msg); m != nil {
		msg = m[1]
	}
	return &RenderError{Manifest: i, Line: line, Message: msg}
}
