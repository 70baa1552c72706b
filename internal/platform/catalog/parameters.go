package catalog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/idpbot/idpbot/internal/platform"
)

// Limits of the chat platforms that make a form impossible when exceeded.
const (
	// MaxTitleLength is the longest service title: a Slack modal title.
	MaxTitleLength = 24
	// MaxOptions is the most options an enum may have: a Slack static select.
	MaxOptions = 100
	// MaxOptionLength is the longest enum option: a Slack option's text.
	MaxOptionLength = 75
	// MaxParameters is the most parameters a service may have, so that its
	// form with name, team and environment fits a Slack modal's 100 blocks.
	MaxParameters = 90
)

// reservedFields are asked by every form; a parameter may not reuse them.
var reservedFields = []string{"name", "team", "environment"}

// parameterName is what a parameter may be called: it becomes a Discord
// command option (lowercase, at most 32 characters), a CEL map key and an
// environment variable suffix.
var parameterName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// schemaKeywords are the JSON Schema (2020-12 and earlier) keywords; any
// other key in a parameters schema is reported as unknown, unless it starts
// with "x-" (an extension).
var schemaKeywords = []string{
	"$schema", "$id", "$ref", "$defs", "definitions", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
	"type", "enum", "const", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
	"allOf", "anyOf", "oneOf", "not", "if", "then", "else",
	"properties", "patternProperties", "additionalProperties", "required", "propertyNames", "minProperties", "maxProperties",
	"dependentRequired", "dependentSchemas", "dependencies", "unevaluatedProperties",
	"items", "prefixItems", "additionalItems", "contains", "minContains", "maxContains", "minItems", "maxItems", "uniqueItems", "unevaluatedItems",
	"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
	"minLength", "maxLength", "pattern", "format", "contentEncoding", "contentMediaType", "contentSchema",
}

// uiOrder is the extension keyword that orders a form's fields.
const uiOrder = "ui:order"

// immutableKeyword marks a parameter that an update may not change
// (immutable: true); it is set when the resource is created.
const immutableKeyword = "immutable"

// parameters builds the form fields and the compiled schema of a service
// from its parameters JSON Schema, reporting every problem under
// "parameters".
func (d *fileDecoder) parameters(raw json.RawMessage, service string) ([]platform.Field, *Schema) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	obj, ok := doc.(map[string]any)
	if err != nil || !ok {
		d.report("parameters", "must be a JSON Schema object (type: object, with properties)")
		return nil, nil
	}
	d.keywords("parameters", obj, true)
	var rawProps map[string]any
	if p, ok := obj["properties"].(map[string]any); ok {
		rawProps = p
		for _, name := range slices.Sorted(maps.Keys(rawProps)) {
			if prop, ok := rawProps[name].(map[string]any); ok {
				d.keywords("parameters."+name, prop, false)
			}
		}
	}
	if t, ok := obj["type"]; !ok || t != "object" {
		d.report("parameters.type", `must be "object"`)
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no $ref to files or the network
	loc := "catalog:///" + url.PathEscape(d.file)
	if err := c.AddResource(loc, doc); err != nil {
		d.report("parameters", "is not a valid JSON Schema: %v", err)
		return nil, nil
	}
	compiled, err := c.Compile(loc)
	if err != nil {
		d.schemaError(err, doc)
		return nil, nil
	}

	names := slices.Sorted(maps.Keys(rawProps))
	if len(names) > MaxParameters {
		d.report("parameters.properties", "has %d parameters; a form holds at most %d", len(names), MaxParameters)
	}
	byName := make(map[string]platform.Field, len(names))
	for _, name := range names {
		path := "parameters." + name
		switch {
		case slices.Contains(reservedFields, name):
			d.report(path, "%q is asked by every form; choose another parameter name", name)
			continue
		case !parameterName.MatchString(name):
			d.report(path, "%q must be lowercase letters, digits and underscores, starting with a letter, at most 32 characters", clip(name, 40))
			continue
		}
		if f, ok := d.field(path, name, compiled.Properties[name]); ok {
			f.Immutable = d.immutable(path, rawProps[name])
			byName[name] = f
		}
	}
	for _, r := range compiled.Required {
		if _, ok := rawProps[r]; !ok {
			d.report("parameters.required", "%q is not a property", clip(r, 40))
			continue
		}
		if f, ok := byName[r]; ok {
			f.Required = true
			byName[r] = f
		}
	}

	var order []string
	if o, ok := obj[uiOrder]; ok {
		list, ok := o.([]any)
		if !ok {
			d.report("parameters."+uiOrder, "must be a list of property names")
		}
		seen := map[string]bool{}
		for _, item := range list {
			name, ok := item.(string)
			switch {
			case !ok:
				d.report("parameters."+uiOrder, "%s is not a property name", display(item))
			case rawProps[name] == nil:
				msg := fmt.Sprintf("%q is not a property", clip(name, 40))
				if c := platform.Closest(name, names); c != "" {
					msg += " (did you mean " + c + "?)"
				}
				d.report("parameters."+uiOrder, "%s", msg)
			case seen[name]:
				d.report("parameters."+uiOrder, "%q is listed twice", name)
			default:
				seen[name] = true
				order = append(order, name)
			}
		}
	}
	fields := make([]platform.Field, 0, len(byName))
	for _, name := range order {
		if f, ok := byName[name]; ok {
			fields = append(fields, f)
			delete(byName, name)
		}
	}
	for _, name := range names {
		if f, ok := byName[name]; ok {
			fields = append(fields, f)
		}
	}
	examples := map[string][]string{}
	for _, f := range fields {
		if len(f.Examples) > 0 {
			examples[f.Name] = f.Examples
		}
	}
	return fields, &Schema{service: service, compiled: compiled, names: names, examples: examples}
}

// keywords reports keys of a schema object that are no JSON Schema keyword.
func (d *fileDecoder) keywords(path string, obj map[string]any, top bool) {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if slices.Contains(schemaKeywords, k) || strings.HasPrefix(k, "x-") || top && k == uiOrder || !top && k == immutableKeyword {
			continue
		}
		msg := "unknown keyword"
		candidates := schemaKeywords
		if top {
			candidates = append(slices.Clip(candidates), uiOrder)
		} else {
			candidates = append(slices.Clip(candidates), immutableKeyword)
		}
		if c := platform.Closest(k, candidates); c != "" {
			msg += " (did you mean " + c + "?)"
		}
		d.report(path+"."+clip(k, 40), "%s", msg)
	}
}

// immutable reads a parameter's immutable flag, reporting a value that is
// not a boolean.
func (d *fileDecoder) immutable(path string, raw any) bool {
	prop, _ := raw.(map[string]any)
	v, ok := prop[immutableKeyword]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		d.report(path+"."+immutableKeyword, "must be true or false (not %s)", display(v))
	}
	return b
}

// field derives the form field of the parameter name from its compiled
// schema, checking that a form can ask for it and that its default is valid.
func (d *fileDecoder) field(path, name string, outer *jsonschema.Schema) (platform.Field, bool) {
	s := outer
	for i := 0; i < 8 && s.Ref != nil && s.Types == nil && s.Enum == nil; i++ {
		s = s.Ref
	}
	f := platform.Field{Name: name, Title: cmp.Or(outer.Title, s.Title), Description: cmp.Or(outer.Description, s.Description)}
	var types []string
	if s.Types != nil {
		types = s.Types.ToStrings()
	}
	ok := true
	switch {
	case s.Enum != nil:
		f.Kind = platform.KindEnum
		if !slices.Equal(types, []string{"string"}) {
			d.report(path+".type", `must be "string" for an enum (forms send the option as text)`)
			ok = false
		}
		if len(s.Enum.Values) > MaxOptions {
			d.report(path+".enum", "has %d options; a Slack select allows at most %d", len(s.Enum.Values), MaxOptions)
			ok = false
		}
		var bad []string
		for _, v := range s.Enum.Values {
			o, isString := v.(string)
			switch {
			case !isString || o == "":
				bad = append(bad, display(v))
			case slices.Contains(f.Options, o):
				d.report(path+".enum", "option %q is listed twice", o)
				ok = false
			case utf8.RuneCountInString(o) > MaxOptionLength:
				d.report(path+".enum", "option %q is longer than the %d characters a Slack option shows", clip(o, 40), MaxOptionLength)
				ok = false
			default:
				f.Options = append(f.Options, o)
			}
		}
		if len(bad) > 0 {
			d.report(path+".enum", "options must be non-empty strings (not %s)", strings.Join(bad, ", "))
			ok = false
		}
	case slices.Equal(types, []string{"boolean"}):
		f.Kind = platform.KindBoolean
	case slices.Equal(types, []string{"integer"}):
		f.Kind = platform.KindInteger
		f.Min = bound(s.Minimum, s.ExclusiveMinimum, true)
		f.Max = bound(s.Maximum, s.ExclusiveMaximum, false)
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			d.report(path, "minimum %d is more than maximum %d", *f.Min, *f.Max)
			ok = false
		}
	case slices.Equal(types, []string{"string"}):
		f.Kind = platform.KindString
		if s.MinLength != nil {
			f.MinLength = *s.MinLength
		}
		if s.MaxLength != nil {
			f.MaxLength = *s.MaxLength
		}
		if s.Pattern != nil {
			f.Pattern = s.Pattern.String()
		}
		examples := outer.Examples
		if len(examples) == 0 {
			examples = s.Examples
		}
		for _, e := range examples {
			if e, isString := e.(string); isString {
				f.Examples = append(f.Examples, e)
			}
		}
		if s.MaxLength != nil && f.MinLength > f.MaxLength {
			d.report(path, "minLength %d is more than maxLength %d", f.MinLength, f.MaxLength)
			ok = false
		}
	case len(types) == 0:
		d.report(path+".type", "is required (string, integer or boolean)")
		return f, false
	default:
		d.report(path+".type", "%s cannot be asked in a form (use string, integer, boolean, or a string enum)", strings.Join(types, " or "))
		return f, false
	}
	def := outer.Default
	if def == nil {
		def = s.Default
	}
	if def == nil || !ok {
		return f, ok
	}
	if err := outer.Validate(*def); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			for _, leaf := range leaves(verr) {
				d.report(path+".default", "%s", isNotMessage(leaf.ErrorKind, *def))
			}
		} else {
			d.report(path+".default", "%s is not valid: %v", display(*def), err)
		}
		return f, false
	}
	switch f.Kind {
	case platform.KindInteger:
		n, isNum := (*def).(json.Number)
		i, err := n.Int64()
		if !isNum || err != nil {
			d.report(path+".default", "%s is not an integer", display(*def))
			return f, false
		}
		f.Default = i
	default:
		f.Default = *def
	}
	return f, true
}

// bound returns an integer bound from an inclusive and an exclusive one,
// rounding inwards; nil when there is neither.
func bound(incl, excl *big.Rat, lower bool) *int64 {
	var out *int64
	pick := func(n int64) {
		if out == nil || lower && n > *out || !lower && n < *out {
			out = &n
		}
	}
	if incl != nil {
		pick(roundInt(incl, lower))
	}
	if excl != nil {
		n := roundInt(excl, lower)
		if excl.IsInt() {
			if lower {
				n++
			} else {
				n--
			}
		}
		pick(n)
	}
	return out
}

// roundInt rounds r up (ceil) or down (floor) to an int64.
func roundInt(r *big.Rat, up bool) int64 {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	if up && m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		if q.Sign() < 0 {
			return -1 << 63
		}
		return 1<<63 - 1
	}
	return q.Int64()
}

// leaves returns the innermost errors of a validation error tree: the
// keywords that failed.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// schemaError reports why a parameters schema does not compile, naming the
// offending keyword when the compiler says which.
func (d *fileDecoder) schemaError(err error, doc any) {
	var sve *jsonschema.SchemaValidationError
	var verr *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &verr) {
		// The validator walks maps in random order: sort by location.
		var found []Problem
		seen := map[string]bool{}
		for _, leaf := range firstLeaves(verr) {
			p := schemaPath(leaf.InstanceLocation)
			if seen[p] {
				continue // one problem per keyword: anyOf branches repeat it
			}
			seen[p] = true
			found = append(found, Problem{File: d.file, Field: p, Message: mustMessage(leaf.ErrorKind, valueAt(doc, leaf.InstanceLocation))})
		}
		sort.Slice(found, func(i, j int) bool { return found[i].Field < found[j].Field })
		d.problems = append(d.problems, found...)
		return
	}
	var rerr *jsonschema.InvalidRegexError
	if errors.As(err, &rerr) {
		_, frag, _ := strings.Cut(rerr.URL, "#")
		d.report(schemaPath(pointerTokens(frag)), "invalid regular expression %q: %v", rerr.Regex, rerr.Err)
		return
	}
	msg := strings.ReplaceAll(err.Error(), "catalog:///"+url.PathEscape(d.file), "parameters")
	d.report("parameters", "is not a valid JSON Schema: %s", msg)
}

// firstLeaves is like leaves but follows only the first alternative of a
// failed anyOf or oneOf, whose branches say the same thing in different
// words.
func firstLeaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		return firstLeaves(e.Causes[0])
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, firstLeaves(c)...)
	}
	return out
}

// schemaPath turns a location in a parameters schema into a problem field:
// [properties size default] → "parameters.size.default".
func schemaPath(tokens []string) string {
	var b strings.Builder
	b.WriteString("parameters")
	for i := 0; i < len(tokens); i++ {
		if tokens[i] == "properties" && i+1 < len(tokens) {
			i++
		}
		b.WriteString(".")
		b.WriteString(tokens[i])
	}
	return b.String()
}

// pointerTokens splits a JSON pointer ("/properties/size") into tokens.
func pointerTokens(ptr string) []string {
	ptr = strings.TrimPrefix(ptr, "/")
	if ptr == "" {
		return nil
	}
	toks := strings.Split(ptr, "/")
	for i, t := range toks {
		t = strings.ReplaceAll(t, "~1", "/")
		toks[i] = strings.ReplaceAll(t, "~0", "~")
	}
	return toks
}
