package catalog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/platform"
)

// serviceKeys are the keys a service file may have.
var serviceKeys = []string{
	"name", "title", "description", "type", "version", "owner", "tier", "documentation",
	"dependencies", "parameters", "provisioner", "outputs", "ttl", "approval",
}

// bindingKeys are the keys of one provisioner binding.
var bindingKeys = []string{"driver", "environments", "settings"}

// ServiceKeys returns the keys a service file may have (for the editor
// schema, which a test keeps in step with them).
func ServiceKeys() []string { return slices.Clone(serviceKeys) }

// BindingKeys returns the keys of one provisioner binding.
func BindingKeys() []string { return slices.Clone(bindingKeys) }

// fileDecoder turns one service file into a ServiceDefinition, collecting
// every problem it finds rather than stopping at the first.
type fileDecoder struct {
	file string
	// drivers are the known driver names; nil: not checked.
	drivers  []string
	problems []Problem
	// bindingPaths are the field paths of the decoded bindings, in order
	// ("provisioner", "provisioner[1]").
	bindingPaths []string
}

func (d *fileDecoder) report(field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Field: field, Message: fmt.Sprintf(format, args...)})
}

// decode parses data. It returns the definition even when there are
// problems (nil when the file could not be read as a service at all), so
// that checks across files can still run.
func (d *fileDecoder) decode(data []byte) *platform.ServiceDefinition {
	if len(bytes.TrimSpace(data)) == 0 {
		d.report("", "the file is empty")
		return nil
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		msg = strings.TrimPrefix(msg, "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		d.report("", "invalid YAML: %s", strings.Join(strings.Fields(msg), " "))
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil || top == nil {
		d.report("", "must be a mapping with keys such as name, title, description and parameters")
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if !slices.Contains(serviceKeys, k) {
			msg := "unknown key"
			if c := platform.Closest(k, serviceKeys); c != "" {
				msg += " (did you mean " + c + "?)"
			}
			d.report(clip(k, 40), "%s", msg)
		}
	}

	s := &platform.ServiceDefinition{Source: d.file}
	s.Name = d.text(top, "name", true)
	if s.Name != "" {
		if err := platform.ValidateName(s.Name); err != nil {
			d.report("name", "%q %v", clip(s.Name, 40), err)
			s.Name = ""
		}
	}
	s.Title = d.text(top, "title", true)
	if n := utf8.RuneCountInString(s.Title); n > MaxTitleLength {
		d.report("title", "%q is %d characters; a Slack modal title allows at most %d", s.Title, n, MaxTitleLength)
	}
	s.Description = d.text(top, "description", true)
	s.Type = d.text(top, "type", true)
	s.Version = d.text(top, "version", false)
	s.Owner = d.text(top, "owner", true)
	s.Tier = d.text(top, "tier", false)
	s.Documentation = d.text(top, "documentation", false)
	if s.Documentation != "" {
		if u, err := url.Parse(s.Documentation); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			d.report("documentation", "%q is not an http(s) URL", clip(s.Documentation, 60))
		}
	}
	s.Dependencies = d.names(top, "dependencies")
	s.Outputs = d.names(top, "outputs")
	if raw, ok := top["ttl"]; ok && !isNull(raw) {
		s.TTL = d.duration("ttl", raw)
	}
	if raw, ok := top["approval"]; ok && !isNull(raw) {
		s.Approvals = d.approval(raw)
	}
	if raw, ok := top["parameters"]; ok && !isNull(raw) {
		s.Fields, s.Schema = d.parameters(raw, cmp.Or(s.Name, d.file))
		if s.Schema == nil {
			s.Schema = invalidSchema{}
		}
	}
	if raw, ok := top["provisioner"]; ok && !isNull(raw) {
		s.Provisioners = d.provisioner(raw)
	} else {
		d.report("provisioner", "is required (for example {driver: postgres})")
	}
	return s
}

// invalidSchema stands in for a schema that did not compile; Load never
// returns a catalog holding one.
type invalidSchema struct{}

// Validate rejects every request.
func (invalidSchema) Validate(map[string]any) []platform.FieldError {
	return []platform.FieldError{{Message: "the service's parameter schema is invalid"}}
}

// text decodes the string at key.
func (d *fileDecoder) text(top map[string]json.RawMessage, key string, required bool) string {
	raw, ok := top[key]
	if !ok || isNull(raw) {
		if required {
			d.report(key, "is required")
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if raw[0] != '{' && raw[0] != '[' {
			d.report(key, "must be a string; quote it (%s: %q)", key, string(raw))
		} else {
			d.report(key, "must be a string")
		}
		return ""
	}
	s = strings.TrimSpace(s)
	if s == "" && required {
		d.report(key, "is required")
	}
	return s
}

// names decodes a list of slugs (dependencies, outputs).
func (d *fileDecoder) names(top map[string]json.RawMessage, key string) []string {
	raw, ok := top[key]
	if !ok || isNull(raw) {
		return nil
	}
	list, ok := d.list(key, raw)
	if !ok {
		return nil
	}
	var out []string
	for _, s := range list {
		switch {
		case slices.Contains(out, s):
			d.report(key, "%q is listed twice", s)
		case platform.ValidateName(strings.ReplaceAll(s, "_", "-")) != nil:
			d.report(key, "%q is not a valid name (lowercase letters, digits, hyphens and underscores)", clip(s, 40))
		default:
			out = append(out, s)
		}
	}
	return out
}

// list decodes a list of strings.
func (d *fileDecoder) list(field string, raw json.RawMessage) ([]string, bool) {
	var items []any
	if err := json.Unmarshal(raw, &items); err != nil {
		d.report(field, "must be a list of strings")
		return nil, false
	}
	out := make([]string, 0, len(items))
	ok := true
	for _, it := range items {
		s, isString := it.(string)
		if !isString || strings.TrimSpace(s) == "" {
			d.report(field, "%s is not a non-empty string", display(it))
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// duration decodes "168h", "30m" or "7d".
func (d *fileDecoder) duration(field string, raw json.RawMessage) time.Duration {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.report(field, "must be a duration such as 168h or 7d")
		return 0
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.report(field, "%v", err)
		return 0
	}
	return v
}

// ParseDuration parses a positive duration written the Go way ("90m",
// "168h") or in days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var v time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 365*100 {
			return 0, fmt.Errorf("%q is not a duration such as 168h or 7d", clip(s, 40))
		}
		v = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if v, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 168h or 7d", clip(s, 40))
		}
	}
	if v <= 0 {
		return 0, fmt.Errorf("%q must be more than zero", clip(s, 40))
	}
	return v, nil
}

// approval decodes {required: N}.
func (d *fileDecoder) approval(raw json.RawMessage) int {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		d.report("approval", "must be a mapping such as {required: 1}")
		return 0
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if k != "required" {
			d.report("approval."+clip(k, 40), "unknown key (approval has only required)")
		}
	}
	var n int
	if r, ok := obj["required"]; ok {
		if err := json.Unmarshal(r, &n); err != nil || n < 0 || n > 10 {
			d.report("approval.required", "must be a whole number of approvals from 0 to 10")
			return 0
		}
	}
	return n
}

// provisioner decodes one binding or a list of them, per environment.
func (d *fileDecoder) provisioner(raw json.RawMessage) []platform.Binding {
	var items []json.RawMessage
	single := raw[0] == '{'
	if single {
		items = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		d.report("provisioner", "must be a binding such as {driver: postgres}, or a non-empty list of them")
		return nil
	}
	type claim struct {
		index  int
		driver string
	}
	var out []platform.Binding
	claimed := map[string]claim{}
	catchAll := -1
	for i, item := range items {
		path := "provisioner"
		if !single {
			path = fmt.Sprintf("provisioner[%d]", i)
		}
		b, ok := d.binding(path, item)
		if !ok {
			continue
		}
		if len(b.Environments) == 0 {
			if catchAll >= 0 {
				d.report(path, "a second binding without environments is ambiguous: provisioner[%d] already applies to every environment not listed", catchAll)
				continue
			}
			catchAll = i
		}
		for _, env := range b.Environments {
			if c, dup := claimed[env]; dup {
				d.report(path+".environments", "%q is already bound to driver %s by provisioner[%d]", env, c.driver, c.index)
				continue
			}
			claimed[env] = claim{i, b.Driver}
		}
		out = append(out, b)
		d.bindingPaths = append(d.bindingPaths, path)
	}
	return out
}

// binding decodes one provisioner binding.
func (d *fileDecoder) binding(path string, raw json.RawMessage) (platform.Binding, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		d.report(path, "must be a mapping such as {driver: postgres}")
		return platform.Binding{}, false
	}
	ok := true
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(bindingKeys, k) {
			msg := "unknown key; a binding has driver, environments and settings (driver settings go under settings)"
			if c := platform.Closest(k, bindingKeys); c != "" {
				msg = "unknown key (did you mean " + c + "?)"
			}
			d.report(path+"."+clip(k, 40), "%s", msg)
			ok = false
		}
	}
	var b platform.Binding
	if err := json.Unmarshal(obj["driver"], &b.Driver); err != nil || strings.TrimSpace(b.Driver) == "" {
		d.report(path+".driver", "is required (the name of a provisioner driver, such as postgres)")
		ok = false
	} else if d.drivers != nil && !slices.Contains(d.drivers, b.Driver) {
		msg := fmt.Sprintf("unknown driver %q", clip(b.Driver, 40))
		if c := platform.Closest(b.Driver, d.drivers); c != "" {
			msg += " (did you mean " + c + "?)"
		}
		known := slices.Clone(d.drivers)
		slices.Sort(known)
		d.report(path+".driver", "%s; known drivers: %s", msg, strings.Join(known, ", "))
		ok = false
	}
	if raw, has := obj["environments"]; has && !isNull(raw) {
		envs, listOK := d.list(path+".environments", raw)
		if !listOK || len(envs) == 0 {
			if listOK {
				d.report(path+".environments", "must list at least one environment, or be left out to bind every environment")
			}
			ok = false
		}
		for _, e := range envs {
			if slices.Contains(b.Environments, e) {
				d.report(path+".environments", "%q is listed twice", e)
				ok = false
				continue
			}
			b.Environments = append(b.Environments, e)
		}
	}
	if raw, has := obj["settings"]; has && !isNull(raw) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var settings map[string]any
		if err := dec.Decode(&settings); err != nil {
			d.report(path+".settings", "must be a mapping of driver settings")
			ok = false
		} else {
			b.Settings = normalize(settings).(map[string]any)
		}
	}
	return b, ok
}

// normalize turns JSON numbers into int64 when whole and float64 otherwise,
// the types parameters have too.
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	}
	return v
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
