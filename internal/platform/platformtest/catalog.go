package platformtest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Services returns fresh definitions of the services of the real catalog,
// with its exact parameters, defaults, options and bounds, built in Go:
// api-gateway, postgresql-database and web-application. postgresql-database
// is bound to the "postgres" driver; the others to "kubernetes". Each has a
// FieldSchema. Tests may change the returned values freely.
func Services() []*platform.ServiceDefinition {
	postgres := &platform.ServiceDefinition{
		Name:          "postgresql-database",
		Title:         "PostgreSQL Database",
		Description:   "Managed PostgreSQL 15 database with a dedicated login role.",
		Type:          "database",
		Version:       "15",
		Owner:         "platform",
		Tier:          "standard",
		Documentation: "https://wiki.example.com/platform/postgresql",
		Fields: []platform.Field{
			{Name: "size", Title: "Size", Description: "Connection limit: small 20, medium 50, large 100", Kind: platform.KindEnum, Options: []string{"small", "medium", "large"}, Default: "small"},
			{Name: "high_availability", Title: "High availability", Description: "Keep a standby replica", Kind: platform.KindBoolean, Default: false},
			{Name: "backup_retention_days", Title: "Backup retention (days)", Kind: platform.KindInteger, Min: Int(1), Max: Int(35), Default: int64(7)},
		},
		Provisioners: []platform.Binding{{Driver: "postgres"}},
		Outputs:      []string{"host", "port", "database", "username"},
		Source:       "postgresql-database.yaml",
	}
	web := &platform.ServiceDefinition{
		Name:          "web-application",
		Title:         "Web Application",
		Description:   "A containerised web application with a Deployment and a Service.",
		Type:          "compute",
		Version:       "1.34",
		Owner:         "platform",
		Tier:          "standard",
		Documentation: "https://wiki.example.com/platform/web-application",
		Fields: []platform.Field{
			{Name: "replicas", Title: "Replicas", Kind: platform.KindInteger, Min: Int(1), Max: Int(10), Default: int64(2)},
			{Name: "cpu", Title: "CPU", Kind: platform.KindEnum, Options: []string{"250m", "500m", "1000m", "2000m"}, Default: "500m"},
			{Name: "memory", Title: "Memory", Kind: platform.KindEnum, Options: []string{"256Mi", "512Mi", "1Gi", "2Gi", "4Gi"}, Default: "512Mi"},
		},
		Provisioners: []platform.Binding{{Driver: "kubernetes"}},
		Outputs:      []string{"url"},
		Source:       "web-application.yaml",
	}
	gateway := &platform.ServiceDefinition{
		Name:          "api-gateway",
		Title:         "API Gateway",
		Description:   "Public HTTP entry point with rate limiting and authentication.",
		Type:          "networking",
		Version:       "1.0",
		Owner:         "platform",
		Tier:          "standard",
		Documentation: "https://wiki.example.com/platform/api-gateway",
		Dependencies:  []string{"web-application"},
		Fields: []platform.Field{
			{Name: "upstream", Title: "Upstream", Description: "The ready web-application of your team, in the same environment, that receives the traffic",
				Kind: platform.KindString, MaxLength: 63, Pattern: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, Required: true},
			{Name: "rate_limit", Title: "Rate limit", Description: "requests per minute", Kind: platform.KindInteger, Min: Int(1), Max: Int(100000), Default: int64(1000)},
			{Name: "authentication", Title: "Authentication", Kind: platform.KindEnum, Options: []string{"none", "api_key", "oauth2", "oidc"}, Default: "oauth2"},
		},
		Provisioners: []platform.Binding{{Driver: "kubernetes"}},
		Outputs:      []string{"url"},
		Source:       "api-gateway.yaml",
	}
	out := []*platform.ServiceDefinition{gateway, postgres, web}
	for _, s := range out {
		s.Schema = FieldSchema{Fields: s.Fields}
	}
	return out
}

// Catalog returns a catalog of Services.
func Catalog(t testing.TB) *platform.Catalog {
	t.Helper()
	c, err := platform.NewCatalog(Services()...)
	if err != nil {
		t.Fatalf("platformtest.Catalog: %v", err)
	}
	return c
}

// Int returns a pointer to n, for Field bounds.
func Int(n int64) *int64 { return &n }

// FieldSchema is a platform.Schema that checks each parameter against its
// Field: the value's type, options, bounds and length. It stands in for the
// JSON Schema the catalog loader compiles.
type FieldSchema struct{ Fields []platform.Field }

var _ platform.Schema = FieldSchema{}

// Validate implements platform.Schema.
func (s FieldSchema) Validate(params map[string]any) []platform.FieldError {
	var errs []platform.FieldError
	for _, f := range s.Fields {
		v, ok := params[f.Name]
		if !ok {
			continue
		}
		if err := checkValue(f, v); err != nil {
			errs = append(errs, platform.FieldError{Field: f.Name, Message: err.Error()})
		}
	}
	return errs
}

func checkValue(f platform.Field, v any) error {
	switch f.Kind {
	case platform.KindBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("must be true or false (got %v)", v)
		}
	case platform.KindInteger:
		var n int64
		switch v := v.(type) {
		case int64:
			n = v
		case int:
			n = int64(v)
		case float64:
			if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
				return fmt.Errorf("must be a whole number (got %v)", v)
			}
			n = int64(v)
		default:
			return fmt.Errorf("must be a whole number (got %v)", v)
		}
		return f.CheckInteger(n)
	case platform.KindEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(f.Options, s) {
			return fmt.Errorf("must be one of %s (got %v)", strings.Join(f.Options, ", "), v)
		}
	default:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be text (got %v)", v)
		}
		return f.CheckString(s)
	}
	return nil
}

// Org returns the built-in organisation of the default config:
// environments development (TTL 168h), staging and production (one
// approval), teams platform and payments, default quotas
// postgresql-database 5, web-application 10, api-gateway 5, and the actors
// Alice (both teams), Bob (payments), Carol (platform), Admin and Approver.
func Org() *platform.Org {
	return &platform.Org{
		Teams: []platform.Team{
			{Name: "payments", Members: []string{Alice.ID, Bob.ID}},
			{Name: "platform", Members: []string{Alice.ID, "email:" + Carol.Email}},
		},
		Environments: []platform.Environment{
			{Name: "development", TTL: 168 * time.Hour},
			{Name: "staging"},
			{Name: "production", Approvals: 1},
		},
		DefaultQuotas: map[string]int{"postgresql-database": 5, "web-application": 10, "api-gateway": 5},
		Admins:        []string{Admin.ID},
		Approvers:     []string{Approver.ID},
	}
}

// Actors of Org.
var (
	// Alice is a member of payments and platform.
	Alice = platform.Actor{ID: "console:alice", Name: "alice"}
	// Bob is a member of payments only.
	Bob = platform.Actor{ID: "console:bob", Name: "bob"}
	// Carol is a member of platform, by email.
	Carol = platform.Actor{ID: "slack:U0CAROL", Name: "carol", Email: "carol@example.com"}
	// Admin is a platform admin in no team.
	Admin = platform.Actor{ID: "console:admin", Name: "admin"}
	// Approver may approve requests and is in no team.
	Approver = platform.Actor{ID: "console:approver", Name: "approver"}
	// Outsider is in no team and has no role.
	Outsider = platform.Actor{ID: "console:mallory", Name: "mallory"}
)
