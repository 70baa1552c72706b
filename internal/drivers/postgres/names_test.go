package postgres

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

func TestIdentifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		team, env, name, want string
	}{
		{"payments", "production", "orders-db", "payments_production_orders_db"},
		{"Payments", "Staging", "a-b-c", "payments_staging_a_b_c"},
		{`o'brien"; DROP ROLE x; --`, "dev", "db", `o'brien"; drop role x; ___dev_db`},
		{"équipe", "prüf-ü", "db", "équipe_prüf_ü_db"},
	}
	for _, tt := range tests {
		if got := identifier(tt.team, tt.env, tt.name); got != tt.want {
			t.Errorf("identifier(%q, %q, %q) = %q, want %q", tt.team, tt.env, tt.name, got, tt.want)
		}
	}
}

func TestIdentifierTruncatesLongNamesUniquely(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 62)
	tests := []struct {
		team, env string
	}{
		{"payments", "production"},
		// Multi-byte characters straddle the cut: it must fall between them.
		{strings.Repeat("é", 30), "production"},
		{"t", strings.Repeat("ü", 40)},
	}
	for _, tt := range tests {
		a := identifier(tt.team, tt.env, long+"1")
		b := identifier(tt.team, tt.env, long+"2")
		for _, id := range []string{a, b} {
			if len(id) > maxIdentifier {
				t.Errorf("identifier(%q, %q, …) = %q: %d bytes, want at most %d", tt.team, tt.env, id, len(id), maxIdentifier)
			}
			if !utf8.ValidString(id) {
				t.Errorf("identifier(%q, %q, …) = %q: not valid UTF-8", tt.team, tt.env, id)
			}
		}
		if a == b {
			t.Errorf("identifier(%q, %q, …1) = identifier(…2) = %q, want distinct", tt.team, tt.env, a)
		}
		if again := identifier(tt.team, tt.env, long+"1"); again != a {
			t.Errorf("identifier is not deterministic: %q then %q", a, again)
		}
		prefix := strings.ReplaceAll(strings.ToLower(tt.team+"_"+tt.env+"_"), "-", "_")
		if n := min(len(prefix), 20); a[:n] != prefix[:n] {
			t.Errorf("identifier(%q, %q, …) = %q, want it to start like %q", tt.team, tt.env, a, prefix)
		}
	}
	if got := identifier("t", "e", strings.Repeat("x", 59)); len(got) != 63 || strings.Contains(got[50:], "_") {
		t.Errorf("a 63-byte identifier must be kept whole, got %q", got)
	}
}

func TestCheckNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		res       platform.Resource
		wantError string
	}{
		{"fine", platform.Resource{Team: "payments", Environment: "production", Name: "orders"}, ""},
		{"quotes in team are quoted, not refused", platform.Resource{Team: `o'brien"`, Environment: "dev", Name: "orders"}, ""},
		{"uppercase name", platform.Resource{Team: "p", Environment: "dev", Name: "Orders"}, `database name "Orders" must be lowercase letters`},
		{"sql in name", platform.Resource{Team: "p", Environment: "dev", Name: `x"; drop role postgres; --`}, `database name "x\"; drop role postgres; --" must be lowercase`},
		{"empty team", platform.Resource{Environment: "dev", Name: "orders"}, "a database needs a team"},
		{"newline in environment", platform.Resource{Team: "p", Environment: "dev\nx", Name: "orders"}, `environment "dev\nx" cannot be part of a database name`},
		{"NUL in team", platform.Resource{Team: "p\x00", Environment: "dev", Name: "orders"}, `team "p\x00" cannot be part`},
		{"invalid UTF-8", platform.Resource{Team: "p\xff", Environment: "dev", Name: "orders"}, `team "p\xff" cannot be part`},
		{"reserved prefix", platform.Resource{Team: "PG", Environment: "dev", Name: "orders"}, "database name pg_dev_orders is reserved by PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkNames(&tt.res)
			if tt.wantError == "" {
				if err != nil {
					t.Fatalf("checkNames(%+v) = %v, want nil", tt.res, err)
				}
				return
			}
			if platform.ErrorCode(err) != platform.Invalid || !strings.HasPrefix(platform.ErrorMessage(err), tt.wantError) {
				t.Fatalf("checkNames(%+v) = %v (%s), want an invalid error starting %q", tt.res, err, platform.ErrorCode(err), tt.wantError)
			}
		})
	}
}

// TestQuotingRoundTrips sends hostile identifiers and literals to the server
// and checks it reads back exactly what was meant: nothing in them can end
// the quoting and inject SQL.
func TestQuotingRoundTrips(t *testing.T) {
	t.Parallel()
	conn := connect(t, testAdminURL(t))
	ctx := context.Background()
	hostile := []string{
		`plain`,
		`o'brien`,
		`x"; DROP ROLE postgres; --`,
		`""`,
		`back\slash\'`,
		`$$ $tag$ E'\x41'`,
		"équipe_prüf_ü_日本",
		identifier(`a'b"c`, "dev", strings.Repeat("z", 70)),
	}
	for _, standard := range []string{"on", "off"} {
		if _, err := conn.Exec(ctx, "SET standard_conforming_strings = "+standard); err != nil {
			t.Fatal(err)
		}
		for _, s := range hostile {
			var got string
			rows, err := conn.Query(ctx, "SELECT "+quoteLiteral(s)+" AS "+pgx.Identifier{s}.Sanitize())
			if err != nil {
				t.Fatalf("standard_conforming_strings=%s: query with %q: %v", standard, s, err)
			}
			column := string(rows.FieldDescriptions()[0].Name)
			for rows.Next() {
				if err := rows.Scan(&got); err != nil {
					t.Fatal(err)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("standard_conforming_strings=%s: %q: %v", standard, s, err)
			}
			if got != s || column != s {
				t.Errorf("standard_conforming_strings=%s: literal %q read back as %q, identifier as %q", standard, s, got, column)
			}
		}
	}
}
