package postgres

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

func TestSSLMode(t *testing.T) {
	t.Parallel()
	tests := []struct{ conn, want string }{
		{"postgres://u@h:5432/postgres?sslmode=disable", "disable"},
		{"postgresql://u@h/postgres?connect_timeout=5&sslmode=verify-full", "verify-full"},
		{"postgres://u@h/postgres", "prefer"},
		{"host=h user=u sslmode=require dbname=postgres", "require"},
		{"host=h password='a b sslmode=disable' dbname=postgres", "prefer"},
		{"host=h sslmode = 'verify-ca'", "verify-ca"},
		{"host=h sslmode=disable sslmode=require", "require"},
		{"host=h", "prefer"},
	}
	for _, tt := range tests {
		if got := sslMode(tt.conn); got != tt.want {
			t.Errorf("sslMode(%q) = %q, want %q", tt.conn, got, tt.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	t.Parallel()
	admin, err := pgx.ParseConfig("postgres://postgres@10.0.0.5:6543/postgres")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ public, host, port string }{
		{"", "10.0.0.5", "6543"},
		{"db.example.com", "db.example.com", "6543"},
		{"db.example.com:5432", "db.example.com", "5432"},
		{"[2001:db8::1]:5433", "2001:db8::1", "5433"},
		{"2001:db8::1", "2001:db8::1", "6543"},
	}
	for _, tt := range tests {
		host, port := endpoint(admin, tt.public)
		if host != tt.host || port != tt.port {
			t.Errorf("endpoint(%q) = %q, %q, want %q, %q", tt.public, host, port, tt.host, tt.port)
		}
	}
}

// TestConnectionURL checks that what the URL carries is read back exactly by
// a libpq-compatible parser, whatever characters the names hold.
func TestConnectionURL(t *testing.T) {
	t.Parallel()
	type parsed struct {
		Host, User, Password, Database string
		Port                           uint16
	}
	tests := []struct {
		host, port, user, password, db, sslmode string
	}{
		{"127.0.0.1", "5432", "payments_prod_orders", "Abc123", "payments_prod_orders", "disable"},
		{"db.example.com", "6543", `o'brien"; drop role x; __dev_db`, "p@ss:w/rd?#%", `o'brien"; drop role x; __dev_db`, "require"},
		{"2001:db8::1", "5432", "équipe_prüf_ü_db", "x", "équipe/prüf?ü#db", "prefer"},
		{"/var/run/postgresql", "5432", "u", "p", "d", "disable"},
	}
	for _, tt := range tests {
		raw := connectionURL(tt.host, tt.port, tt.user, tt.password, tt.db, tt.sslmode)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("connectionURL(…) = %q: %v", raw, err)
		}
		if got := u.Query().Get("sslmode"); got != tt.sslmode {
			t.Errorf("connectionURL(…) = %q: sslmode %q, want %q", raw, got, tt.sslmode)
		}
		cfg, err := pgx.ParseConfig(raw)
		if err != nil {
			t.Fatalf("pgx.ParseConfig(%q): %v", raw, err)
		}
		want := parsed{Host: tt.host, User: tt.user, Password: tt.password, Database: tt.db, Port: 5432}
		if tt.port == "6543" {
			want.Port = 6543
		}
		got := parsed{Host: cfg.Host, User: cfg.User, Password: cfg.Password, Database: cfg.Database, Port: cfg.Port}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("connectionURL(…) = %q read back mismatch (-want +got):\n%s", raw, diff)
		}
	}
}
