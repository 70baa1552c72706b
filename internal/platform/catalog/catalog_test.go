package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/platform"
)

var knownDrivers = []string{"exec", "gitops", "kubernetes", "postgres", "webhook"}

func i64(n int64) *int64 { return &n }

func TestShippedCatalogValidates(t *testing.T) {
	t.Parallel()
	if problems := Validate(defaultcatalog.FS, knownDrivers); len(problems) > 0 {
		t.Fatalf("Validate(catalog.FS) = %v, want no problems", problems)
	}
}

func TestShippedCatalogServices(t *testing.T) {
	t.Parallel()
	cat, err := Load(defaultcatalog.FS)
	if err != nil {
		t.Fatalf("Load(catalog.FS) error: %v", err)
	}
	tests := []struct {
		name         string
		typ          string
		version      string
		dependencies []string
		driver       string
		fields       []platform.Field
		// required are values of the required parameters that have no
		// default.
		required map[string]any
	}{
		{
			name: "web-application", typ: "compute", driver: "kubernetes",
			required: map[string]any{"image": "ghcr.io/acme/orders:1.4.2"},
			fields: []platform.Field{
				{Name: "image", Title: "Container image", Description: "The image to run, e.g. ghcr.io/acme/orders:1.4.2 (a tag or digest)", Kind: platform.KindString, MinLength: 3, MaxLength: 255, Pattern: "^[a-z0-9]+([._/:@-][a-zA-Z0-9_]+)*$", Examples: []string{"ghcr.io/acme/orders:1.4.2", "nginx:1.27"}, Required: true},
				{Name: "replicas", Title: "Replicas", Kind: platform.KindInteger, Min: i64(1), Max: i64(10), Default: int64(2)},
				{Name: "cpu", Title: "CPU per replica", Kind: platform.KindEnum, Options: []string{"250m", "500m", "1000m", "2000m"}, Default: "500m"},
				{Name: "memory", Title: "Memory per replica", Kind: platform.KindEnum, Options: []string{"256Mi", "512Mi", "1Gi", "2Gi", "4Gi"}, Default: "512Mi"},
			},
		},
		{
			name: "postgresql-database", typ: "database", version: "15", driver: "postgres",
			fields: []platform.Field{
				{Name: "size", Title: "Size", Kind: platform.KindEnum, Options: []string{"small", "medium", "large"}, Default: "small"},
				{Name: "high_availability", Title: "High availability", Kind: platform.KindBoolean, Default: false},
				{Name: "backup_retention_days", Title: "Backup retention (days)", Kind: platform.KindInteger, Min: i64(1), Max: i64(35), Default: int64(7)},
			},
		},
		{
			name: "api-gateway", typ: "networking", dependencies: []string{"web-application"}, driver: "kubernetes",
			required: map[string]any{"upstream": "orders-api"},
			fields: []platform.Field{
				{Name: "upstream", Title: "Upstream", Kind: platform.KindString, MaxLength: 63, Pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", Examples: []string{"orders-web"}, Required: true},
				{Name: "rate_limit", Title: "Rate limit", Kind: platform.KindInteger, Min: i64(1), Max: i64(100000), Default: int64(1000)},
				{Name: "authentication", Title: "Authentication", Kind: platform.KindEnum, Options: []string{"none", "api_key", "oauth2", "oidc"}, Default: "oauth2"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := cat.Lookup(tt.name)
			if err != nil {
				t.Fatalf("Lookup(%q) error: %v", tt.name, err)
			}
			if diff := cmp.Diff(tt.fields, s.Fields, cmpopts.IgnoreFields(platform.Field{}, "Description")); diff != "" {
				t.Errorf("%s fields mismatch (-want +got):\n%s", tt.name, diff)
			}
			for _, f := range s.Fields {
				if f.Description == "" {
					t.Errorf("%s.%s has no description", tt.name, f.Name)
				}
				if f.Default == nil {
					if !f.Required {
						t.Errorf("%s.%s has neither a default nor is it required", tt.name, f.Name)
					}
					continue
				}
				// Defaults are typed the way Field.Parse types what people type.
				got, err := f.Parse(platform.FormatValue(f.Default))
				if err != nil || got != f.Default {
					t.Errorf("%s.%s: Parse(%q) = %#v, %v; want the default %#v", tt.name, f.Name, platform.FormatValue(f.Default), got, err, f.Default)
				}
			}
			if s.Type != tt.typ {
				t.Errorf("%s Type = %q, want %q", tt.name, s.Type, tt.typ)
			}
			if tt.version != "" && s.Version != tt.version {
				t.Errorf("%s Version = %q, want %q", tt.name, s.Version, tt.version)
			}
			if diff := cmp.Diff(tt.dependencies, s.Dependencies, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s dependencies mismatch (-want +got):\n%s", tt.name, diff)
			}
			if b, ok := s.Binding("production"); !ok || b.Driver != tt.driver {
				t.Errorf("%s Binding(production) = %+v, %v; want driver %s", tt.name, b, ok, tt.driver)
			}
			for field, v := range map[string]string{"title": s.Title, "description": s.Description, "owner": s.Owner, "tier": s.Tier, "documentation": s.Documentation, "source": s.Source} {
				if v == "" {
					t.Errorf("%s has no %s", tt.name, field)
				}
			}
			if s.Schema == nil {
				t.Fatalf("%s has no schema", tt.name)
			}
			if errs := s.Validate(s.Defaults(tt.required)); len(errs) > 0 {
				t.Errorf("%s rejects its own defaults: %v", tt.name, errs)
			}
		})
	}
	gw, _ := cat.Lookup("api-gateway")
	if f, _ := gw.Field("rate_limit"); !strings.Contains(f.Description, "requests per minute") {
		t.Errorf("api-gateway rate_limit description = %q, want it to say requests per minute", f.Description)
	}
}

// badFixtures are the catalogs under testdata/bad, one per kind of
// problem, with the problems Validate must report.
var badFixtures = []struct {
	dir  string
	want []string
}{
	{"syntax", []string{
		"broken.yaml: invalid YAML: line 5: mapping values are not allowed in this context",
		`twice.yaml: invalid YAML: line 2: key "name" already set in map`,
	}},
	{"empty", []string{"blank.yaml: the file is empty"}},
	{"no-files", []string{"no service definitions (*.yaml) found"}},
	{"unknown-key", []string{
		"cache.yaml: owners: unknown key (did you mean owner?)",
		"cache.yaml: provisoner: unknown key (did you mean provisioner?)",
	}},
	{"bad-name", []string{
		`db.yaml: name: "Postgres_DB" must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (like orders-db)`,
	}},
	{"required-keys", []string{
		`thing.yaml: title: "A Title Much Longer Than Slack Allows" is 37 characters; a Slack modal title allows at most 24`,
		"thing.yaml: description: is required",
		"thing.yaml: type: is required",
		`thing.yaml: version: must be a string; quote it (version: "15")`,
		"thing.yaml: owner: is required",
		`thing.yaml: documentation: "wiki/thing" is not an http(s) URL`,
		`thing.yaml: ttl: "1 week" is not a duration such as 168h or 7d`,
		"thing.yaml: approval.who: unknown key (approval has only required)",
		"thing.yaml: approval.required: must be a whole number of approvals from 0 to 10",
		"thing.yaml: provisioner: is required (for example {driver: postgres})",
	}},
	{"bad-schema", []string{
		`db.yaml: parameters.days.minimum: must be a number (got "one")`,
		"db.yaml: parameters.size.type: must be one of array, boolean, integer, null, number, object, string (did you mean string?)",
	}},
	{"bad-pattern", []string{
		"app.yaml: parameters.image.pattern: must be a valid regex (error parsing regexp: missing closing ]: `[a-z+$`)",
	}},
	{"schema-keywords", []string{
		"db.yaml: parameters.ui:oder: unknown keyword (did you mean ui:order?)",
		"db.yaml: parameters.days.minimun: unknown keyword (did you mean minimum?)",
	}},
	{"unsupported-type", []string{
		"app.yaml: parameters.label.type: is required (string, integer or boolean)",
		`app.yaml: parameters.level.type: must be "string" for an enum (forms send the option as text)`,
		"app.yaml: parameters.level.enum: options must be non-empty strings (not 1, 2, 3)",
		"app.yaml: parameters.ports.type: array cannot be asked in a form (use string, integer, boolean, or a string enum)",
		"app.yaml: parameters.ratio.type: number cannot be asked in a form (use string, integer, boolean, or a string enum)",
	}},
	{"default-enum", []string{
		`postgresql-database.yaml: parameters.high_availability.default: "yes" is not a boolean (true or false)`,
		`postgresql-database.yaml: parameters.size.default: "huge" is not one of small, medium, large`,
	}},
	{"default-bounds", []string{
		`web-application.yaml: parameters.image.default: "nginx:latest" is longer than the maximum length 5`,
		"web-application.yaml: parameters.replicas.default: 11 is more than the maximum 10",
		`web-application.yaml: parameters.tag.default: "latest" does not match the pattern ^v[0-9]+$`,
		"web-application.yaml: parameters.workers: minimum 4 is more than maximum 2",
	}},
	{"ui-order", []string{
		`db.yaml: parameters.Bad-Name: "Bad-Name" must be lowercase letters, digits and underscores, starting with a letter, at most 32 characters`,
		`db.yaml: parameters.name: "name" is asked by every form; choose another parameter name`,
		`db.yaml: parameters.required: "version" is not a property`,
		`db.yaml: parameters.ui:order: "sise" is not a property (did you mean size?)`,
		`db.yaml: parameters.ui:order: "size" is listed twice`,
	}},
	{"slack-limits", []string{
		"big.yaml: parameters.properties: has 91 parameters; a form holds at most 90",
		`big.yaml: parameters.p0.enum: option "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" is longer than the 75 characters a Slack option shows`,
		"big.yaml: parameters.region.enum: has 101 options; a Slack select allows at most 100",
	}},
	{"unknown-driver", []string{
		`app.yaml: provisioner[0].driver: unknown driver "kubernets" (did you mean kubernetes?); known drivers: exec, gitops, kubernetes, postgres, webhook`,
		`app.yaml: provisioner[1].driver: unknown driver "helm"; known drivers: exec, gitops, kubernetes, postgres, webhook`,
	}},
	{"bindings", []string{
		`app.yaml: provisioner[1].environments: "staging" is already bound to driver kubernetes by provisioner[0]`,
		"app.yaml: provisioner[3]: a second binding without environments is ambiguous: provisioner[2] already applies to every environment not listed",
		"app.yaml: provisioner[4].environment: unknown key (did you mean environments?)",
	}},
	{"duplicate", []string{`b.yaml: name: service "cache" is already defined in a.yaml`}},
	{"unknown-dependency", []string{
		`gateway.yaml: dependencies: unknown service "web-app" (did you mean web-application?)`,
		"gateway.yaml: dependencies: gateway depends on itself",
	}},
	{"cycle", []string{"a.yaml: dependencies: dependency cycle: a → b → c → a"}},
	{"immutable", []string{
		"db.yaml: parameters.immutable: unknown keyword",
		"db.yaml: parameters.size.immutabel: unknown keyword (did you mean immutable?)",
		`db.yaml: parameters.region.immutable: must be true or false (not "yes")`,
	}},
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	for _, tt := range badFixtures {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			problems := Validate(os.DirFS(filepath.Join("testdata", "bad", tt.dir)), knownDrivers)
			got := make([]string, len(problems))
			for i, p := range problems {
				got[i] = p.String()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate(testdata/bad/%s) mismatch (-want +got):\n%s", tt.dir, diff)
			}
		})
	}
}

func TestEveryBadFixtureIsTested(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/bad/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("Glob(testdata/bad/*) = %v, %v", dirs, err)
	}
	tested := map[string]bool{}
	for _, f := range badFixtures {
		tested[f.dir] = true
	}
	for _, dir := range dirs {
		if !tested[filepath.Base(dir)] {
			t.Errorf("%s has no entry in badFixtures", dir)
		}
	}
}

func TestLoadReturnsAllProblems(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "bad", "required-keys")
	_, err := LoadDir(dir)
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("LoadDir(%s) error = %v, want Problems", dir, err)
	}
	// Load does not know the drivers; every other problem is the same.
	if want := Validate(os.DirFS(dir), nil); !cmp.Equal([]Problem(problems), want) {
		t.Errorf("LoadDir problems = %v, want %v", problems, want)
	}
	if !strings.HasPrefix(err.Error(), "10 problems:\n  thing.yaml: title: ") {
		t.Errorf("LoadDir error text = %q, want it to list the problems", err.Error())
	}
}

func TestLoadDirMissing(t *testing.T) {
	t.Parallel()
	if _, err := LoadDir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("LoadDir(missing directory) succeeded, want an error")
	}
}

func TestUnknownDriversNotCheckedByLoad(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"x.yaml": {Data: []byte("name: x\ntitle: X\ndescription: d\ntype: t\nowner: o\nprovisioner: {driver: something-new}\n")}}
	if _, err := Load(fsys); err != nil {
		t.Errorf("Load with an unlisted driver: %v, want success (drivers are checked by Validate)", err)
	}
	if got := Validate(fsys, knownDrivers); len(got) != 1 || got[0].Field != "provisioner.driver" {
		t.Errorf("Validate with an unknown driver = %v, want one provisioner.driver problem", got)
	}
}

func TestLoadEveryFeature(t *testing.T) {
	t.Parallel()
	cat, err := LoadDir(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatalf("LoadDir(testdata/good): %v", err)
	}
	if diff := cmp.Diff([]string{"message-queue", "web-application"}, cat.Names()); diff != "" {
		t.Errorf("Names mismatch (-want +got):\n%s", diff)
	}
	got, _ := cat.Lookup("message-queue")
	want := &platform.ServiceDefinition{
		Name:          "message-queue",
		Title:         "Message Queue",
		Description:   "RabbitMQ virtual host with a user and a dead-letter exchange.",
		Type:          "messaging",
		Version:       "3.13",
		Owner:         "platform",
		Tier:          "standard",
		Documentation: "https://wiki.example.com/platform/services/message-queue",
		Dependencies:  []string{"web-application"},
		Fields: []platform.Field{
			// ui:order first, then the rest by name.
			{Name: "queue_name", Title: "Queue name", Description: "Name of the main queue", Kind: platform.KindString, MinLength: 3, MaxLength: 40, Pattern: "^[a-z][a-z0-9.-]*$", Required: true},
			{Name: "durable", Title: "Durable", Kind: platform.KindBoolean, Default: true},
			{Name: "flavour", Title: "Queue type", Kind: platform.KindEnum, Options: []string{"classic", "quorum", "stream"}, Default: "quorum", Immutable: true},
			{Name: "max_length", Kind: platform.KindInteger, Min: i64(1), Max: i64(999999), Default: int64(10000)},
			{Name: "x_note", Kind: platform.KindString},
		},
		Provisioners: []platform.Binding{
			{Driver: "exec", Environments: []string{"development"}, Settings: map[string]any{"command": []any{"./mq.sh"}, "retries": int64(3), "ratio": 0.5}},
			{Driver: "webhook"},
		},
		Outputs:   []string{"amqp_url", "vhost"},
		TTL:       7 * 24 * time.Hour,
		Approvals: 2,
		Source:    "message-queue.yaml",
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(platform.ServiceDefinition{}, "Schema")); diff != "" {
		t.Errorf("message-queue mismatch (-want +got):\n%s", diff)
	}
	if b, _ := got.Binding("production"); b.Driver != "webhook" {
		t.Errorf("Binding(production) = %q, want the catch-all webhook", b.Driver)
	}
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Field: "parameters.size.default", Message: "bad"}, "a.yaml: parameters.size.default: bad"},
		{Problem{File: "a.yaml", Message: "the file is empty"}, "a.yaml: the file is empty"},
		{Problem{Message: "no service definitions (*.yaml) found"}, "no service definitions (*.yaml) found"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"168h", 168 * time.Hour, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"0s", 0, true},
		{"-1h", 0, true},
		{"1 week", 0, true},
		{"d", 0, true},
		{"99999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
