package postgres

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idpbot/idpbot/internal/platform"
)

func TestSettingsOf(t *testing.T) {
	t.Parallel()
	svc := &platform.ServiceDefinition{
		Name: "postgresql-database",
		Fields: []platform.Field{
			{Name: "size", Kind: platform.KindEnum, Options: []string{"small", "medium", "large"}, Default: "medium"},
			{Name: "high_availability", Kind: platform.KindBoolean, Default: false},
			{Name: "backup_retention_days", Kind: platform.KindInteger, Default: int64(14)},
		},
	}
	tests := []struct {
		name   string
		svc    *platform.ServiceDefinition
		params map[string]any
		want   settings
	}{
		{"catalog defaults", svc, nil, settings{size: "medium", connectionLimit: 50, backupDays: 14}},
		{"built-in defaults", nil, nil, settings{size: "small", connectionLimit: 20, backupDays: 7}},
		{"typed", svc, map[string]any{"size": "large", "high_availability": true, "backup_retention_days": int64(35)},
			settings{size: "large", connectionLimit: 100, highAvailability: true, backupDays: 35}},
		{"decoded from JSON", svc, map[string]any{"size": "small", "high_availability": "true", "backup_retention_days": float64(3)},
			settings{size: "small", connectionLimit: 20, highAvailability: true, backupDays: 3}},
		{"json.Number", nil, map[string]any{"backup_retention_days": json.Number("21")},
			settings{size: "small", connectionLimit: 20, backupDays: 21}},
	}
	for _, tt := range tests {
		got, err := settingsOf(platform.Job{Resource: &platform.Resource{Parameters: tt.params}, Service: tt.svc})
		if err != nil {
			t.Errorf("%s: settingsOf: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(settings{})); diff != "" {
			t.Errorf("%s: settingsOf mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestSettingsOfRefusesBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"size": "huge"}, `size must be one of small, medium, large (got "huge")`},
		{map[string]any{"size": 3}, "size must be one of small, medium, large (got 3)"},
		{map[string]any{"high_availability": "maybe"}, `high_availability must be true or false (got "maybe")`},
		{map[string]any{"backup_retention_days": 1.5}, "backup_retention_days must be a whole number of days (got 1.5)"},
		{map[string]any{"backup_retention_days": int64(-1)}, "backup_retention_days must be a whole number of days (got -1)"},
	}
	for _, tt := range tests {
		_, err := settingsOf(platform.Job{Resource: &platform.Resource{Parameters: tt.params}})
		if platform.ErrorCode(err) != platform.Invalid || platform.ErrorMessage(err) != tt.want {
			t.Errorf("settingsOf(%v) = %v, want invalid %q", tt.params, err, tt.want)
		}
	}
	if got := (settings{highAvailability: true, backupDays: 7}).describe(); !strings.Contains(got, "high availability: yes, backups: 7 days") {
		t.Errorf("describe() = %q", got)
	}
}
