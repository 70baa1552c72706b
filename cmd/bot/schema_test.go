package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/policy"
)

var update = flag.Bool("update", false, "rewrite deploy/schema/*.schema.json from the Go types")

// schemaDir is where the editor schemas live.
const schemaDir = "../../deploy/schema"

// TestSchemasUpToDate regenerates the editor schemas from the Go types and
// their doc comments, and fails when the files differ (go generate
// ./cmd/bot, or go test ./cmd/bot -run TestSchemasUpToDate -update, rewrites
// them).
func TestSchemasUpToDate(t *testing.T) {
	t.Parallel()
	docs := goDocs(t)
	for name, schema := range map[string]obj{
		"config.schema.json":  configSchema(docs),
		"catalog.schema.json": catalogSchema(),
	} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(schema); err != nil {
			t.Fatal(err)
		}
		got := buf.Bytes()
		path := filepath.Join(schemaDir, name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go generate ./cmd/bot)", err)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("%s is out of date: run go generate ./cmd/bot (-file +generated):\n%s", path, cmp.Diff(string(want), string(got)))
		}
	}
}

// TestConfigSchemaCoversEveryKey: every key of the Go types is a property of
// the schema with a description, and the schema has no key the types lack.
func TestConfigSchemaCoversEveryKey(t *testing.T) {
	t.Parallel()
	docs := goDocs(t)
	var fromTypes []string
	walkShape(configShape(), "", func(path string, f field) {
		fromTypes = append(fromTypes, path)
		if docs[f.doc] == "" {
			t.Errorf("%s: no doc comment on %s; the schema description comes from it", path, f.doc)
		}
	})
	raw, err := json.Marshal(configSchema(docs))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var fromSchema []string
	schemaKeys(schema, "", &fromSchema)
	slices.Sort(fromTypes)
	slices.Sort(fromSchema)
	if diff := cmp.Diff(fromTypes, fromSchema); diff != "" {
		t.Errorf("config schema keys mismatch (-Go types +schema):\n%s", diff)
	}
}

// schemaKeys lists the key paths of a generated schema, the way walkShape
// names them.
func schemaKeys(s map[string]any, path string, out *[]string) {
	if props, ok := s["properties"].(map[string]any); ok {
		for _, k := range slices.Sorted(maps.Keys(props)) {
			p := joinPath(path, k)
			*out = append(*out, p)
			schemaKeys(props[k].(map[string]any), p, out)
		}
	}
	if elem, ok := s["additionalProperties"].(map[string]any); ok {
		schemaKeys(elem, path+".*", out)
	}
	if elem, ok := s["items"].(map[string]any); ok {
		schemaKeys(elem, path+"[]", out)
	}
}

// walkShape calls fn for each key of s, with its path: map keys are "*"
// and list items "[]".
func walkShape(s *shape, path string, fn func(path string, f field)) {
	switch s.kind {
	case kindObject:
		for _, f := range s.fields {
			p := joinPath(path, f.key)
			fn(p, f)
			walkShape(f.shape, p, fn)
		}
	case kindMap:
		walkShape(s.elem, path+".*", fn)
	case kindList:
		walkShape(s.elem, path+"[]", fn)
	}
}

// goDocs reads the doc comments of the config's Go types: field doc names
// (see field.doc) to one-line text.
func goDocs(t *testing.T) map[string]string {
	t.Helper()
	docs := map[string]string{}
	for _, src := range []struct {
		dir     string
		pkgPath string
	}{
		{".", reflect.TypeFor[Config]().PkgPath()},
		{"../../internal/drivers/kubernetes", reflect.TypeFor[kubernetes.Target]().PkgPath()},
		{"../../internal/platform/policy", reflect.TypeFor[policy.Rule]().PkgPath()},
	} {
		files, err := filepath.Glob(filepath.Join(src.dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range file.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, spec := range gd.Specs {
					if ts, ok := spec.(*ast.TypeSpec); ok {
						fieldDocs(docs, src.pkgPath+"."+ts.Name.Name, ts.Type)
					}
				}
			}
		}
	}
	// Rule's match takes the same lists as its top-level keys.
	rule := reflect.TypeFor[policy.Rule]().PkgPath() + ".Rule"
	docs[rule+".Match"] = "Services and environments the rule applies to, as an alternative to the top-level services and environments keys."
	return docs
}

// fieldDocs records the comments of the fields of a struct type expression,
// anonymous structs included.
func fieldDocs(docs map[string]string, prefix string, expr ast.Expr) {
	if star, ok := expr.(*ast.StarExpr); ok {
		expr = star.X
	}
	st, ok := expr.(*ast.StructType)
	if !ok {
		return
	}
	for _, f := range st.Fields.List {
		text := f.Doc.Text()
		if text == "" {
			text = f.Comment.Text()
		}
		for _, name := range f.Names {
			docs[prefix+"."+name.Name] = strings.Join(strings.Fields(text), " ")
			fieldDocs(docs, prefix+"."+name.Name, f.Type)
		}
	}
}

// TestCatalogSchemaKeys: the catalog schema has exactly the keys the
// catalog loader accepts, for a service and for a provisioner binding.
func TestCatalogSchemaKeys(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(catalogSchema())
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
		Defs       struct {
			Binding struct {
				Properties map[string]any `json:"properties"`
			} `json:"binding"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		what   string
		loader []string
		schema map[string]any
	}{
		{"service", catalogload.ServiceKeys(), schema.Properties},
		{"binding (add a new driver's keys to driverSettings in schemagen_test.go)", catalogload.BindingKeys(), schema.Defs.Binding.Properties},
	} {
		want := slices.Sorted(slices.Values(tt.loader))
		if diff := cmp.Diff(want, slices.Sorted(maps.Keys(tt.schema))); diff != "" {
			t.Errorf("catalog schema %s keys mismatch (-loader +schema):\n%s", tt.what, diff)
		}
	}
}

// editorSchemas are the compiled files of deploy/schema.
type editorSchemas map[string]*jsonschema.Schema

// compileSchemas compiles the schema files as an editor would load them.
func compileSchemas(t *testing.T) editorSchemas {
	t.Helper()
	out := editorSchemas{}
	for _, name := range []string{"config.schema.json", "catalog.schema.json"} {
		f, err := os.Open(filepath.Join(schemaDir, name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		loc := "file:///schema/" + name
		if err := c.AddResource(loc, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out[name], err = c.Compile(loc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return out
}

// validateYAML validates a YAML document against the schema named.
func (s editorSchemas) validateYAML(name string, data []byte) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return s[name].Validate(v)
}

// TestSchemasRefuse: the schemas catch what the loaders refuse, so an
// editor shows it before the bot does.
func TestSchemasRefuse(t *testing.T) {
	t.Parallel()
	schemas := compileSchemas(t)
	const entry = "name: x\ntitle: X\ndescription: d\ntype: t\nowner: o\n"
	for _, tt := range []struct{ schema, yaml string }{
		{"config.schema.json", "teams: {a: {membres: []}}\n"},
		{"config.schema.json", "teams: {a: {discord_role: 1134567890}}\n"},
		{"config.schema.json", "environments: {dev: {ttl: 7 days}}\n"},
		{"config.schema.json", "drivers: {kubernetes: {targets: {prod: {in_clustr: true}}}}\n"},
		{"config.schema.json", "policies: [{name: x, expr: 'true', match: {service: [a]}}]\n"},
		{"catalog.schema.json", entry + "provisioner: {driver: postgres, setings: {}}\n"},
		{"catalog.schema.json", entry + "provisioner: {driver: kubernetes, settings: {prot: 80}}\n"},
		{"catalog.schema.json", entry + "provisioner: [{driver: webhook, settings: {url: 1}}]\n"},
		{"catalog.schema.json", entry + "provisioner: {driver: exec}\nttl: soon\n"},
		{"catalog.schema.json", entry + "provisioner: {driver: exec}\nparameters: {type: 7}\n"},
		{"catalog.schema.json", "title: X\nprovisioner: {driver: exec}\n"},
	} {
		if err := schemas.validateYAML(tt.schema, []byte(tt.yaml)); err == nil {
			t.Errorf("%s accepts %q", tt.schema, tt.yaml)
		}
	}
	// An unknown driver's settings are open; known drivers' are checked.
	for _, ok := range []string{
		entry + "provisioner: {driver: manifests-or-other, settings: {anything: [1, 2]}}\n",
		entry + "provisioner: {driver: exec, settings: {module: db}}\n",
		entry + "provisioner: {driver: kubernetes, settings: {port: 8080, host: a.example.com}}\nttl: 7d\n",
	} {
		if err := schemas.validateYAML("catalog.schema.json", []byte(ok)); err != nil {
			t.Errorf("catalog schema refuses %q: %v", ok, err)
		}
	}
}
