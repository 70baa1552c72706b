package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
)

var (
	postgres = &platform.ServiceDefinition{Name: "postgresql-database", Type: "database"}
	webapp   = &platform.ServiceDefinition{Name: "web-application", Type: "compute"}
)

// input is a production postgres request with the catalog's defaults.
func input(env string, params map[string]any) platform.PolicyInput {
	p := map[string]any{"size": "small", "high_availability": false, "backup_retention_days": int64(7)}
	for k, v := range params {
		p[k] = v
	}
	return platform.PolicyInput{
		Service:     postgres,
		Name:        "orders-db",
		Team:        "payments",
		Environment: env,
		Parameters:  p,
		Requester:   platform.Actor{ID: "console:alice"},
		Usage:       3,
		Quota:       5,
		HasQuota:    true,
	}
}

func evaluate(t *testing.T, rules []Rule, in platform.PolicyInput) []platform.Verdict {
	t.Helper()
	s, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	vs, err := s.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return vs
}

func TestDefaultRules(t *testing.T) {
	t.Parallel()
	ha := platform.Verdict{Rule: "production-high-availability", Outcome: platform.Deny, Message: "Production resources must have high_availability enabled", Field: "high_availability"}
	haOK := platform.Verdict{Rule: "production-high-availability", Outcome: platform.Allow, Message: DefaultRules()[0].Description, Field: "high_availability"}
	backups := platform.Verdict{Rule: "production-backups", Outcome: platform.Deny, Message: "Production databases must keep backups (retention of at least 1 day)", Field: "backup_retention_days"}
	backupsOK := platform.Verdict{Rule: "production-backups", Outcome: platform.Allow, Message: DefaultRules()[1].Description, Field: "backup_retention_days"}
	tests := []struct {
		name string
		in   platform.PolicyInput
		want []platform.Verdict
	}{
		{"production postgres without HA", input("production", nil), []platform.Verdict{ha, backupsOK}},
		{"production postgres with HA", input("production", map[string]any{"high_availability": true}), []platform.Verdict{haOK, backupsOK}},
		{"production postgres without backups", input("production", map[string]any{"high_availability": true, "backup_retention_days": int64(0)}), []platform.Verdict{haOK, backups}},
		{"retention decoded from JSON", input("production", map[string]any{"high_availability": true, "backup_retention_days": float64(0)}), []platform.Verdict{haOK, backups}},
		{"backups switched off", input("production", map[string]any{"high_availability": true, "backup_enabled": false}), []platform.Verdict{haOK, backups}},
		{"backups switched on", input("production", map[string]any{"high_availability": true, "backups": true}), []platform.Verdict{haOK, backupsOK}},
		{"development postgres without HA", input("development", nil), nil},
		{"production service without those settings", platform.PolicyInput{Service: webapp, Environment: "production", Parameters: map[string]any{"replicas": int64(2)}}, []platform.Verdict{haOK, backupsOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := evaluate(t, DefaultRules(), tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{Name: "all", Expr: "true"},
		{Name: "postgres", Services: []string{"postgresql-database"}, Expr: "true"},
		{Name: "web", Services: []string{"web-application"}, Expr: "true"},
		{Name: "prod", Environments: []string{"production"}, Expr: "true"},
		{Name: "postgres-staging-prod", Services: []string{"postgresql-database"}, Environments: []string{"staging", "production"}, Expr: "true"},
	}
	tests := []struct {
		service *platform.ServiceDefinition
		env     string
		want    []string
	}{
		{postgres, "production", []string{"all", "postgres", "prod", "postgres-staging-prod"}},
		{postgres, "staging", []string{"all", "postgres", "postgres-staging-prod"}},
		{postgres, "development", []string{"all", "postgres"}},
		{webapp, "production", []string{"all", "web", "prod"}},
		{webapp, "development", []string{"all", "web"}},
	}
	for _, tt := range tests {
		in := input(tt.env, nil)
		in.Service = tt.service
		var got []string
		for _, v := range evaluate(t, rules, in) {
			got = append(got, v.Rule)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("rules matching %s in %s mismatch (-want +got):\n%s", tt.service.Name, tt.env, diff)
		}
	}
}

func TestModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode string
		expr string
		want platform.Outcome
	}{
		{"", "false", platform.Deny},
		{ModeEnforce, "false", platform.Deny},
		{ModeWarn, "false", platform.Warn},
		{ModeAudit, "false", platform.Audit},
		{ModeEnforce, "true", platform.Allow},
		{ModeWarn, "true", platform.Allow},
		{ModeAudit, "true", platform.Allow},
	}
	for _, tt := range tests {
		r := Rule{Name: "r", Description: "about r", Expr: tt.expr, Message: "r failed", Field: "size", Mode: tt.mode}
		got := evaluate(t, []Rule{r}, input("production", nil))
		want := platform.Verdict{Rule: "r", Outcome: tt.want, Message: "r failed", Field: "size"}
		if tt.want == platform.Allow {
			want.Message = "about r"
		}
		if diff := cmp.Diff([]platform.Verdict{want}, got); diff != "" {
			t.Errorf("mode %q expr %s mismatch (-want +got):\n%s", tt.mode, tt.expr, diff)
		}
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		in   func(*platform.PolicyInput)
	}{
		{`service == "postgresql-database" && service_type == "database"`, nil},
		{`name == "orders-db" && team == "payments" && environment == "production"`, nil},
		{`requester == "console:alice"`, nil},
		{`usage == 3 && quota == 5 && usage < quota`, nil},
		{`quota == -1`, func(in *platform.PolicyInput) { in.HasQuota = false }},
		{`params.size == "small" && params.backup_retention_days >= 7 && !params.high_availability`, nil},
		{`params.replicas >= 2 && params.replicas + 1 == 4`, func(in *platform.PolicyInput) { in.Parameters["replicas"] = float64(3) }},
		{`params.replicas == 3`, func(in *platform.PolicyInput) { in.Parameters["replicas"] = 3 }},
		{`params.ratio > 0.4 && params.ratio < 1`, func(in *platform.PolicyInput) { in.Parameters["ratio"] = 0.5 }},
		{`has(params.size) && !has(params.replicas)`, nil},
		{`params.tags.size() == 2 && "b" in params.tags && params.labels.app == "orders" && params.replicas == 2`, func(in *platform.PolicyInput) {
			in.Parameters["tags"] = []any{"a", "b"}
			in.Parameters["labels"] = map[string]any{"app": "orders"}
			in.Parameters["replicas"] = float64(2) // forces a converted copy next to values that cannot be compared
		}},
		{`name.startsWith("orders-") && team.upperAscii() == "PAYMENTS"`, nil},
	}
	for _, tt := range tests {
		in := input("production", nil)
		if tt.in != nil {
			tt.in(&in)
		}
		got := evaluate(t, []Rule{{Name: "r", Expr: tt.expr, Message: "false"}}, in)
		if len(got) != 1 || got[0].Outcome != platform.Allow {
			t.Errorf("Evaluate(%s) = %+v, want allow", tt.expr, got)
		}
	}
}

func TestEvaluationErrorsFailClosed(t *testing.T) {
	t.Parallel()
	// 50^4 = 6.25 million iterations: far past the cost limit.
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 50), ",") + "]"
	huge := list + ".all(a, " + list + ".all(b, " + list + ".all(c, " + list + ".all(d, a + b + c + d > 0))))"
	tests := []struct {
		name string
		expr string
		mode string
		want platform.Outcome
		msg  string
	}{
		{"missing parameter", "params.replicas > 1", "", platform.Deny, "no such key: replicas"},
		{"cost limit", huge, "", platform.Deny, "it exceeded the cost limit of 100000"},
		{"not a bool", "params.size", "", platform.Deny, "it returned string, not a bool"},
		{"division by zero", "usage / (quota - 5) > 0", "", platform.Deny, "division by zero"},
		{"warn rule", "params.replicas > 1", ModeWarn, platform.Warn, "no such key: replicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := evaluate(t, []Rule{{Name: "r", Expr: tt.expr, Mode: tt.mode, Field: "replicas"}}, input("production", nil))
			want := []platform.Verdict{{Rule: "r", Outcome: tt.want, Field: "replicas",
				Message: "Policy r could not be evaluated (" + tt.msg + "); ask the platform team to fix the rule."}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Evaluate(%.60s) mismatch (-want +got):\n%s", tt.expr, diff)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	s, err := Compile([]Rule{{Name: "slow", Expr: "[" + strings.Repeat("1,", 500) + "1].all(x, x == 1)"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if vs, err := s.Evaluate(ctx, input("production", nil)); err == nil {
		t.Errorf("Evaluate with a cancelled context = %+v, nil; want an error", vs)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rules []Rule
		want  []string
	}{
		{[]Rule{{Name: "undeclared", Expr: "replicas > 2"}}, []string{`policy "undeclared": `, "undeclared reference to 'replicas'"}},
		{[]Rule{{Name: "syntax", Expr: "params.size =="}}, []string{`policy "syntax": `, "Syntax error"}},
		{[]Rule{{Name: "not-bool", Expr: "usage + 1"}}, []string{`policy "not-bool": expr returns int, want bool`}},
		{[]Rule{{Name: "wrong-types", Expr: `team > 2`}}, []string{`policy "wrong-types": `, "found no matching overload"}},
		{[]Rule{{Name: "empty"}}, []string{`policy "empty": expr is empty`}},
		{[]Rule{{Name: "mode", Expr: "true", Mode: "block"}}, []string{`policy "mode": mode "block" is not one of enforce, warn, audit`}},
		{[]Rule{{Expr: "true"}}, []string{"policy #1: has no name"}},
		{[]Rule{{Name: "twice", Expr: "true"}, {Name: "twice", Expr: "true"}}, []string{`policy "twice": the name is used by another rule`}},
		// Every invalid rule is reported, not only the first.
		{[]Rule{{Name: "a", Expr: "nope"}, {Name: "ok", Expr: "true"}, {Name: "b", Expr: "1"}}, []string{`policy "a": `, `policy "b": expr returns int, want bool`}},
	}
	for _, tt := range tests {
		s, err := Compile(tt.rules)
		if err == nil {
			t.Errorf("Compile(%+v) = %v, nil; want an error", tt.rules, s)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Compile(%+v) error = %q, want it to contain %q", tt.rules, err, w)
			}
		}
	}
}

func TestCompileDefaults(t *testing.T) {
	t.Parallel()
	s := MustCompile([]Rule{{Name: "r", Expr: "true"}, {Name: "d", Description: "described", Expr: "true", Mode: ModeWarn}})
	want := []Rule{
		{Name: "r", Expr: "true", Message: "The request does not satisfy policy r", Mode: ModeEnforce},
		{Name: "d", Description: "described", Expr: "true", Message: "described", Mode: ModeWarn},
	}
	if diff := cmp.Diff(want, s.Rules()); diff != "" {
		t.Errorf("Rules mismatch (-want +got):\n%s", diff)
	}
}

func TestRuleFromConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		want    Rule
		wantErr string
	}{
		{"match form", `
name: production-high-availability
match: {environments: [production], services: [postgresql-database]}
expr: '!has(params.high_availability) || params.high_availability'
message: Production resources must have high_availability enabled
field: high_availability
mode: enforce
`, Rule{Name: "production-high-availability", Services: []string{"postgresql-database"}, Environments: []string{"production"},
			Expr: "!has(params.high_availability) || params.high_availability", Message: "Production resources must have high_availability enabled",
			Field: "high_availability", Mode: "enforce"}, ""},
		{"flat form", `
name: small-in-dev
services: [postgresql-database]
environments: [development]
expr: params.size == "small"
mode: warn
`, Rule{Name: "small-in-dev", Services: []string{"postgresql-database"}, Environments: []string{"development"}, Expr: `params.size == "small"`, Mode: "warn"}, ""},
		{"unknown key", "name: x\nexpression: 'true'\n", Rule{}, `unknown field "expression"`},
		{"both forms", "name: x\nservices: [a]\nmatch: {services: [b]}\nexpr: 'true'\n", Rule{}, "either under match or at the top"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Rule
			err := yaml.Unmarshal([]byte(tt.yaml), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Unmarshal error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Unmarshal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The DESIGN.md example rule, loaded from YAML, denies a production postgres
// without high availability.
func TestDesignExampleRule(t *testing.T) {
	t.Parallel()
	var rules []Rule
	if err := yaml.Unmarshal([]byte(`
- name: production-high-availability
  match: {environments: [production]}
  expr: '!has(params.high_availability) || params.high_availability'
  message: Production resources must have high_availability enabled
  mode: enforce
`), &rules); err != nil {
		t.Fatal(err)
	}
	got := evaluate(t, rules, input("production", nil))
	if len(got) != 1 || got[0].Outcome != platform.Deny {
		t.Errorf("Evaluate = %+v, want one deny", got)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	s := MustCompile(DefaultRules())
	in := input("production", map[string]any{"high_availability": true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		vs, err := s.Evaluate(ctx, in)
		if err != nil || len(vs) != 2 {
			b.Fatal(vs, err)
		}
	}
}

func BenchmarkEvaluateOneRule(b *testing.B) {
	s := MustCompile(DefaultRules()[:1])
	in := input("production", map[string]any{"high_availability": true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// The built-in rules name the parameters of the shipped catalog: with its
// defaults, a production database is denied for lacking high availability
// and nothing else, and a web application passes.
func TestDefaultRulesAgainstShippedCatalog(t *testing.T) {
	t.Parallel()
	cat, err := catalogload.Load(defaultcatalog.FS)
	if err != nil {
		t.Fatalf("Load(catalog.FS): %v", err)
	}
	s := MustCompile(DefaultRules())
	for _, svc := range cat.Services() {
		vs, err := s.Evaluate(context.Background(), platform.PolicyInput{Service: svc, Environment: "production", Parameters: svc.Defaults(nil)})
		if err != nil {
			t.Fatal(err)
		}
		var denied []string
		for _, v := range vs {
			if v.Outcome != platform.Allow {
				denied = append(denied, v.Rule)
			}
		}
		var want []string
		if svc.Name == "postgresql-database" {
			want = []string{"production-high-availability"}
		}
		if diff := cmp.Diff(want, denied); diff != "" {
			t.Errorf("%s in production with defaults: denials mismatch (-want +got):\n%s", svc.Name, diff)
		}
	}
}
