package main

//go:generate go test . -run TestSchemasUpToDate -update

import (
	"reflect"
	"strings"

	"github.com/idpbot/idpbot/internal/platform/policy"
)

// shapeKind is what a config key holds.
type shapeKind int

const (
	kindObject   shapeKind = iota // a mapping with fixed keys (a Go struct)
	kindMap                       // a mapping of names to one shape
	kindList                      // a sequence of one shape
	kindString                    // a string
	kindInt                       // a whole number
	kindBool                      // true or false
	kindDuration                  // a string such as "90s", "2h" or "7d"
	kindInterval                  // a duration, or 0: off
)

// shape is the form of a config value, read from the Go types of Config:
// the loader checks a file against it, and the schema generator and the
// reference tests walk it, so the three cannot disagree.
type shape struct {
	kind   shapeKind
	fields []field // kindObject, in the order of the Go type
	elem   *shape  // kindMap and kindList
}

// field is one key of an object.
type field struct {
	key   string
	shape *shape
	// doc names the Go field whose comment documents the key: the named
	// type's package path and name, then Go field names, joined by dots.
	doc string
}

// lookup returns the field of an object named key.
func (s *shape) lookup(key string) (field, bool) {
	for _, f := range s.fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// keys returns the keys of an object, in order.
func (s *shape) keys() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.key
	}
	return out
}

var (
	durationType     = reflect.TypeFor[Duration]()
	intervalType     = reflect.TypeFor[Interval]()
	environmentsType = reflect.TypeFor[orderedEnvironments]()
	ruleType         = reflect.TypeFor[policy.Rule]()
)

// configShape is the shape of the config file.
func configShape() *shape { return shapeOf(reflect.TypeFor[Config](), "") }

// shapeOf reads the shape of t; doc is the doc name of an anonymous struct
// type (the field that declares it).
func shapeOf(t reflect.Type, doc string) *shape {
	switch t {
	case durationType:
		return &shape{kind: kindDuration}
	case intervalType:
		return &shape{kind: kindInterval}
	case environmentsType:
		// A mapping kept in file order (the first is the default).
		return &shape{kind: kindMap, elem: shapeOf(reflect.TypeFor[EnvironmentConfig](), "")}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shapeOf(t.Elem(), doc)
	case reflect.Map:
		return &shape{kind: kindMap, elem: shapeOf(t.Elem(), doc)}
	case reflect.Slice:
		return &shape{kind: kindList, elem: shapeOf(t.Elem(), doc)}
	case reflect.String:
		return &shape{kind: kindString}
	case reflect.Int, reflect.Int64:
		return &shape{kind: kindInt}
	case reflect.Bool:
		return &shape{kind: kindBool}
	case reflect.Struct:
		if t.Name() != "" {
			doc = t.PkgPath() + "." + t.Name()
		}
		s := &shape{kind: kindObject}
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			fdoc := doc + "." + f.Name
			s.fields = append(s.fields, field{key: key, shape: shapeOf(f.Type, fdoc), doc: fdoc})
		}
		if t == ruleType {
			// Rule.UnmarshalJSON also takes services and environments
			// under match.
			services, _ := s.lookup("services")
			envs, _ := s.lookup("environments")
			s.fields = append(s.fields, field{key: "match", doc: doc + ".Match",
				shape: &shape{kind: kindObject, fields: []field{services, envs}}})
		}
		return s
	}
	panic("config shape: no shape for Go type " + t.String())
}
