package catalog

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/idpbot/idpbot/internal/platform"
)

// Schema validates a service's parameters with the JSON Schema of its
// catalog entry. Each error names the parameter it is about.
type Schema struct {
	service  string
	compiled *jsonschema.Schema
	names    []string
	// examples are the examples of each parameter that has some: a value
	// that does not match the parameter's pattern is told to look like
	// them.
	examples map[string][]string
}

var _ platform.Schema = (*Schema)(nil)

// Validate checks params against the schema. Values may be string, bool,
// int64 or float64 (as Field.Parse or a JSON decoder produce them); the
// result names each offending parameter with a message for the person who
// typed it, sorted by field.
func (s *Schema) Validate(params map[string]any) []platform.FieldError {
	inst := make(map[string]any, len(params))
	for k, v := range params {
		inst[k] = instanceValue(v)
	}
	err := s.compiled.Validate(inst)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []platform.FieldError{{Message: "the parameters could not be validated"}}
	}
	var out []platform.FieldError
	s.collect(verr, inst, &out)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return out[i].Message < out[j].Message
	})
	// Drop duplicates: one value can fail the same way through two paths.
	uniq := out[:0]
	for i, e := range out {
		if i == 0 || e != out[i-1] {
			uniq = append(uniq, e)
		}
	}
	return uniq
}

// collect turns a validation error tree into field errors.
func (s *Schema) collect(e *jsonschema.ValidationError, inst any, out *[]platform.FieldError) {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, fieldError(append(loc[:len(loc):len(loc)], m), "is required"))
		}
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			msg := "is not a parameter of " + s.service
			if len(loc) == 0 {
				if c := platform.Closest(p, s.names); c != "" {
					msg += " (did you mean " + c + "?)"
				}
			}
			*out = append(*out, fieldError(append(loc[:len(loc):len(loc)], p), msg))
		}
		return
	case *kind.Group, *kind.Schema, *kind.Reference, *kind.AllOf:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				s.collect(c, inst, out)
			}
			return
		}
	}
	if k, ok := e.ErrorKind.(*kind.Pattern); ok && len(loc) == 1 && len(s.examples[loc[0]]) > 0 {
		*out = append(*out, fieldError(loc, platform.PatternMessage(k.Want, s.examples[loc[0]])))
		return
	}
	*out = append(*out, fieldError(loc, mustMessage(e.ErrorKind, valueAt(inst, loc))))
}

// fieldError names the parameter at loc; a deeper location is kept in the
// message.
func fieldError(loc []string, msg string) platform.FieldError {
	switch len(loc) {
	case 0:
		return platform.FieldError{Message: msg}
	case 1:
		return platform.FieldError{Field: loc[0], Message: msg}
	}
	return platform.FieldError{Field: loc[0], Message: strings.Join(loc[1:], ".") + ": " + msg}
}

// valueAt returns the instance value at loc, or nil.
func valueAt(v any, loc []string) any {
	for _, tok := range loc {
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// instanceValue converts a Go parameter value to the JSON value the
// validator expects.
func instanceValue(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return int64(v)
		}
		return json.Number(strconv.FormatUint(uint64(v), 10))
	case float32:
		return float64(v)
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = instanceValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = instanceValue(e)
		}
		return out
	}
	return v
}

var printer = message.NewPrinter(language.English)

// typeNames are how a JSON type is named to a person, after "must be".
var typeNames = map[string]string{
	"integer": "a whole number",
	"number":  "a number",
	"boolean": "true or false",
	"string":  "text",
	"object":  "an object",
	"array":   "a list",
	"null":    "empty",
}

// mustMessage explains a failed keyword to the person who typed value:
// "must be at most 10 (got 11)".
func mustMessage(k jsonschema.ErrorKind, value any) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = cmp.Or(typeNames[w], w)
		}
		return fmt.Sprintf("must be %s (got %s)", strings.Join(want, " or "), display(value))
	case *kind.Enum:
		opts := make([]string, len(k.Want))
		for i, w := range k.Want {
			opts[i] = plain(w)
		}
		msg := "must be one of " + strings.Join(opts, ", ")
		if s, ok := value.(string); ok {
			if c := platform.Closest(s, opts); c != "" {
				msg += " (did you mean " + c + "?)"
			}
		}
		return msg
	case *kind.Const:
		return "must be " + plain(k.Want)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s (got %s)", rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s (got %s)", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be more than %s (got %s)", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be less than %s (got %s)", rat(k.Want), rat(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("must be a multiple of %s (got %s)", rat(k.Want), rat(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters (got %d)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters (got %d)", k.Want, k.Got)
	case *kind.Pattern:
		return "must match the pattern " + k.Want
	case *kind.Format:
		if k.Err != nil {
			return fmt.Sprintf("must be a valid %s (%v)", k.Want, k.Err)
		}
		return "must be a valid " + k.Want
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.InvalidJsonValue:
		return fmt.Sprintf("has a value of an unsupported type (%T)", k.Value)
	}
	return k.LocalizedString(printer)
}

// articles name a JSON type after "is not".
var articles = map[string]string{
	"integer": "an integer",
	"number":  "a number",
	"boolean": "a boolean (true or false)",
	"string":  "a string",
	"object":  "an object",
	"array":   "a list",
	"null":    "null",
}

// isNotMessage explains why value, written in the catalog, fails a keyword:
// `"huge" is not one of small, medium, large`.
func isNotMessage(k jsonschema.ErrorKind, value any) string {
	v := display(value)
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = cmp.Or(articles[w], w)
		}
		return fmt.Sprintf("%s is not %s", v, strings.Join(want, " or "))
	case *kind.Enum:
		opts := make([]string, len(k.Want))
		for i, w := range k.Want {
			opts[i] = plain(w)
		}
		return fmt.Sprintf("%s is not one of %s", v, strings.Join(opts, ", "))
	case *kind.Minimum:
		return fmt.Sprintf("%s is less than the minimum %s", v, rat(k.Want))
	case *kind.Maximum:
		return fmt.Sprintf("%s is more than the maximum %s", v, rat(k.Want))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("%s is not more than the exclusive minimum %s", v, rat(k.Want))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("%s is not less than the exclusive maximum %s", v, rat(k.Want))
	case *kind.MinLength:
		return fmt.Sprintf("%s is shorter than the minimum length %d", v, k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("%s is longer than the maximum length %d", v, k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("%s does not match the pattern %s", v, k.Want)
	}
	return fmt.Sprintf("%s %s", v, mustMessage(k, value))
}

// display renders a value for a message: strings quoted and clipped.
func display(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(clip(v, 40))
	case bool, int64, json.Number:
		return fmt.Sprint(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("a %T", v)
	}
	return clip(string(b), 40)
}

// plain renders an enum option or constant without quotes.
func plain(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return display(v)
}

// rat renders a number from the validator: 10, 2.5.
func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
