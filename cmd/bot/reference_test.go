package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"

	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
)

const exampleConfig = "../../deploy/config.example.yaml"

// commentedYAML finds a commented-out config line: "# " followed by a key
// ("name:") or a list item ("- "). Removing the "# " puts the line at its
// place in the file. Prose comments never start with "word:".
var commentedYAML = regexp.MustCompile(`^(\s*)# (\s*(?:[a-z_][a-z0-9_]*:(?:\s|$)|- ))`)

// uncomment returns the file with its commented-out config lines active.
func uncomment(data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if m := commentedYAML.FindStringSubmatchIndex(l); m != nil {
			lines[i] = l[:m[3]] + l[m[4]:]
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// TestExampleShowsEveryKey: deploy/config.example.yaml shows every key of
// the config's Go types, active or commented out, each with a comment, and
// what it shows (commented-out lines made active) is a valid config.
func TestExampleShowsEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	full := uncomment(data)
	if _, _, err := decodeConfig("config.example.yaml (commented-out lines made active)", full); err != nil {
		t.Fatalf("%v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(full, &doc); err != nil {
		t.Fatal(err)
	}
	// Key paths the example has, and those with a comment, by path and by
	// the Go field they are (a type used twice, such as a kubernetes
	// target, is shown once).
	shown, commented := map[string]bool{}, map[string]bool{}
	collectKeys(doc.Content[0], configShape(), "", shown, commented)
	walkShape(configShape(), "", func(path string, f field) {
		switch {
		case !shown[path] && !shown[f.doc]:
			t.Errorf("config.example.yaml does not show %s", path)
		case !commented[path] && !commented[f.doc]:
			t.Errorf("config.example.yaml shows %s without a comment saying what it is", path)
		}
	})
}

// collectKeys records the key paths of n (named as walkShape names them)
// and which of them carry a comment: on the key's line, above it, or (for
// a key of a flow mapping) on the line of the mapping.
func collectKeys(n *yaml.Node, s *shape, path string, shown, commented map[string]bool) {
	n = resolve(n)
	switch {
	case s.kind == kindList && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			collectKeys(item, s.elem, path+"[]", shown, commented)
		}
	case (s.kind == kindObject || s.kind == kindMap) && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if s.kind == kindMap {
				collectKeys(v, s.elem, path+".*", shown, commented)
				continue
			}
			f, ok := s.lookup(k.Value)
			if !ok {
				continue
			}
			p := joinPath(path, k.Value)
			shown[p], shown[f.doc] = true, true
			if k.HeadComment+k.LineComment+v.LineComment+v.HeadComment != "" || n.Style == yaml.FlowStyle && n.LineComment != "" {
				commented[p], commented[f.doc] = true, true
			}
			collectKeys(v, f.shape, p, shown, commented)
		}
	}
}

// TestShippedFilesHaveSchemas: every shipped config and catalog file
// starts with the yaml-language-server line naming its schema, and is
// valid against that schema.
func TestShippedFilesHaveSchemas(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"../../deploy/config.example.yaml":    "config.schema.json",
		"../../deploy/kubernetes/config.yaml": "config.schema.json",
	}
	for _, pattern := range []string{"../../catalog/*.yaml", "../../deploy/catalog*/*.yaml"} {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			files[m] = "catalog.schema.json"
		}
	}
	schemas := compileSchemas(t)
	for path, schema := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(filepath.Dir(path), filepath.Join(schemaDir, schema))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		if want := "# yaml-language-server: $schema=" + filepath.ToSlash(rel); first != want {
			t.Errorf("%s: first line %q, want %q", path, first, want)
		}
		if err := schemas.validateYAML(schema, data); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestDocSnippets: every ```yaml block of the README and deploy/**/*.md
// parses; config fragments load as a config file and catalog entries
// validate as a catalog, strictly, and both satisfy their schema.
func TestDocSnippets(t *testing.T) {
	t.Parallel()
	docs := []string{"../../README.md"}
	for _, pattern := range []string{"../../deploy/*.md", "../../deploy/*/*.md"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m...)
	}
	configKeys := configShape().keys()
	schemas := compileSchemas(t)
	count := 0
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range yamlBlocks(string(data)) {
			count++
			where := fmt.Sprintf("%s, yaml block %d", doc, i+1)
			var top map[string]any
			if err := yaml.Unmarshal([]byte(block), &top); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			switch {
			case top["provisioner"] != nil:
				fsys := fstest.MapFS{"service.yaml": {Data: []byte(block)}}
				for _, p := range catalogload.Validate(fsys, knownDrivers) {
					t.Errorf("%s: %s", where, p)
				}
				if err := schemas.validateYAML("catalog.schema.json", []byte(block)); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			case len(top) > 0 && allIn(top, configKeys):
				if _, _, err := decodeConfig(where, []byte(block)); err != nil {
					t.Errorf("%v", err)
				}
				if err := schemas.validateYAML("config.schema.json", []byte(block)); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
		}
	}
	if count < 5 {
		t.Errorf("found %d yaml blocks in %v; the docs have more", count, docs)
	}
}

func allIn(m map[string]any, keys []string) bool {
	for k := range m {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

// yamlBlocks returns the contents of the ```yaml fences of a Markdown
// document.
func yamlBlocks(md string) []string {
	var out []string
	var cur *strings.Builder
	for line := range strings.SplitSeq(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```yaml":
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			out = append(out, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}
