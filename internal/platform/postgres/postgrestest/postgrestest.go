// Package postgrestest gives each test its own migrated PostgreSQL schema on
// the server named by DATABASE_URL, dropped when the test ends.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// MaxConns is the pool size of a test pool: tests run in parallel against a
// server shared with other packages' tests.
const MaxConns = 8

var created sync.Map // database URLs known to exist

// ensureDatabase creates DATABASE_URL's database when it does not exist yet,
// as the bot does at start, so a fresh server needs no setup step.
func ensureDatabase(ctx context.Context, url string) error {
	if _, ok := created.Load(url); ok {
		return nil
	}
	pool, err := postgres.Connect(ctx, url)
	if err != nil {
		return err
	}
	pool.Close()
	created.Store(url, true)
	return nil
}

// URL returns DATABASE_URL. Outside -short mode a test without it fails:
// storage is tested against a real server, never skipped silently.
func URL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("database test skipped in -short mode")
	}
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("DATABASE_URL is not set: database tests need a PostgreSQL server, e.g. " +
			"DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' (use -short to skip them)")
	}
	return url
}

// Pool returns a pool on a fresh schema t_<random> of DATABASE_URL's
// database: every connection's search_path is that schema, and idpbot's and
// River's migrations have been applied to it. The schema is dropped when the
// test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg := Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open test pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate test schema %s: %v", Schema(pool), err)
	}
	return pool
}

// Config creates a fresh, empty schema t_<random> (dropped when the test
// ends) and returns a pool configuration whose connections use it. Pool is
// Config plus migrations; Config alone is for tests of migrating.
func Config(t testing.TB) *pgxpool.Config {
	t.Helper()
	url := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := postgres.ParseConfig(url)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	if err := ensureDatabase(ctx, url); err != nil {
		t.Fatalf("cannot connect to DATABASE_URL %s: %v", postgres.Redact(url), err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatalf("cannot connect to DATABASE_URL %s: %v", postgres.Redact(url), err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() { dropSchema(t, cfg.ConnConfig, schema) })
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = MaxConns
	return cfg
}

func dropSchema(t testing.TB, cc *pgx.ConnConfig, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc = cc.Copy()
	delete(cc.RuntimeParams, "search_path")
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Errorf("drop test schema %s: %v", schema, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET lock_timeout = '10s'"); err != nil {
		t.Errorf("drop test schema %s: %v", schema, err)
		return
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("drop test schema %s: %v", schema, err)
	}
}

// Schema returns the schema a pool made by Pool works in.
func Schema(pool *pgxpool.Pool) string {
	return pool.Config().ConnConfig.RuntimeParams["search_path"]
}
