package platform

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FieldKind is the type of a form field, which decides its widget in each
// chat platform (select, checkbox, number input, text input).
type FieldKind string

// Field kinds.
const (
	KindString  FieldKind = "string"
	KindInteger FieldKind = "integer"
	KindBoolean FieldKind = "boolean"
	KindEnum    FieldKind = "enum"
)

// Field is one parameter of a service, derived from its JSON Schema. The
// common fields name, team and environment are Fields too, built by the form.
type Field struct {
	Name        string
	Title       string
	Description string
	Kind        FieldKind
	// Options are the allowed values of an enum field.
	Options []string
	// Min and Max bound an integer field when set.
	Min, Max *int64
	// MinLength, MaxLength and Pattern constrain a string field when set.
	MinLength int
	MaxLength int
	Pattern   string
	// Examples are valid values of a string field, shown instead of its
	// Pattern when a value does not match it.
	Examples []string
	// Default is the value used when none is given (nil: none).
	Default  any
	Required bool
	// Immutable fields are set when a resource is created and cannot be
	// changed by an update (the catalog's immutable: true).
	Immutable bool
}

// Label returns the field's title, or its name when it has none.
func (f Field) Label() string {
	if f.Title != "" {
		return f.Title
	}
	return f.Name
}

// Constraint describes the accepted values in a few words: "1–10",
// "one of small, medium, large", "yes or no".
func (f Field) Constraint() string {
	switch f.Kind {
	case KindEnum:
		return "one of " + strings.Join(f.Options, ", ")
	case KindBoolean:
		return "true or false"
	case KindInteger:
		switch {
		case f.Min != nil && f.Max != nil:
			return fmt.Sprintf("integer %d–%d", *f.Min, *f.Max)
		case f.Min != nil:
			return fmt.Sprintf("integer ≥ %d", *f.Min)
		case f.Max != nil:
			return fmt.Sprintf("integer ≤ %d", *f.Max)
		}
		return "integer"
	}
	var parts []string
	if f.MinLength > 0 {
		parts = append(parts, fmt.Sprintf("at least %d characters", f.MinLength))
	}
	if f.MaxLength > 0 {
		parts = append(parts, fmt.Sprintf("at most %d characters", f.MaxLength))
	}
	if len(parts) == 0 {
		return "text"
	}
	return "text, " + strings.Join(parts, ", ")
}

// Parse turns what a person typed into the field's typed value (string,
// int64 or bool), checking options, bounds and length. An empty string is an
// error; callers apply defaults before parsing.
func (f Field) Parse(s string) (any, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("is required")
	}
	switch f.Kind {
	case KindEnum:
		for _, o := range f.Options {
			if o == s {
				return s, nil
			}
		}
		for _, o := range f.Options {
			if strings.EqualFold(o, s) {
				return o, nil
			}
		}
		msg := fmt.Sprintf("must be one of %s", strings.Join(f.Options, ", "))
		if c := Closest(s, f.Options); c != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", c)
		}
		return nil, fmt.Errorf("%s", msg)
	case KindBoolean:
		switch strings.ToLower(s) {
		case "true", "yes", "y", "on", "1":
			return true, nil
		case "false", "no", "n", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("must be true or false")
	case KindInteger:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be a whole number")
		}
		if err := f.CheckInteger(n); err != nil {
			return nil, err
		}
		return n, nil
	}
	if err := f.CheckString(s); err != nil {
		return nil, err
	}
	return s, nil
}

// CheckInteger checks n against the field's bounds.
func (f Field) CheckInteger(n int64) error {
	if f.Min != nil && n < *f.Min || f.Max != nil && n > *f.Max {
		return fmt.Errorf("must be %s (got %d)", strings.TrimPrefix(f.Constraint(), "integer "), n)
	}
	return nil
}

// CheckString checks s against the field's length and pattern.
func (f Field) CheckString(s string) error {
	n := len([]rune(s))
	if f.MaxLength > 0 && n > f.MaxLength {
		return fmt.Errorf("must be at most %d characters (got %d)", f.MaxLength, n)
	}
	if n < f.MinLength {
		return fmt.Errorf("must be at least %d characters", f.MinLength)
	}
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err == nil && !re.MatchString(s) {
			return fmt.Errorf("%s", PatternMessage(f.Pattern, f.Examples))
		}
	}
	return nil
}

// PatternMessage says what a value that does not match pattern should look
// like: its examples when there are any ("must look like nginx:1.27"), the
// pattern itself otherwise.
func PatternMessage(pattern string, examples []string) string {
	if len(examples) > 0 {
		return "must look like " + strings.Join(examples, " or ")
	}
	return "must match " + pattern
}

// FormatValue renders a typed value the way a person would type it.
func FormatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
	}
	return fmt.Sprint(v)
}

// Schema validates a service's parameters. The catalog package implements it
// with JSON Schema; errors name the parameter they concern.
type Schema interface {
	Validate(params map[string]any) []FieldError
}

// ServiceDefinition is a catalog entry: something people can provision.
type ServiceDefinition struct {
	Name          string
	Title         string
	Description   string
	Type          string
	Version       string
	Owner         string
	Tier          string
	Documentation string
	Dependencies  []string
	// Fields are the parameters in form order (the schema's ui:order).
	Fields []Field
	// Schema validates parameters; nil accepts any parameters of the Fields.
	Schema Schema
	// Provisioners bind the service to drivers, per environment.
	Provisioners []Binding
	Outputs      []string
	TTL          time.Duration
	// Approvals is how many approvals a request needs (0: as configured for
	// the environment).
	Approvals int
	// Source is where the definition was loaded from (file name), for errors.
	Source string
}

// Field returns the service parameter called name.
func (s *ServiceDefinition) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Defaults returns a copy of params with every missing parameter that has a
// default filled in.
func (s *ServiceDefinition) Defaults(params map[string]any) map[string]any {
	out := make(map[string]any, len(s.Fields))
	for k, v := range params {
		out[k] = v
	}
	for _, f := range s.Fields {
		if _, ok := out[f.Name]; !ok && f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}

// Validate checks params: unknown parameters, missing required ones, and the
// service's Schema. Every error names its field.
func (s *ServiceDefinition) Validate(params map[string]any) []FieldError {
	var errs []FieldError
	for k := range params {
		if _, ok := s.Field(k); !ok {
			msg := "is not a parameter of " + s.Name
			names := make([]string, len(s.Fields))
			for i, f := range s.Fields {
				names[i] = f.Name
			}
			if c := Closest(k, names); c != "" {
				msg += " (did you mean " + c + "?)"
			}
			errs = append(errs, FieldError{Field: k, Message: msg})
		}
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return errs
	}
	for _, f := range s.Fields {
		if _, ok := params[f.Name]; !ok && f.Required {
			errs = append(errs, FieldError{Field: f.Name, Message: "is required"})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if s.Schema != nil {
		return s.Schema.Validate(params)
	}
	return nil
}
