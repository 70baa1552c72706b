package catalog

import (
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/idpbot/idpbot/internal/platform"
)

// BindingCheck checks the settings of a binding to one driver, given the
// service it belongs to. Each problem's Field is relative to the binding
// ("settings.manifests[0].template") and its Line, when not zero, is the
// line within that field's value; File is filled in by the caller.
type BindingCheck func(s *platform.ServiceDefinition, b platform.Binding) []Problem

// checkBindings runs the driver checks on s's bindings and reports their
// problems with the binding's path and the line in the file.
func (d *fileDecoder) checkBindings(s *platform.ServiceDefinition, data []byte, checks map[string]BindingCheck) {
	if len(checks) == 0 || len(d.bindingPaths) != len(s.Provisioners) {
		return
	}
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(data, &root); err != nil {
		root = yamlv3.Node{}
	}
	for i, b := range s.Provisioners {
		check, ok := checks[b.Driver]
		if !ok {
			continue
		}
		for _, p := range check(s, b) {
			field := d.bindingPaths[i] + "." + p.Field
			line := 0
			if n := nodeAt(&root, field); n != nil {
				line = n.Line
				if p.Line > 0 {
					line += p.Line - 1
					if n.Style&(yamlv3.LiteralStyle|yamlv3.FoldedStyle) != 0 {
						line++ // the text starts below the | indicator
					}
				}
			}
			d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: field, Message: p.Message})
		}
	}
}

// nodeAt finds the YAML node at a dotted field path with [i] indexes
// ("provisioner[1].settings.manifests[0].template"); nil if absent.
func nodeAt(root *yamlv3.Node, path string) *yamlv3.Node {
	n := root
	if n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			n = child(n, key)
		}
		for n != nil && rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yamlv3.SequenceNode || i >= len(n.Content) {
				return nil
			}
			n, rest = n.Content[i], strings.TrimPrefix(after, "[")
		}
		if n == nil {
			return nil
		}
	}
	return n
}

func child(n *yamlv3.Node, key string) *yamlv3.Node {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
