package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/policy"
)

// Config is the YAML config file (IDPBOT_CONFIG): teams, environments,
// quotas, roles, policies, channels, schedules and driver targets.
type Config struct {
	Teams        map[string]TeamConfig `json:"teams"`
	Admins       []string              `json:"admins"`
	Approvers    []string              `json:"approvers"`
	Environments orderedEnvironments   `json:"environments"`
	Quotas       struct {
		Default map[string]int `json:"default"`
	} `json:"quotas"`
	Channels  map[string]map[string]string `json:"channels"`
	Schedules map[string]string            `json:"schedules"`
	Surveys   struct {
		// Window is how long a survey stays open (default 7d).
		Window Duration `json:"window"`
	} `json:"surveys"`
	// Policies replace the built-in default rules when present.
	Policies []policy.Rule `json:"policies"`
	Drivers  DriversConfig `json:"drivers"`
	Log      struct {
		Level  string `json:"level"`
		Format string `json:"format"`
	} `json:"log"`
	Jobs struct {
		Workers     int      `json:"workers"`
		RescueAfter Duration `json:"rescue_after"`
	} `json:"jobs"`
	// Approvals time requests that wait for approval: approvers are
	// reminded once after remind_after (default 24h), and the request
	// expires after expire_after (default 72h).
	Approvals struct {
		RemindAfter Duration `json:"remind_after"`
		ExpireAfter Duration `json:"expire_after"`
	} `json:"approvals"`
	// Expiry times resources with a TTL: owners are warned warn_before the
	// end (default 24h), and /idp extend keeps a resource at most
	// max_extension from now (default 30d).
	Expiry struct {
		WarnBefore   Duration `json:"warn_before"`
		MaxExtension Duration `json:"max_extension"`
	} `json:"expiry"`
	// Support lists the categories of /idp support (default access, bug,
	// question, request, other).
	Support struct {
		Categories []string `json:"categories"`
	} `json:"support"`
}

// TeamConfig is one team of the config file.
type TeamConfig struct {
	Members        []string       `json:"members"`
	SlackUsergroup string         `json:"slack_usergroup"`
	DiscordRole    string         `json:"discord_role"`
	Quotas         map[string]int `json:"quotas"`
}

// EnvironmentConfig is one environment of the config file.
type EnvironmentConfig struct {
	TTL      Duration `json:"ttl"`
	Approval struct {
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
// built-in default so the console user can create resources right away.
func loadConfig(path, consoleUser string) (*Config, error) {
	data := []byte(defaultConfig)
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data = b
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	var cfg Config
	if err := strictUnmarshal(js, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	if path == "" && consoleUser != "" {
		for name, t := range cfg.Teams {
			t.Members = append(t.Members, "console:"+consoleUser)
			cfg.Teams[name] = t
		}
	}
	if len(cfg.Environments) == 0 {
		return nil, fmt.Errorf("config %s: no environments defined", displayPath(path))
	}
	if err := cfg.checkGovernance(); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	return &cfg, nil
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
