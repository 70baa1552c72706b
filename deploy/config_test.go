package deploy_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/platform/policy"
)

// exampleConfig is the config file shape of DESIGN.md §6.
type exampleConfig struct {
	Teams map[string]struct {
		Members        []string       `json:"members"`
		SlackUsergroup string         `json:"slack_usergroup"`
		DiscordRole    string         `json:"discord_role"`
		Quotas         map[string]int `json:"quotas"`
	} `json:"teams"`
	Admins       []string `json:"admins"`
	Approvers    []string `json:"approvers"`
	Environments map[string]struct {
		TTL      string `json:"ttl"`
		Approval struct {
			Required int `json:"required"`
		} `json:"approval"`
	} `json:"environments"`
	Quotas struct {
		Default map[string]int `json:"default"`
	} `json:"quotas"`
	Channels  map[string]map[string]string `json:"channels"`
	Schedules map[string]string            `json:"schedules"`
	Policies  []policy.Rule                `json:"policies"`
	Drivers   struct {
		Postgres struct {
			AdminURL string `json:"admin_url"`
		} `json:"postgres"`
	} `json:"drivers"`
}

func TestConfigExample(t *testing.T) {
	t.Parallel()
	js, err := yaml.YAMLToJSON(readFile(t, "config.example.yaml"))
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	// Exactly the top-level keys of DESIGN.md §6.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(top))
	want := []string{"admins", "approvers", "channels", "drivers", "environments", "policies", "quotas", "schedules", "teams"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("config.example.yaml top-level keys mismatch (-want +got):\n%s", diff)
	}
	var cfg exampleConfig
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("config.example.yaml does not have the shape of DESIGN.md §6: %v", err)
	}

	services := catalogServices(t)
	ids := slices.Clone(cfg.Admins)
	ids = append(ids, cfg.Approvers...)
	for name, team := range cfg.Teams {
		ids = append(ids, team.Members...)
		for svc := range team.Quotas {
			if !slices.Contains(services, svc) {
				t.Errorf("team %s: quota for %s, which is not in the catalog (%s)", name, svc, strings.Join(services, ", "))
			}
		}
	}
	for _, id := range ids {
		platform, rest, ok := strings.Cut(id, ":")
		if !ok || rest == "" || !slices.Contains([]string{"slack", "discord", "console", "email"}, platform) {
			t.Errorf("member %q: want slack:<id>, discord:<id>, console:<name> or email:<address>", id)
		}
	}
	for svc := range cfg.Quotas.Default {
		if !slices.Contains(services, svc) {
			t.Errorf("quotas.default: %s is not in the catalog (%s)", svc, strings.Join(services, ", "))
		}
	}
	for _, env := range []string{"development", "staging", "production"} {
		if _, ok := cfg.Environments[env]; !ok {
			t.Errorf("environment %s is missing", env)
		}
	}
	for name, env := range cfg.Environments {
		if env.TTL != "" {
			if !validTTL(env.TTL) {
				t.Errorf("environment %s: ttl %q, want a duration like 168h or 7d", name, env.TTL)
			}
		}
	}
	if cfg.Environments["production"].Approval.Required < 1 {
		t.Error("production needs at least one approval in the example")
	}
	for purpose, byPlatform := range cfg.Channels {
		if !slices.Contains([]string{"requests", "approvals", "surveys", "digests", "support"}, purpose) {
			t.Errorf("channels.%s: unknown purpose", purpose)
		}
		for p := range byPlatform {
			if p != "slack" && p != "discord" {
				t.Errorf("channels.%s.%s: want slack or discord", purpose, p)
			}
		}
	}
	for _, name := range []string{"nps_survey", "usage_digest"} {
		spec, ok := cfg.Schedules[name]
		if !ok {
			t.Errorf("schedules.%s is missing", name)
			continue
		}
		s, err := cron.ParseStandard(spec)
		if err != nil {
			t.Errorf("schedules.%s %q: %v", name, spec, err)
		} else if s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			t.Errorf("schedules.%s %q never runs", name, spec)
		}
	}

	// Listing policies replaces the built-in rules: the example keeps them.
	if _, err := policy.Compile(cfg.Policies); err != nil {
		t.Errorf("policies do not compile: %v", err)
	}
	for _, def := range policy.DefaultRules() {
		if !slices.ContainsFunc(cfg.Policies, func(r policy.Rule) bool { return r.Name == def.Name }) {
			t.Errorf("policies lack the built-in rule %s; the example would switch it off", def.Name)
		}
	}
	for _, r := range cfg.Policies {
		for _, svc := range r.Services {
			if !slices.Contains(services, svc) {
				t.Errorf("policy %s: service %s is not in the catalog", r.Name, svc)
			}
		}
		for _, env := range r.Environments {
			if _, ok := cfg.Environments[env]; !ok {
				t.Errorf("policy %s: environment %s is not configured", r.Name, env)
			}
		}
	}

	// The admin URL is shipped in a ConfigMap: no password in it.
	u, err := url.Parse(cfg.Drivers.Postgres.AdminURL)
	if err != nil || u.Scheme != "postgres" || u.Host == "" {
		t.Errorf("drivers.postgres.admin_url %q: want postgres://user@host:port/db (%v)", cfg.Drivers.Postgres.AdminURL, err)
	} else if _, has := u.User.Password(); has {
		t.Error("drivers.postgres.admin_url carries a password; this file is not secret")
	}
}

// validTTL reports whether s is a duration the config accepts: Go's (168h)
// or whole days (7d).
func validTTL(s string) bool {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		return err == nil && n > 0
	}
	d, err := time.ParseDuration(s)
	return err == nil && d > 0
}

// catalogServices returns the names of the services of the default catalog.
func catalogServices(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "catalog", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no catalog files in ../catalog (%v)", err)
	}
	var names []string
	for _, f := range files {
		var entry struct {
			Name string `json:"name"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &entry); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, entry.Name)
	}
	return names
}
