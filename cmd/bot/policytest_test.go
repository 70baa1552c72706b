package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The shipped policy tests pass against the shipped example config.
func TestShippedPolicyTests(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(filepath.Join("..", "..", "deploy", "config.example.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := policyTest(filepath.Join("..", "..", "deploy", "policy-tests.yaml"), cfg, &out); err != nil {
		t.Fatalf("policyTest = %v\n%s", err, out.String())
	}
	pass := regexp.MustCompile(`(?m)^PASS  `).FindAllString(out.String(), -1)
	if len(pass) < 8 || strings.Contains(out.String(), "FAIL") {
		t.Errorf("%d cases passed, want every case (at least 8):\n%s", len(pass), out.String())
	}
	for _, want := range []string{
		"PASS  production database without high availability is denied (deny: Production resources must have high_availability enabled)",
		"PASS  large database in staging is allowed with a warning (warn: Large databases outside production are expensive; consider medium)",
		"PASS  payments may have 10 databases, not 11 (deny: team payments has 10 of 10 postgresql-database)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPolicyTestReportsMismatches(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		err        string
		out        []string
	}{
		{"wrong verdict", `
cases:
  - name: prod without HA
    request: {service: postgresql-database, name: db, team: payments, environment: production}
    expect: {verdict: allow}
  - name: prod with HA
    request: {service: postgresql-database, name: db, team: payments, environment: production, params: {high_availability: true}}
    expect: {verdict: allow, messages: []}
`, "1 of 2 cases failed", []string{
			"FAIL  prod without HA\n      got   deny: Production resources must have high_availability enabled\n      want  allow\n",
			"PASS  prod with HA (allow)",
		}},
		{"wrong messages", `
cases:
  - name: quota
    request: {service: postgresql-database, name: db, team: payments, environment: staging, usage: 5}
    expect: {verdict: deny, messages: [over quota]}
`, "1 of 1 cases failed", []string{"      want  deny: over quota"}},
		{"no messages expected", `
cases:
  - name: quota
    request: {service: postgresql-database, name: db, team: payments, environment: staging, usage: 5}
    expect: {verdict: deny, messages: []}
`, "1 of 1 cases failed", []string{"      want  deny (no messages)\n"}},
		{"unknown key", "cases:\n  - name: x\n    request: {service: s, paramz: {}}\n    expect: {verdict: allow}\n", `unknown field "paramz"`, nil},
		{"bad verdict", "cases:\n  - name: x\n    request: {service: s}\n    expect: {verdict: denied}\n", `case "x": expect.verdict must be allow, warn or deny (got "denied")`, nil},
		{"no cases", "cases: []\n", "no cases", nil},
		{"not yaml", "cases: [", "policy test", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cases.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := policyTest(path, cfg, &out)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("policyTest = %v, want an error containing %q\n%s", err, tt.err, out.String())
			}
			if _, ok := err.(userError); !ok {
				t.Errorf("error %T is not a userError: it would print a chain", err)
			}
			for _, want := range tt.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
	if err := policyTest(filepath.Join(t.TempDir(), "missing.yaml"), cfg, &bytes.Buffer{}); err == nil {
		t.Error("a missing file passed")
	}
}

func TestGovernanceConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("", "dev1")
	if err != nil {
		t.Fatal(err)
	}
	org := cfg.Org()
	if env, _ := org.Environment("production"); env.Approvals != 1 {
		t.Errorf("built-in production approvals = %d, want 1", env.Approvals)
	}
	if env, _ := org.Environment("development"); env.TTL.Hours() != 168 {
		t.Errorf("built-in development TTL = %v, want 7d", env.TTL)
	}
	if d := cfg.Deadlines(); d.RemindAfter.Hours() != 24 || d.ExpireAfter.Hours() != 72 || d.MaxExtension.Hours() != 720 {
		t.Errorf("default deadlines = %+v", d)
	}
	if got := cfg.SupportCategories(); strings.Join(got, ",") != "access,bug,question,request,other" {
		t.Errorf("default support categories = %v", got)
	}
	dir := t.TempDir()
	for name, tt := range map[string]struct{ yaml, err string }{
		"custom": {yaml: "environments: {dev: {}}\napprovals: {remind_after: 2h, expire_after: 1d}\nexpiry: {max_extension: 14d}\nsupport: {categories: [outage, access]}\n"},
		"expire before remind": {yaml: "environments: {dev: {}}\napprovals: {remind_after: 48h, expire_after: 1d}\n",
			err: "approvals: expire_after (1d) must be longer than remind_after (2d)"},
		"bad category":   {yaml: "environments: {dev: {}}\nsupport: {categories: [Big Outage]}\n", err: `support.categories: "Big Outage" must be a lowercase word`},
		"twice":          {yaml: "environments: {dev: {}}\nsupport: {categories: [bug, bug]}\n", err: `support.categories: "bug" is listed twice`},
		"empty":          {yaml: "environments: {dev: {}}\nsupport: {categories: []}\n", err: "support.categories is empty"},
		"unknown key":    {yaml: "environments: {dev: {}}\napprovals: {remind: 2h}\n", err: "approvals.remind: unknown key (did you mean remind_after?)"},
		"negative count": {yaml: "environments: {prod: {approval: {required: -1}}}\n", err: "environments.prod.approval.required must not be negative"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path, "")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: loadConfig = %v, want %q", name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := cfg.Deadlines(); d.RemindAfter.Hours() != 2 || d.ExpireAfter.Hours() != 24 || d.MaxExtension.Hours() != 336 || d.WarnBefore.Hours() != 24 {
			t.Errorf("%s: deadlines = %+v", name, d)
		}
		if got := strings.Join(cfg.SupportCategories(), ","); got != "outage,access" {
			t.Errorf("%s: categories = %s", name, got)
		}
	}
}
