package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/util/jsonpath"

	"github.com/idpbot/idpbot/internal/platform"
)

// Spec is what a binding to the manifests driver declares in its settings
// (manifests, secret, timeout). Every other settings key is free for the
// templates, as .Settings.
type Spec struct {
	Manifests []Manifest     `json:"manifests"`
	Secret    *SecretRef     `json:"secret,omitempty"`
	Timeout   string         `json:"timeout,omitempty"`
	timeout   time.Duration  `json:"-"`
	extra     map[string]any `json:"-"`
}

// Manifest is one object template and how to tell its state.
type Manifest struct {
	// Template is a Go text/template rendering one object as YAML.
	Template string `json:"template"`
	// Operator names what serves the object's kind ("CloudNativePG") in
	// the message shown when the cluster lacks it.
	Operator string `json:"operator,omitempty"`
	// Ready is when the object is ready (zero: as soon as it exists).
	Ready *Check `json:"ready,omitempty"`
	// Failed are the states in which the operator has given up; any of
	// them fails the request with the operator's message.
	Failed []Check `json:"failed,omitempty"`
	// Progress is a JSONPath to the operator's progress message (default:
	// the message of the Ready condition, when Ready is a condition).
	Progress string `json:"progress,omitempty"`
	// Outputs map an output name to a JSONPath into the object.
	Outputs map[string]string `json:"outputs,omitempty"`
}

// Check is a state of an object: a status condition (Condition with Status,
// default "True", and optionally Reason), or a JSONPath (JSONPath) whose
// value is Value or one of Values.
type Check struct {
	Condition string   `json:"condition,omitempty"`
	Status    string   `json:"status,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	JSONPath  string   `json:"jsonpath,omitempty"`
	Value     string   `json:"value,omitempty"`
	Values    []string `json:"values,omitempty"`
}

// SecretRef names a Secret in the team's namespace whose keys are delivered
// privately to the requester.
type SecretRef struct {
	// Name is a template like the manifests' ("{{ .Name }}-app").
	Name string `json:"name"`
	// Keys map the name shown to the requester to the Secret's key.
	Keys map[string]string `json:"keys"`
}

// specKeys are the settings keys the driver itself reads.
var specKeys = []string{"manifests", "secret", "timeout"}

// ParseSpec reads a binding's settings. Errors are Invalid and name the
// settings key ("manifests[1].ready: ...").
func ParseSpec(settings map[string]any) (*Spec, error) {
	own := map[string]any{}
	extra := map[string]any{}
	for k, v := range settings {
		if slices.Contains(specKeys, k) {
			own[k] = v
		} else {
			extra[k] = v
		}
	}
	data, err := json.Marshal(own)
	if err != nil {
		return nil, invalid("settings", "cannot be read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	s := &Spec{extra: extra}
	if err := dec.Decode(s); err != nil {
		return nil, invalid("settings", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(s.Manifests) == 0 {
		return nil, invalid("manifests", "is required: a list of {template: ...} with at least one object")
	}
	if s.Timeout != "" {
		if s.timeout, err = time.ParseDuration(s.Timeout); err != nil || s.timeout <= 0 {
			return nil, invalid("timeout", "%q is not a duration such as 30m", s.Timeout)
		}
	}
	for i, m := range s.Manifests {
		at := fmt.Sprintf("manifests[%d]", i)
		if strings.TrimSpace(m.Template) == "" {
			return nil, invalid(at+".template", "is required")
		}
		if m.Ready != nil {
			if err := m.Ready.validate(at + ".ready"); err != nil {
				return nil, err
			}
		}
		for j, f := range m.Failed {
			if err := f.validate(fmt.Sprintf("%s.failed[%d]", at, j)); err != nil {
				return nil, err
			}
		}
		if err := validPath(at+".progress", m.Progress); err != nil {
			return nil, err
		}
		for name, p := range m.Outputs {
			if p == "" {
				return nil, invalid(at+".outputs."+name, "is empty; give a JSONPath such as {.status.writeService}")
			}
			if err := validPath(at+".outputs."+name, p); err != nil {
				return nil, err
			}
		}
	}
	if r := s.Secret; r != nil && (r.Name == "" || len(r.Keys) == 0) {
		return nil, invalid("secret", "needs a name and keys (shown name: key in the Secret)")
	}
	return s, nil
}

func (c Check) validate(at string) error {
	switch {
	case c.Condition != "" && c.JSONPath != "":
		return invalid(at, "has both condition and jsonpath; use one")
	case c.Condition == "" && c.JSONPath == "":
		return invalid(at, "needs a condition (such as Ready) or a jsonpath with its value")
	case c.JSONPath != "" && c.Value == "" && len(c.Values) == 0:
		return invalid(at, "jsonpath %s needs the value (or values) it must reach", c.JSONPath)
	case c.Condition != "" && (c.Value != "" || len(c.Values) > 0):
		return invalid(at, "value belongs to a jsonpath; a condition has status and reason")
	}
	return validPath(at+".jsonpath", c.JSONPath)
}

func validPath(at, p string) error {
	if p == "" {
		return nil
	}
	if err := jsonpath.New(at).Parse(p); err != nil {
		return invalid(at, "%q is not a JSONPath: %v", p, err)
	}
	return nil
}

func invalid(at, format string, args ...any) error {
	return platform.Errorf(platform.Invalid, "manifests binding: %s: %s", at, fmt.Sprintf(format, args...))
}

// staticKind returns the apiVersion and kind a template declares literally
// at its top level, if it does (templated ones are known only once
// rendered).
func staticKind(tmpl string) (apiVersion, kind string, ok bool) {
	av := topLevel.FindAllStringSubmatch(tmpl, -1)
	for _, m := range av {
		switch m[1] {
		case "apiVersion":
			apiVersion = m[2]
		case "kind":
			kind = m[2]
		}
	}
	return apiVersion, kind, apiVersion != "" && kind != "" && !strings.Contains(apiVersion+kind, "{{")
}

var topLevel = regexp.MustCompile(`(?m)^(apiVersion|kind):[ \t]*["']?([^"'\s#]+)["']?[ \t]*(?:#.*)?$`)
