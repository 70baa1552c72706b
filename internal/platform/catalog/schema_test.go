package catalog

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/platform"
)

func TestSchemaValidate(t *testing.T) {
	t.Parallel()
	shipped, err := Load(defaultcatalog.FS)
	if err != nil {
		t.Fatalf("Load(catalog.FS): %v", err)
	}
	good, err := LoadDir(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatalf("LoadDir(testdata/good): %v", err)
	}
	tests := []struct {
		name    string
		cat     *platform.Catalog
		service string
		params  map[string]any
		want    []platform.FieldError
	}{
		{"defaults", shipped, "web-application", map[string]any{"replicas": int64(2), "cpu": "500m", "memory": "512Mi"}, nil},
		{"whole float from JSON", shipped, "web-application", map[string]any{"replicas": float64(3)}, nil},
		{"go int", shipped, "web-application", map[string]any{"replicas": 4}, nil},
		{"above maximum", shipped, "web-application", map[string]any{"replicas": int64(11)},
			[]platform.FieldError{{Field: "replicas", Message: "must be at most 10 (got 11)"}}},
		{"below minimum", shipped, "postgresql-database", map[string]any{"backup_retention_days": int64(0)},
			[]platform.FieldError{{Field: "backup_retention_days", Message: "must be at least 1 (got 0)"}}},
		{"wrong enum", shipped, "postgresql-database", map[string]any{"size": "xl"},
			[]platform.FieldError{{Field: "size", Message: "must be one of small, medium, large"}}},
		{"enum typo", shipped, "web-application", map[string]any{"memory": "1G"},
			[]platform.FieldError{{Field: "memory", Message: "must be one of 256Mi, 512Mi, 1Gi, 2Gi, 4Gi (did you mean 1Gi?)"}}},
		{"text for integer", shipped, "web-application", map[string]any{"replicas": "two"},
			[]platform.FieldError{{Field: "replicas", Message: `must be a whole number (got "two")`}}},
		{"fraction for integer", shipped, "web-application", map[string]any{"replicas": 2.5},
			[]platform.FieldError{{Field: "replicas", Message: "must be a whole number (got 2.5)"}}},
		{"text for boolean", shipped, "postgresql-database", map[string]any{"high_availability": "yes"},
			[]platform.FieldError{{Field: "high_availability", Message: `must be true or false (got "yes")`}}},
		{"number for enum", shipped, "api-gateway", map[string]any{"upstream": "orders-api", "authentication": int64(2)},
			[]platform.FieldError{{Field: "authentication", Message: "must be text (got 2)"}}},
		{"unknown parameter", shipped, "web-application", map[string]any{"replica": int64(2)},
			[]platform.FieldError{{Field: "replica", Message: "is not a parameter of web-application (did you mean replicas?)"}}},
		{"several, sorted by field", shipped, "web-application", map[string]any{"replicas": int64(0), "cpu": "4", "memory": "512Mi"},
			[]platform.FieldError{{Field: "cpu", Message: "must be one of 250m, 500m, 1000m, 2000m"}, {Field: "replicas", Message: "must be at least 1 (got 0)"}}},
		{"required missing", good, "message-queue", map[string]any{"durable": true},
			[]platform.FieldError{{Field: "queue_name", Message: "is required"}}},
		{"too short and bad pattern", good, "message-queue", map[string]any{"queue_name": "Q"},
			[]platform.FieldError{{Field: "queue_name", Message: "must be at least 3 characters (got 1)"}, {Field: "queue_name", Message: "must match the pattern ^[a-z][a-z0-9.-]*$"}}},
		{"too long", good, "message-queue", map[string]any{"queue_name": strings.Repeat("q", 41)},
			[]platform.FieldError{{Field: "queue_name", Message: "must be at most 40 characters (got 41)"}}},
		{"exclusive bound", good, "message-queue", map[string]any{"queue_name": "orders", "max_length": int64(0)},
			[]platform.FieldError{{Field: "max_length", Message: "must be more than 0 (got 0)"}}},
		{"enum through $ref", good, "message-queue", map[string]any{"queue_name": "orders", "flavour": "fast"},
			[]platform.FieldError{{Field: "flavour", Message: "must be one of classic, quorum, stream"}}},
		{"unsupported Go type", good, "message-queue", map[string]any{"queue_name": struct{}{}},
			[]platform.FieldError{{Field: "queue_name", Message: "has a value of an unsupported type (struct {})"}}},
		{"image missing", shipped, "web-application", map[string]any{"image": nil},
			[]platform.FieldError{{Field: "image", Message: "is required"}}},
		{"image with a space", shipped, "web-application", map[string]any{"image": "nginx latest"},
			[]platform.FieldError{{Field: "image", Message: "must look like ghcr.io/acme/orders:1.4.2 or nginx:1.27"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, err := tt.cat.Lookup(tt.service)
			if err != nil {
				t.Fatal(err)
			}
			params := tt.params
			if tt.service == "web-application" {
				// image is required: cases about other fields give one.
				params = map[string]any{"image": "ghcr.io/acme/orders:1.4.2"}
				for k, v := range tt.params {
					if v == nil {
						delete(params, k)
						continue
					}
					params[k] = v
				}
			}
			got := svc.Schema.Validate(params)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s Schema.Validate(%v) mismatch (-want +got):\n%s", tt.service, tt.params, diff)
			}
		})
	}
}

// The engine validates through ServiceDefinition.Validate, which consults
// the schema after its own checks: a bound violated there names the field.
func TestServiceValidateUsesSchema(t *testing.T) {
	t.Parallel()
	cat, err := Load(defaultcatalog.FS)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := cat.Lookup("postgresql-database")
	got := svc.Validate(svc.Defaults(map[string]any{"backup_retention_days": int64(36)}))
	want := []platform.FieldError{{Field: "backup_retention_days", Message: "must be at most 35 (got 36)"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate mismatch (-want +got):\n%s", diff)
	}
}

func BenchmarkSchemaValidate(b *testing.B) {
	cat, err := Load(defaultcatalog.FS)
	if err != nil {
		b.Fatal(err)
	}
	svc, _ := cat.Lookup("postgresql-database")
	params := svc.Defaults(nil)
	b.ReportAllocs()
	for b.Loop() {
		if errs := svc.Schema.Validate(params); errs != nil {
			b.Fatal(errs)
		}
	}
}
