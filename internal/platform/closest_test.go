package platform_test

import (
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestClosest(t *testing.T) {
	t.Parallel()
	verbs := []string{"help", "catalog", "create", "list", "status", "delete"}
	services := []string{"api-gateway", "postgresql-database", "web-application"}
	envs := []string{"development", "staging", "production"}
	tests := []struct {
		s          string
		candidates []string
		want       string
	}{
		{"crate", verbs, "create"},
		{"stauts", verbs, "status"},
		{"delte", verbs, "delete"},
		{"CATALOG", verbs, ""}, // already a candidate, case aside
		{"create", verbs, ""},
		{"lst", verbs, "list"},
		{"xyzzy", verbs, ""},
		{"", verbs, ""},
		{"postgres", services, "postgresql-database"},
		{"postgresql-databse", services, "postgresql-database"},
		{"web-app", services, "web-application"},
		{"redis", services, ""},
		{"prod", envs, "production"},
		{"dev", envs, "development"},
		{"stagign", envs, "staging"},
		{"qa", envs, ""},
		{"créate", verbs, "create"},
		{"日本語", verbs, ""},
		{strings.Repeat("a", 10000), verbs, ""},
		{"create\x00", verbs, "create"},
		{"x", nil, ""},
	}
	for _, tt := range tests {
		if got := platform.Closest(tt.s, tt.candidates); got != tt.want {
			t.Errorf("Closest(%.20q, %v) = %q, want %q", tt.s, tt.candidates, got, tt.want)
		}
	}
}

func BenchmarkClosestHuge(b *testing.B) {
	s := strings.Repeat("é", 10000)
	c := []string{"postgresql-database", "web-application", "api-gateway"}
	for b.Loop() {
		platform.Closest(s, c)
	}
}
