package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/policy"
)

// Config is the YAML config file (IDPBOT_CONFIG): teams, environments,
// quotas, roles, policies, channels, schedules and driver targets.
type Config struct {
	// Teams own resources, by team name.
	Teams map[string]TeamConfig `json:"teams"`
	// Admins may act on every team's resources: chat identities
	// (slack:<id>, discord:<id>, console:<name>, email:<address>) or groups
	// (slack-usergroup:<id>, discord-role:<id>).
	Admins []string `json:"admins"`
	// Approvers approve requests in environments that need approval
	// (identities or groups, as admins).
	Approvers []string `json:"approvers"`
	// Environments in the order forms list them; the first is the default.
	// Left out: the built-in development, staging and production.
	Environments orderedEnvironments `json:"environments"`
	// Quotas limit a team's active resources per service.
	Quotas struct {
		// Default is the quota of every team, by service name (left out:
		// the built-in quotas); a team's quotas override it.
		Default map[string]int `json:"default"`
	} `json:"quotas"`
	// Channels are where the bot posts, by kind (requests, approvals,
	// surveys, digests, support, platform), then by platform (slack,
	// discord): channel ids.
	Channels map[string]map[string]string `json:"channels"`
	// Schedules are cron specs (5 fields, CRON_TZ= optional) of the
	// periodic jobs nps_survey and usage_digest; left out, their defaults.
	Schedules map[string]string `json:"schedules"`
	// Surveys configures the NPS survey.
	Surveys struct {
		// Window is how long a survey stays open (default 7d).
		Window Duration `json:"window"`
	} `json:"surveys"`
	// Policies replace the built-in default rules when present.
	Policies []policy.Rule `json:"policies"`
	// Drivers are the provisioner drivers' targets.
	Drivers DriversConfig `json:"drivers"`
	// Log configures the bot's log; IDPBOT_LOG_LEVEL and IDPBOT_LOG_FORMAT
	// win over it.
	Log struct {
		// Level is debug, info, warn or error (default info; warn in the
		// console).
		Level string `json:"level"`
		// Format is json or text (default json, text on a terminal).
		Format string `json:"format"`
	} `json:"log"`
	// Jobs configures the River job runner.
	Jobs struct {
		// Workers is how many provisioning and deprovisioning jobs run at
		// once in each process (default 10).
		Workers int `json:"workers"`
		// RescueAfter is how long a job may run before it is considered
		// lost with a crashed process and run again (default 3m; at
		// least 2m).
		RescueAfter Duration `json:"rescue_after"`
		// Retention is how long finished jobs are kept before the
		// leader deletes them.
		Retention struct {
			// Completed is how long completed jobs are kept (default 24h).
			Completed Duration `json:"completed"`
			// Cancelled is how long cancelled jobs are kept (default 7d).
			Cancelled Duration `json:"cancelled"`
			// Discarded is how long jobs that ran out of attempts are kept
			// (default 30d).
			Discarded Duration `json:"discarded"`
		} `json:"retention"`
	} `json:"jobs"`
	// Approvals time requests that wait for approval: approvers are
	// reminded once after remind_after (default 24h), and the request
	// expires after expire_after (default 72h).
	Approvals struct {
		// RemindAfter is when approvers are reminded once (default 24h).
		RemindAfter Duration `json:"remind_after"`
		// ExpireAfter is when an unapproved request expires (default 72h).
		ExpireAfter Duration `json:"expire_after"`
	} `json:"approvals"`
	// Expiry times resources with a TTL: owners are warned warn_before the
	// end (default 24h), and /idp extend keeps a resource at most
	// max_extension from now (default 30d).
	Expiry struct {
		// WarnBefore is how long before a TTL ends the owners are warned
		// (default 24h).
		WarnBefore Duration `json:"warn_before"`
		// MaxExtension caps /idp extend, from now (default 30d).
		MaxExtension Duration `json:"max_extension"`
	} `json:"expiry"`
	// Drift configures the leader's periodic drift check, which reads the
	// live state of ready resources and tells a resource's thread once when
	// what exists stops matching its record, and once when it recovers.
	Drift struct {
		// Interval is the time between two checks (default 15m; 0: off).
		Interval *Interval `json:"interval"`
		// Concurrency is how many resources are read at once (default 4).
		Concurrency int `json:"concurrency"`
		// Timeout bounds the read of one resource (default 20s).
		Timeout Duration `json:"timeout"`
	} `json:"drift"`
	// Support lists the categories of /idp support (default access, bug,
	// question, request, other).
	Support struct {
		// Categories are lowercase words typed after /idp support.
		Categories []string `json:"categories"`
	} `json:"support"`
}

// TeamConfig is one team of the config file.
type TeamConfig struct {
	// Members are chat identities: slack:<user id>, discord:<user id>,
	// console:<name> or email:<address> (matched against the chat
	// profile's email).
	Members []string `json:"members"`
	// SlackUsergroup adds the members of this Slack user group (its id).
	SlackUsergroup string `json:"slack_usergroup"`
	// DiscordRole adds the members having this Discord role (its id).
	DiscordRole string `json:"discord_role"`
	// Quotas override quotas.default for this team, by service name.
	Quotas map[string]int `json:"quotas"`
}

// EnvironmentConfig is one environment of the config file.
type EnvironmentConfig struct {
	// TTL is how long resources live before they are deprovisioned; the
	// owners are warned first and may /idp extend (empty: forever).
	TTL Duration `json:"ttl"`
	// Approval says who must approve requests before provisioning.
	Approval struct {
		// Required is how many distinct approvers (never the requester)
		// must approve; a catalog entry may ask for more.
		Required int `json:"required"`
	} `json:"approval"`
}

type namedEnvironment struct {
	Name string
	EnvironmentConfig
}

// orderedEnvironments keeps the environments in the order the file lists
// them: the first is the default.
type orderedEnvironments []namedEnvironment

func (o *orderedEnvironments) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("environments must be a map of name to settings")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var env namedEnvironment
		env.Name = tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if string(raw) != "null" {
			if err := strictUnmarshal(raw, &env.EnvironmentConfig); err != nil {
				return fmt.Errorf("environments.%s: %w", env.Name, err)
			}
		}
		*o = append(*o, env)
	}
	return nil
}

// Duration is a time.Duration written as "90s", "2h" or "7d".
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30m\" or \"7d\"")
	}
	v, err := catalogload.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// defaultConfig is the configuration used when there is no config file: it
// makes the console useful on its own.
// Production requests wait for one approval from the approvers (run a
// second console with --user approver to approve them); development
// resources expire after 7 days unless extended; --user admin may run the
// admin commands (surveys, digests, acting for a team).
const defaultConfig = `
teams:
  platform: {members: []}
  payments: {members: []}
admins: [console:admin]
approvers: [console:approver]
environments:
  development: {ttl: 7d}
  staging: {}
  production: {approval: {required: 1}}
quotas:
  default: {postgresql-database: 5, web-application: 10, api-gateway: 5, kubernetes-namespace: 3}
`

// loadConfig reads the config file at path, or the built-in default when
// path is empty. consoleUser, when set, is added to every team of the
// built-in default so the console user can create resources right away. A
// section the file leaves out keeps its built-in default, except the teams
// and roles, which name people and belong to each deployment.
func loadConfig(path, consoleUser string) (*Config, error) {
	cfg, _, err := decodeConfig(displayPath(""), []byte(defaultConfig))
	if err != nil {
		return nil, err
	}
	if path == "" {
		if consoleUser != "" {
			for name, t := range cfg.Teams {
				t.Members = append(t.Members, "console:"+consoleUser)
				cfg.Teams[name] = t
			}
		}
	} else {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		builtin := cfg
		var present map[string]bool
		if cfg, present, err = decodeConfig(path, data); err != nil {
			return nil, err
		}
		cfg.keepDefaults(builtin, present)
	}
	if len(cfg.Environments) == 0 {
		return nil, fmt.Errorf("config %s: environments is empty; list at least one, or leave the section out for the built-in ones", displayPath(path))
	}
	if err := cfg.checkGovernance(); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	return cfg, nil
}

// decodeConfig checks data against the shape of Config, then decodes it. It
// returns the top-level sections the file sets.
func decodeConfig(file string, data []byte) (*Config, map[string]bool, error) {
	present, problems := checkConfigYAML(file, data)
	if len(problems) == 1 {
		return nil, nil, fmt.Errorf("config %s", problems[0])
	}
	if len(problems) > 1 {
		return nil, nil, fmt.Errorf("config %s: %w", file, problems)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", file, err)
	}
	var cfg Config
	if err := strictUnmarshal(js, &cfg); err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", file, err)
	}
	return &cfg, present, nil
}

// perDeployment are the sections that never take a built-in value: they
// name people.
var perDeployment = []string{"teams", "admins", "approvers"}

// keepDefaults sets each section the file leaves out (not in present) to
// builtin's, except the perDeployment ones.
func (c *Config) keepDefaults(builtin *Config, present map[string]bool) {
	v, b := reflect.ValueOf(c).Elem(), reflect.ValueOf(builtin).Elem()
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if !present[key] && !slices.Contains(perDeployment, key) {
			v.Field(i).Set(b.Field(i))
		}
	}
}

// supportCategory is what a support category may be called: it is a label
// value of idp_support_tickets_total and a word typed after /idp support.
var supportCategory = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// checkGovernance checks the approval, expiry and support settings.
func (c *Config) checkGovernance() error {
	d := c.Deadlines()
	if d.ExpireAfter <= d.RemindAfter {
		return fmt.Errorf("approvals: expire_after (%s) must be longer than remind_after (%s)", platform.FormatDuration(d.ExpireAfter), platform.FormatDuration(d.RemindAfter))
	}
	for _, e := range c.Environments {
		if e.Approval.Required < 0 {
			return fmt.Errorf("environments.%s.approval.required must not be negative", e.Name)
		}
	}
	seen := map[string]bool{}
	for _, cat := range c.Support.Categories {
		if !supportCategory.MatchString(cat) {
			return fmt.Errorf("support.categories: %q must be a lowercase word (letters, digits, - and _)", cat)
		}
		if seen[cat] {
			return fmt.Errorf("support.categories: %q is listed twice", cat)
		}
		seen[cat] = true
	}
	if c.Support.Categories != nil && len(c.Support.Categories) == 0 {
		return errors.New("support.categories is empty; leave it out for the defaults")
	}
	return nil
}

// Retention returns how long finished jobs are kept; unset keys are zero,
// which the jobs package reads as its defaults.
func (c *Config) Retention() jobs.Retention {
	r := c.Jobs.Retention
	return jobs.Retention{Completed: time.Duration(r.Completed), Cancelled: time.Duration(r.Cancelled), Discarded: time.Duration(r.Discarded)}
}

// Deadlines returns the approval and expiry timings, defaults filled in.
func (c *Config) Deadlines() platform.Deadlines {
	return platform.Deadlines{
		RemindAfter:  cmp.Or(time.Duration(c.Approvals.RemindAfter), platform.DefaultRemindAfter),
		ExpireAfter:  cmp.Or(time.Duration(c.Approvals.ExpireAfter), platform.DefaultExpireAfter),
		WarnBefore:   cmp.Or(time.Duration(c.Expiry.WarnBefore), platform.DefaultWarnBefore),
		MaxExtension: cmp.Or(time.Duration(c.Expiry.MaxExtension), platform.DefaultMaxExtension),
	}
}

// SupportCategories returns the categories of /idp support.
func (c *Config) SupportCategories() []string {
	if c.Support.Categories != nil {
		return c.Support.Categories
	}
	return commands.DefaultSupportCategories
}

func displayPath(path string) string {
	if path == "" {
		return "(built-in default)"
	}
	return path
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Org returns the teams, environments, quotas and roles of the config.
func (c *Config) Org() *platform.Org {
	org := &platform.Org{DefaultQuotas: c.Quotas.Default, Admins: c.Admins, Approvers: c.Approvers}
	names := make([]string, 0, len(c.Teams))
	for n := range c.Teams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := c.Teams[n]
		team := platform.Team{Name: n, Members: t.Members, Quotas: t.Quotas}
		if t.SlackUsergroup != "" {
			team.Groups = append(team.Groups, "slack-usergroup:"+t.SlackUsergroup)
		}
		if t.DiscordRole != "" {
			team.Groups = append(team.Groups, "discord-role:"+t.DiscordRole)
		}
		org.Teams = append(org.Teams, team)
	}
	for _, e := range c.Environments {
		org.Environments = append(org.Environments, platform.Environment{Name: e.Name, TTL: time.Duration(e.TTL), Approvals: e.Approval.Required})
	}
	return org
}

// Rules returns the policy rules: the file's, or the built-in defaults.
func (c *Config) Rules() []policy.Rule {
	if c.Policies != nil {
		return c.Policies
	}
	return policy.DefaultRules()
}
