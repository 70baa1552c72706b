package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
)

// configChecker checks a config file's YAML against the shape of Config
// before it is decoded, so that each unknown key and wrong type is reported
// with its line, column and key path, the way catalog validate reports
// catalog problems.
type configChecker struct {
	file     string
	problems catalogload.Problems
}

func (c *configChecker) report(n *yaml.Node, path, format string, args ...any) {
	c.problems = append(c.problems, catalogload.Problem{
		File: c.file, Line: n.Line, Column: n.Column, Field: path, Message: fmt.Sprintf(format, args...),
	})
}

// yamlLine finds the line number yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// checkConfigYAML parses data and checks it against the config's shape. It
// returns the top-level keys the file sets, and every problem found.
func checkConfigYAML(file string, data []byte) (map[string]bool, catalogload.Problems) {
	c := &configChecker{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p := catalogload.Problem{File: file, Message: "invalid YAML: " + err.Error()}
		if m := yamlLine.FindStringSubmatch(p.Message[len("invalid YAML: "):]); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = "invalid YAML: " + strings.TrimPrefix(err.Error(), m[0])
		}
		return nil, catalogload.Problems{p}
	}
	present := map[string]bool{}
	if len(doc.Content) == 0 {
		return present, nil // an empty file: every default
	}
	top := resolve(doc.Content[0])
	if isNullNode(top) {
		return present, nil
	}
	if top.Kind != yaml.MappingNode {
		c.report(top, "", "the config must be a mapping of sections such as teams and environments")
		return nil, c.problems
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		present[top.Content[i].Value] = true
	}
	c.check(top, configShape(), "")
	return present, c.problems
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNullNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// check reports where n does not have shape s. A null value is always
// allowed: it leaves the key at its default.
func (c *configChecker) check(n *yaml.Node, s *shape, path string) {
	n = resolve(n)
	if isNullNode(n) {
		return
	}
	switch s.kind {
	case kindObject, kindMap:
		if n.Kind != yaml.MappingNode {
			what := "a mapping of names to settings"
			if s.kind == kindObject {
				what = "a mapping with keys " + strings.Join(s.keys(), ", ")
			}
			c.report(n, path, "must be %s", what)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolve(n.Content[i]), n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.report(k, path, "keys must be plain names")
				continue
			}
			p := joinPath(path, k.Value)
			if s.kind == kindMap {
				c.check(v, s.elem, p)
				continue
			}
			f, ok := s.lookup(k.Value)
			if !ok {
				c.unknownKey(k, p, s.keys())
				continue
			}
			c.check(v, f.shape, p)
		}
	case kindList:
		if n.Kind != yaml.SequenceNode {
			c.report(n, path, "must be a list")
			return
		}
		for i, item := range n.Content {
			c.check(item, s.elem, fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		c.checkScalar(n, s.kind, path)
	}
}

// unknownKey reports key k, suggesting the closest known key.
func (c *configChecker) unknownKey(k *yaml.Node, path string, known []string) {
	if near := platform.Closest(k.Value, known); near != "" {
		c.report(k, path, "unknown key (did you mean %s?)", near)
		return
	}
	c.report(k, path, "unknown key; known keys here: %s", strings.Join(known, ", "))
}

// checkScalar reports where n is not the scalar kind wants.
func (c *configChecker) checkScalar(n *yaml.Node, kind shapeKind, path string) {
	tag := ""
	if n.Kind == yaml.ScalarNode {
		tag = n.ShortTag()
	}
	switch kind {
	case kindString:
		switch {
		case tag == "!!str":
		case tag != "":
			c.report(n, path, "must be a string; quote it (%q)", n.Value)
		default:
			c.report(n, path, "must be a string")
		}
	case kindInt:
		if tag != "!!int" {
			c.report(n, path, "must be a whole number")
		}
	case kindBool:
		if tag != "!!bool" {
			c.report(n, path, "must be true or false")
		}
	case kindInterval:
		if (tag == "!!int" || tag == "!!str") && isZero(n.Value) {
			return
		}
		c.checkScalar(n, kindDuration, path)
	case kindDuration:
		if tag != "!!str" {
			c.report(n, path, "must be a duration such as \"30m\", \"2h\" or \"7d\"")
		} else if _, err := catalogload.ParseDuration(n.Value); err != nil {
			c.report(n, path, "%v", err)
		}
	}
}

// isZero reports whether v is a zero interval: 0, "0" or "0s".
func isZero(v string) bool {
	switch strings.TrimSpace(v) {
	case "0", "0s":
		return true
	}
	return false
}
