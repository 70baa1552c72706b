package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

func TestConnectCreatesDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := postgrestest.URL(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "idpbot_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})

	// Two replicas starting at once both find the database missing; one
	// creates it and the other tolerates that.
	pools := make([]*pgxpool.Pool, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range pools {
		wg.Go(func() { pools[i], errs[i] = postgres.Connect(ctx, u.String()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Connect(%s) #%d = %v", name, i, err)
		}
		defer pools[i].Close()
	}
	var got string
	if err := pools[0].QueryRow(ctx, "SELECT current_database()").Scan(&got); err != nil || got != name {
		t.Errorf("current_database() = %q, %v; want %q", got, err, name)
	}
	if pools[0].Config().MaxConns != postgres.DefaultMaxConns {
		t.Errorf("MaxConns = %d, want %d", pools[0].Config().MaxConns, postgres.DefaultMaxConns)
	}
}

func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := postgres.Connect(ctx, "postgres://postgres@127.0.0.1:1/idpbot?sslmode=disable")
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if !postgres.IsUnreachable(err) {
		t.Errorf("IsUnreachable(%v) = false, want true", err)
	}
}

func TestConnectTimeoutIsUnreachable(t *testing.T) {
	t.Parallel()
	// A server that accepts connections but never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	_, err = postgres.Connect(context.Background(), "postgres://postgres@"+ln.Addr().String()+"/idpbot?sslmode=disable&connect_timeout=1")
	if err == nil {
		t.Fatal("Connect to a silent server succeeded")
	}
	if !postgres.IsUnreachable(err) {
		t.Errorf("IsUnreachable(%v) = false, want true", err)
	}
}

func TestIsUnreachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{fmt.Errorf("query: %w", &pgconn.PgError{Code: "3D000", Message: `database "x" does not exist`}), false},
		{fmt.Errorf("query: %w", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}), false},
		{fmt.Errorf("query: %w", context.Canceled), false},
	}
	for _, tt := range tests {
		if got := postgres.IsUnreachable(tt.err); got != tt.want {
			t.Errorf("IsUnreachable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, postgrestest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	if ok, err := postgres.MigrationsCurrent(ctx, pool); err != nil || ok {
		t.Errorf("MigrationsCurrent on an empty schema = %v, %v; want false", ok, err)
	}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = postgres.Migrate(ctx, pool) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate #%d = %v", i, err)
		}
	}
	if ok, err := postgres.MigrationsCurrent(ctx, pool); err != nil || !ok {
		t.Errorf("MigrationsCurrent after Migrate = %v, %v; want true", ok, err)
	}
	// Applied once: migrating again is a no-op, and the tables exist.
	if err := postgres.Migrate(ctx, pool); err != nil {
		t.Errorf("Migrate again = %v", err)
	}
	for _, table := range []string{"resources", "events", "deliveries", "threads", "river_job", "goose_db_version"} {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}
