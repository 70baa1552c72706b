package platform_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func TestFieldParse(t *testing.T) {
	t.Parallel()
	size := platform.Field{Name: "size", Kind: platform.KindEnum, Options: []string{"small", "medium", "large"}}
	ha := platform.Field{Name: "high_availability", Kind: platform.KindBoolean}
	days := platform.Field{Name: "backup_retention_days", Kind: platform.KindInteger, Min: platformtest.Int(1), Max: platformtest.Int(35)}
	free := platform.Field{Name: "n", Kind: platform.KindInteger}
	label := platform.Field{Name: "label", Kind: platform.KindString, MinLength: 2, MaxLength: 5, Pattern: `^[a-z]+$`}
	image := platform.Field{Name: "image", Kind: platform.KindString, Pattern: `^[a-z0-9]+([._/:@-][a-zA-Z0-9_]+)*$`, Examples: []string{"ghcr.io/acme/orders:1.4.2", "nginx:1.27"}}
	tests := []struct {
		f       platform.Field
		in      string
		want    any
		wantErr string
	}{
		{size, "small", "small", ""},
		{size, "  Large ", "large", ""},
		{size, "gigantic", nil, "must be one of small, medium, large"},
		{size, "smal", nil, "must be one of small, medium, large (did you mean small?)"},
		{size, "", nil, "is required"},
		{size, "small; DROP TABLE", nil, "must be one of small, medium, large"},
		{ha, "true", true, ""},
		{ha, "YES", true, ""},
		{ha, "on", true, ""},
		{ha, "0", false, ""},
		{ha, "no", false, ""},
		{ha, "maybe", nil, "must be true or false"},
		{days, "7", int64(7), ""},
		{days, "1", int64(1), ""},
		{days, "35", int64(35), ""},
		{days, "0", nil, "must be 1–35 (got 0)"},
		{days, "36", nil, "must be 1–35 (got 36)"},
		{days, "-5", nil, "must be 1–35 (got -5)"},
		{days, "7.5", nil, "must be a whole number"},
		{days, "seven", nil, "must be a whole number"},
		{days, "99999999999999999999999", nil, "must be a whole number"},
		{days, "٣", nil, "must be a whole number"},
		{free, "-9223372036854775808", int64(-9223372036854775808), ""},
		{label, "abc", "abc", ""},
		{label, "a", nil, "must be at least 2 characters"},
		{label, "abcdef", nil, "must be at most 5 characters (got 6)"},
		{label, "ab1", nil, "must match ^[a-z]+$"},
		{label, "ééé", nil, "must match ^[a-z]+$"},
		{image, "Nginx latest", nil, "must look like ghcr.io/acme/orders:1.4.2 or nginx:1.27"},
		{label, strings.Repeat("x", 10240), nil, "must be at most 5 characters (got 10240)"},
	}
	for _, tt := range tests {
		got, err := tt.f.Parse(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tt.wantErr || !cmp.Equal(got, tt.want) {
			t.Errorf("%s.Parse(%.30q) = %#v, %q; want %#v, %q", tt.f.Name, tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestFieldConstraint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    platform.Field
		want string
	}{
		{platform.Field{Kind: platform.KindEnum, Options: []string{"a", "b"}}, "one of a, b"},
		{platform.Field{Kind: platform.KindBoolean}, "true or false"},
		{platform.Field{Kind: platform.KindInteger, Min: platformtest.Int(1), Max: platformtest.Int(10)}, "integer 1–10"},
		{platform.Field{Kind: platform.KindInteger, Min: platformtest.Int(1)}, "integer ≥ 1"},
		{platform.Field{Kind: platform.KindInteger, Max: platformtest.Int(10)}, "integer ≤ 10"},
		{platform.Field{Kind: platform.KindInteger}, "integer"},
		{platform.Field{Kind: platform.KindString}, "text"},
		{platform.Field{Kind: platform.KindString, MinLength: 1, MaxLength: 63}, "text, at least 1 characters, at most 63 characters"},
		{platform.Field{Kind: platform.KindString, MaxLength: 63}, "text, at most 63 characters"},
	}
	for _, tt := range tests {
		if got := tt.f.Constraint(); got != tt.want {
			t.Errorf("Constraint(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestFieldLabelAndFormatValue(t *testing.T) {
	t.Parallel()
	if got := (platform.Field{Name: "size", Title: "Size"}).Label(); got != "Size" {
		t.Errorf("Label = %q, want Size", got)
	}
	if got := (platform.Field{Name: "size"}).Label(); got != "size" {
		t.Errorf("Label = %q, want size", got)
	}
	for v, want := range map[any]string{nil: "", "x": "x", int64(7): "7", float64(7): "7", 1.5: "1.5", true: "true"} {
		if got := platform.FormatValue(v); got != want {
			t.Errorf("FormatValue(%#v) = %q, want %q", v, got, want)
		}
	}
}

func TestServiceValidateAndDefaults(t *testing.T) {
	t.Parallel()
	svc, err := platformtest.Catalog(t).Lookup("postgresql-database")
	if err != nil {
		t.Fatal(err)
	}
	got := svc.Defaults(map[string]any{"size": "large"})
	want := map[string]any{"size": "large", "high_availability": false, "backup_retention_days": int64(7)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Defaults mismatch (-want +got):\n%s", diff)
	}
	tests := []struct {
		params map[string]any
		want   []platform.FieldError
	}{
		{want, nil},
		{map[string]any{"sise": "large", "ha": true}, []platform.FieldError{
			{Field: "ha", Message: "is not a parameter of postgresql-database"},
			{Field: "sise", Message: "is not a parameter of postgresql-database (did you mean size?)"},
		}},
		{map[string]any{"backup_retention_days": int64(36)}, []platform.FieldError{{Field: "backup_retention_days", Message: "must be 1–35 (got 36)"}}},
		{map[string]any{"size": "huge", "high_availability": "yes"}, []platform.FieldError{
			{Field: "size", Message: "must be one of small, medium, large (got huge)"},
			{Field: "high_availability", Message: "must be true or false (got yes)"},
		}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, svc.Validate(tt.params)); diff != "" {
			t.Errorf("Validate(%v) mismatch (-want +got):\n%s", tt.params, diff)
		}
	}
	required := &platform.ServiceDefinition{Name: "x", Fields: []platform.Field{{Name: "image", Kind: platform.KindString, Required: true}}}
	if diff := cmp.Diff([]platform.FieldError{{Field: "image", Message: "is required"}}, required.Validate(nil)); diff != "" {
		t.Errorf("Validate(nil) of a required field mismatch (-want +got):\n%s", diff)
	}
}

func TestCatalogLookup(t *testing.T) {
	t.Parallel()
	c := platformtest.Catalog(t)
	if diff := cmp.Diff([]string{"api-gateway", "postgresql-database", "web-application"}, c.Names()); diff != "" {
		t.Errorf("Names mismatch (-want +got):\n%s", diff)
	}
	if s, err := c.Lookup(" PostgreSQL-Database "); err != nil || s.Name != "postgresql-database" {
		t.Errorf("Lookup(mixed case) = %v, %v", s, err)
	}
	tests := []struct{ in, want string }{
		{"postgres", `There is no service "postgres" in the catalog. Did you mean postgresql-database?`},
		{"redis", `There is no service "redis" in the catalog. Available: api-gateway, postgresql-database, web-application.`},
		{strings.Repeat("z", 10000), `There is no service "` + strings.Repeat("z", 64) + `…" in the catalog. Available: api-gateway, postgresql-database, web-application.`},
	}
	for _, tt := range tests {
		_, err := c.Lookup(tt.in)
		if platform.ErrorCode(err) != platform.NotFound || platform.ErrorMessage(err) != tt.want {
			t.Errorf("Lookup(%.20q) = %v (%s), want NotFound %q", tt.in, err, platform.ErrorCode(err), tt.want)
		}
	}
	if diff := cmp.Diff([]string{"compute", "database", "networking"}, c.Types()); diff != "" {
		t.Errorf("Types mismatch (-want +got):\n%s", diff)
	}
	if got := c.ByType("Database"); len(got) != 1 || got[0].Name != "postgresql-database" {
		t.Errorf("ByType(Database) = %v", got)
	}
	if _, err := platform.NewCatalog(platformtest.Services()[0], platformtest.Services()[0]); err == nil {
		t.Error("NewCatalog with a duplicate name succeeded")
	}
}
