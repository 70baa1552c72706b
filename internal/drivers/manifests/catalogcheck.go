package manifests

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/catalog"
)

var _ catalog.BindingCheck = CheckCatalogBinding

// CheckCatalogBinding is the manifests driver's check for `catalog
// validate`: the settings must parse, and every template must render, for
// the schema's defaults and then for each example, enum option and boolean
// value of every parameter, to one object with apiVersion, kind and name,
// referring only to parameters and settings that exist. Problems carry
// the template's field and line.
func CheckCatalogBinding(s *platform.ServiceDefinition, b platform.Binding) []catalog.Problem {
	spec, err := ParseSpec(b.Settings)
	if err != nil {
		return []catalog.Problem{{Field: "settings", Message: platform.ErrorMessage(err)}}
	}
	env := "production"
	if len(b.Environments) > 0 {
		env = b.Environments[0]
	}
	var problems []catalog.Problem
	seen := map[string]bool{}
	for _, params := range sampleParameters(s) {
		r := &platform.Resource{ID: 1, Service: s.Name, Name: "example", Team: "team", Environment: env, Parameters: params,
			Requester: platform.Actor{ID: "console:example"}}
		job := platform.Job{Resource: r, Service: s, Settings: b.Settings}
		data, err := NewData(job, spec)
		if err != nil {
			return []catalog.Problem{{Field: "settings", Message: platform.ErrorMessage(err)}}
		}
		for i, m := range spec.Manifests {
			if _, err := renderOne(i, m.Template, data); err != nil {
				var re *RenderError
				if !errors.As(err, &re) {
					re = &RenderError{Manifest: i, Message: err.Error()}
				}
				key := fmt.Sprint(re.Manifest, re.Line, re.Message)
				if seen[key] {
					continue
				}
				seen[key] = true
				problems = append(problems, catalog.Problem{
					Field: fmt.Sprintf("settings.manifests[%d].template", re.Manifest), Line: re.Line,
					Message: fmt.Sprintf("%s (parameters %s)", re.Message, describe(params)),
				})
			}
		}
		if spec.Secret != nil {
			if _, err := renderString(spec.Secret.Name, data); err != nil && !seen["secret"] {
				seen["secret"] = true
				problems = append(problems, catalog.Problem{Field: "settings.secret.name", Message: templateError(0, err).(*RenderError).Message})
			}
		}
	}
	return problems
}

// sampleParameters are the parameter sets templates are rendered with: the
// defaults, then each example, option and boolean value of one parameter at
// a time on top of them.
func sampleParameters(s *platform.ServiceDefinition) []map[string]any {
	base := s.Defaults(nil)
	if base == nil {
		base = map[string]any{}
	}
	for _, f := range s.Fields {
		if _, ok := base[f.Name]; ok {
			continue
		}
		switch {
		case len(f.Examples) > 0:
			base[f.Name] = f.Examples[0]
		case len(f.Options) > 0:
			base[f.Name] = f.Options[0]
		case f.Kind == platform.KindInteger && f.Min != nil:
			base[f.Name] = *f.Min
		case f.Kind == platform.KindInteger:
			base[f.Name] = int64(0)
		case f.Kind == platform.KindBoolean:
			base[f.Name] = false
		}
	}
	out := []map[string]any{base}
	for _, f := range s.Fields {
		var values []any
		for _, v := range slices.Concat(f.Examples, f.Options) {
			values = append(values, v)
		}
		if f.Kind == platform.KindBoolean {
			values = append(values, true, false)
		}
		for _, v := range values {
			if base[f.Name] == v {
				continue
			}
			p := maps.Clone(base)
			p[f.Name] = v
			out = append(out, p)
		}
	}
	return out
}

func describe(params map[string]any) string {
	if len(params) == 0 {
		return "none"
	}
	var b []byte
	for i, k := range slices.Sorted(maps.Keys(params)) {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s=%v", k, params[k])
	}
	return string(b)
}
