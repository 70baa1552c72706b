package postgres

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

// testAdminURL returns the admin URL of the test server: DATABASE_URL with
// its database switched to postgres. Without DATABASE_URL the test fails;
// under -short it is skipped.
func testAdminURL(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped under -short")
	}
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Fatal("DATABASE_URL is not set: this test needs a PostgreSQL server (set DATABASE_URL, or run with -short to skip it)")
	}
	return withDatabase(t, dsn, "postgres")
}

// withDatabase returns the connection string dsn pointing at database db.
func withDatabase(t *testing.T, dsn, db string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("DATABASE_URL is not a valid URL: %v", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String()
	}
	return dsn + " dbname=" + db
}

// withUser returns the URL adminURL with its user (and no password) replaced.
func withUser(t *testing.T, adminURL, user string) string {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("admin URL %q: %v", adminURL, err)
	}
	u.User = url.User(user)
	return u.String()
}

// connect opens a session closed when the test ends; a test fails when no
// server answers.
func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// suffix returns a random suffix that keeps names of parallel tests apart.
func suffix() string { return fmt.Sprintf("%08x", rand.Uint32()) }

// testResource returns a postgresql-database resource with unique names
// whose database and role are dropped when the test ends, whatever happened.
func testResource(t *testing.T, admin *pgx.Conn, params map[string]any) *platform.Resource {
	t.Helper()
	s := suffix()
	r := &platform.Resource{
		ID:          rand.Int64N(1<<40) + 1,
		Service:     "postgresql-database",
		Name:        "db-" + s,
		Team:        "team" + s,
		Environment: "test",
		Parameters:  params,
	}
	dropOnCleanup(t, admin, r)
	return r
}

// dropOnCleanup drops r's database and role when the test ends.
func dropOnCleanup(t *testing.T, admin *pgx.Conn, r *platform.Resource) {
	t.Helper()
	name := identifier(r.Team, r.Environment, r.Name)
	t.Cleanup(func() { dropNow(t, admin, name) })
}

// dropNow drops the database and role called name, if they exist.
func dropNow(t *testing.T, admin *pgx.Conn, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := pgx.Identifier{name}.Sanitize()
	for _, sql := range []string{"DROP DATABASE IF EXISTS " + id + " WITH (FORCE)", "DROP ROLE IF EXISTS " + id} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Errorf("cleanup %s: %v", sql, err)
		}
	}
}

// steps records the progress steps a driver reports.
type steps struct {
	mu   sync.Mutex
	list []string
}

func (s *steps) add(m string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, m)
}

func (s *steps) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.list
	s.list = nil
	return out
}

// roleInfo is what the tests check of a role.
type roleInfo struct {
	CanLogin, Super, Inherit, CreateDB, CreateRole bool
	ConnLimit                                      int
}

func lookupRoleInfo(t *testing.T, admin *pgx.Conn, name string) (roleInfo, bool) {
	t.Helper()
	var ri roleInfo
	err := admin.QueryRow(context.Background(),
		`SELECT rolcanlogin, rolsuper, rolinherit, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles WHERE rolname = $1`, name).
		Scan(&ri.CanLogin, &ri.Super, &ri.Inherit, &ri.CreateDB, &ri.CreateRole, &ri.ConnLimit)
	if err == pgx.ErrNoRows {
		return ri, false
	}
	if err != nil {
		t.Fatalf("look up role %s: %v", name, err)
	}
	return ri, true
}

func databaseExists(t *testing.T, admin *pgx.Conn, name string) bool {
	t.Helper()
	var n int
	if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatalf("look up database %s: %v", name, err)
	}
	return n == 1
}

// passwordMatches reports whether the verifier the server stores for role
// accepts password, recomputing it with the stored salt and iterations.
func passwordMatches(t *testing.T, admin *pgx.Conn, role, password string) bool {
	t.Helper()
	var stored *string
	if err := admin.QueryRow(context.Background(), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&stored); err != nil {
		t.Fatalf("read verifier of %s: %v", role, err)
	}
	if stored == nil {
		return false
	}
	salt, iterations := parseVerifier(t, *stored)
	got, err := scramVerifierWithSalt(password, salt, iterations)
	if err != nil {
		t.Fatal(err)
	}
	return got == *stored
}

// parseVerifier returns the salt and iterations of a SCRAM-SHA-256 verifier.
func parseVerifier(t *testing.T, v string) ([]byte, int) {
	t.Helper()
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	if !ok {
		t.Fatalf("stored password %.20q… is not a SCRAM-SHA-256 verifier", v)
	}
	params, _, _ := strings.Cut(rest, "$")
	iter, salt64, _ := strings.Cut(params, ":")
	iterations, err := strconv.Atoi(iter)
	if err != nil {
		t.Fatalf("verifier iterations %q: %v", iter, err)
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		t.Fatalf("verifier salt %q: %v", salt64, err)
	}
	return salt, iterations
}

// whoAmI connects with connString and returns current_user and
// current_database().
func whoAmI(t *testing.T, connString string) (user, db string) {
	t.Helper()
	conn := connect(t, connString)
	if err := conn.QueryRow(context.Background(), `SELECT current_user, current_database()`).Scan(&user, &db); err != nil {
		t.Fatalf("SELECT current_user, current_database(): %v", err)
	}
	return user, db
}
