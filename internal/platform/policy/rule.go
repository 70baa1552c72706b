// Package policy holds the platform's CEL policy rules: expressions over a
// request (service, team, environment, parameters, usage) compiled once at
// load and evaluated, cost-limited, for every request. A Set of rules is a
// platform.Policy.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Modes say what a failing rule does.
const (
	// ModeEnforce denies the request (the default).
	ModeEnforce = "enforce"
	// ModeWarn allows the request with a warning shown to the requester.
	ModeWarn = "warn"
	// ModeAudit allows the request and only records the verdict.
	ModeAudit = "audit"
)

// Rule is one policy: a CEL expression that must be true for a request to be
// allowed. In the config file a rule's scope may be given flat (services,
// environments) or as match: {services, environments}, as in DESIGN.md.
type Rule struct {
	// Name identifies the rule in denials, audits and policy tests.
	Name string `json:"name" yaml:"name"`
	// Description says what the rule is for, for people reading it.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Services and Environments select the requests the rule applies to;
	// empty means all.
	Services []string `json:"services,omitempty" yaml:"services,omitempty"`
	// Environments select the requests the rule applies to by
	// environment; empty means all.
	Environments []string `json:"environments,omitempty" yaml:"environments,omitempty"`
	// Expr is a CEL expression returning bool: true allows the request. It
	// sees service, service_type, name, team, environment, params (map of
	// parameter name to value, integers as int), requester (actor id),
	// usage (the team's active resources of this service) and quota (-1
	// when there is none).
	Expr string `json:"expr" yaml:"expr"`
	// Message tells the requester why the rule failed.
	Message string `json:"message,omitempty" yaml:"message,omitempty"`
	// Field is the form field the rule is about ("" for the whole request).
	Field string `json:"field,omitempty" yaml:"field,omitempty"`
	// Mode is enforce, warn or audit; empty means enforce.
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty"`
}

// UnmarshalJSON decodes a rule, accepting match: {services, environments}
// as well as the flat keys, and rejecting unknown keys.
func (r *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	var aux struct {
		plain
		Match *struct {
			Services     []string `json:"services"`
			Environments []string `json:"environments"`
		} `json:"match"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return fmt.Errorf("policy rule: %w", err)
	}
	if m := aux.Match; m != nil {
		if len(m.Services) > 0 && len(aux.Services) > 0 || len(m.Environments) > 0 && len(aux.Environments) > 0 {
			return fmt.Errorf("policy rule %q: give services and environments either under match or at the top, not both", aux.Name)
		}
		aux.Services = append(aux.Services, m.Services...)
		aux.Environments = append(aux.Environments, m.Environments...)
	}
	*r = Rule(aux.plain)
	return nil
}

// DefaultRules are the built-in production rules, used when the config file
// lists no policies.
func DefaultRules() []Rule {
	return []Rule{
		{
			Name:         "production-high-availability",
			Description:  "A production service that has high availability must have it enabled.",
			Environments: []string{"production"},
			Expr:         `!("high_availability" in params) || params.high_availability == true`,
			Message:      "Production resources must have high_availability enabled",
			Field:        "high_availability",
			Mode:         ModeEnforce,
		},
		{
			Name:         "production-backups",
			Description:  "A production service with backup settings must keep backups on.",
			Environments: []string{"production"},
			Expr: `(!("backup_retention_days" in params) || params.backup_retention_days >= 1) &&
(!("backup_enabled" in params) || type(params.backup_enabled) != bool || params.backup_enabled) &&
(!("backups" in params) || type(params.backups) != bool || params.backups)`,
			Message: "Production databases must keep backups (retention of at least 1 day)",
			Field:   "backup_retention_days",
			Mode:    ModeEnforce,
		},
	}
}
