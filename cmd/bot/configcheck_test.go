package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/policy"
)

// writeConfig writes a config file into a new temporary directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bot.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigErrorsSayWhere: unknown keys and wrong types name the file,
// line, column and key path, with a suggestion when one is near.
func TestConfigErrorsSayWhere(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"typo in a team", "teams:\n  platform:\n    membres: [console:ops]\n",
			"bot.yaml:3:5: teams.platform.membres: unknown key (did you mean members?)"},
		{"typo at the top", "enviroments: {dev: {}}\n",
			"bot.yaml:1:1: enviroments: unknown key (did you mean environments?)"},
		{"nothing near", "teams: {}\nzzz: 1\n",
			"bot.yaml:2:1: zzz: unknown key; known keys here: teams, admins, approvers, environments,"},
		{"string wanted", "teams:\n  payments: {discord_role: 1134567890}\n",
			`bot.yaml:2:28: teams.payments.discord_role: must be a string; quote it ("1134567890")`},
		{"number wanted", "jobs:\n  workers: many\n",
			"bot.yaml:2:12: jobs.workers: must be a whole number"},
		{"bool wanted", "drivers:\n  gitops:\n    merge_request: {wait_for_merge: sometimes}\n",
			"bot.yaml:3:37: drivers.gitops.merge_request.wait_for_merge: must be true or false"},
		{"bad duration", "environments:\n  dev: {ttl: 7 days}\n",
			`bot.yaml:2:14: environments.dev.ttl: "7 days" is not a duration such as 168h or 7d`},
		{"list wanted", "admins: slack:U1\n",
			"bot.yaml:1:9: admins: must be a list"},
		{"mapping wanted", "quotas: [1, 2]\n",
			"bot.yaml:1:9: quotas: must be a mapping with keys default"},
		{"in a list item", "policies:\n  - name: x\n    expr: 'true'\n    mach: {services: [a]}\n",
			"bot.yaml:4:5: policies[0].mach: unknown key (did you mean match?)"},
		{"under match", "policies:\n  - name: x\n    expr: 'true'\n    match: {service: [a]}\n",
			"bot.yaml:4:13: policies[0].match.service: unknown key (did you mean services?)"},
		{"kubernetes target", "drivers:\n  kubernetes:\n    targets:\n      production: {in_clustr: true}\n",
			"bot.yaml:4:20: drivers.kubernetes.targets.production.in_clustr: unknown key (did you mean in_cluster?)"},
		{"syntax", "teams:\n  a: [\n", "bot.yaml:2: invalid YAML: did not find expected node content"},
		{"not a mapping", "- teams\n", "bot.yaml:1:1: the config must be a mapping of sections"},
	} {
		_, err := loadConfig(writeConfig(t, tt.yaml), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: loadConfig = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestConfigErrorsAllReported: every problem of a file is listed, in file
// order, not only the first.
func TestConfigErrorsAllReported(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(writeConfig(t, "teams:\n  a: {membres: []}\nlog: {levle: debug}\n"), "")
	if err == nil {
		t.Fatal("loadConfig accepted two unknown keys")
	}
	want := "2 problems:\n  " + "%s:2:7: teams.a.membres: unknown key (did you mean members?)\n  %s:3:7: log.levle: unknown key (did you mean level?)"
	msg := err.Error()
	file := msg[len("config "):strings.Index(msg, ": 2 problems")]
	if got, w := msg, "config "+file+": "+strings.ReplaceAll(want, "%s", file); got != w {
		t.Errorf("loadConfig error mismatch (-want +got):\n%s", cmp.Diff(w, got))
	}
}

// TestOmittedSectionsKeepDefaults: a file that leaves a section out keeps
// the built-in value of that section; teams and roles are the file's own.
func TestOmittedSectionsKeepDefaults(t *testing.T) {
	t.Parallel()
	builtin, err := loadConfig("", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(writeConfig(t, "teams:\n  web: {members: [slack:U1]}\n"), "")
	if err != nil {
		t.Fatalf("a config with teams only: %v", err)
	}
	org, want := cfg.Org(), builtin.Org()
	if diff := cmp.Diff(want.Environments, org.Environments); diff != "" {
		t.Errorf("environments mismatch (-built-in +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.DefaultQuotas, org.DefaultQuotas); diff != "" || len(org.DefaultQuotas) == 0 {
		t.Errorf("quotas mismatch (-built-in +got):\n%s", diff)
	}
	if diff := cmp.Diff(policy.DefaultRules(), cfg.Rules()); diff != "" {
		t.Errorf("policies mismatch (-built-in +got):\n%s", diff)
	}
	defaults := platform.Deadlines{RemindAfter: platform.DefaultRemindAfter, ExpireAfter: platform.DefaultExpireAfter,
		WarnBefore: platform.DefaultWarnBefore, MaxExtension: platform.DefaultMaxExtension}
	if got := cfg.Deadlines(); got != defaults {
		t.Errorf("approvals and expiry = %+v, want the defaults %+v", got, defaults)
	}
	// The schedule, job and log settings are left empty, which the
	// survey, digest, job and log packages read as their defaults.
	if len(cfg.Schedules) != 0 || cfg.Jobs.Workers != 0 || cfg.Jobs.RescueAfter != 0 || cfg.Surveys.Window != 0 {
		t.Errorf("schedules %v, jobs %+v, surveys %+v: want unset", cfg.Schedules, cfg.Jobs, cfg.Surveys)
	}
	log, err := newLogger(cfg, func(string) string { return "" }, &strings.Builder{}, false)
	if err != nil || !log.Enabled(t.Context(), -4+4) || log.Enabled(t.Context(), -4) {
		t.Errorf("log without a log section: err %v, want level info", err)
	}
	if diff := cmp.Diff([]string{"slack:U1"}, org.Teams[0].Members); diff != "" || len(org.Teams) != 1 || len(org.Admins) != 0 {
		t.Errorf("teams %+v, admins %v: want only the file's", org.Teams, org.Admins)
	}
}

// TestPresentSectionsReplaceDefaults: a section the file sets replaces the
// built-in one instead of merging with it, and an empty environments
// section is an error rather than a bot with nowhere to provision.
func TestPresentSectionsReplaceDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(writeConfig(t, "environments: {qa: {ttl: 2d}}\nquotas: {default: {web-application: 1}}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	org := cfg.Org()
	want := []platform.Environment{{Name: "qa", TTL: 48 * time.Hour}}
	if diff := cmp.Diff(want, org.Environments); diff != "" {
		t.Errorf("environments mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"web-application": 1}, org.DefaultQuotas); diff != "" {
		t.Errorf("quotas mismatch (-want +got):\n%s", diff)
	}
	_, err = loadConfig(writeConfig(t, "environments: {}\n"), "")
	if err == nil || !strings.Contains(err.Error(), "environments is empty") {
		t.Errorf("empty environments: loadConfig = %v", err)
	}
	if _, err := loadConfig(writeConfig(t, ""), ""); err != nil {
		t.Errorf("an empty file: %v, want every default", err)
	}
}

// TestJobRetention: jobs.retention's keys reach the job runner's
// configuration, unset ones as zero (the runner's defaults), and a zero
// duration is refused with its key path.
func TestJobRetention(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(writeConfig(t, "teams:\n  web: {members: [slack:U1]}\njobs:\n  retention:\n    completed: 2h\n    discarded: 90d\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Retention(), (jobs.Retention{Completed: 2 * time.Hour, Discarded: 90 * 24 * time.Hour}); got != want {
		t.Errorf("Retention() = %+v, want %+v", got, want)
	}
	_, err = loadConfig(writeConfig(t, "teams:\n  web: {members: [slack:U1]}\njobs:\n  retention:\n    cancelled: 0s\n"), "")
	if err == nil || !strings.Contains(err.Error(), "jobs.retention.cancelled") || !strings.Contains(err.Error(), "must be more than zero") {
		t.Errorf("a zero retention = %v, want it refused at jobs.retention.cancelled", err)
	}
}
