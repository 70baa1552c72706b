package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestLocalPostgres starts a private cluster as the bot does when no server
// answers (as the postgres user when the test runs as root), connects to
// it, starts it again (a no-op) and stops it.
func TestLocalPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	t.Parallel()
	bin, ok := postgresBinDir()
	if !ok {
		t.Skip("PostgreSQL's binaries are not installed")
	}
	// The server's user must reach the directory: not under a 0700 temp dir.
	base, err := os.MkdirTemp("", "idpbot-localpg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	lp, err := newLocalPostgres(bin, filepath.Join(base, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lp.Stop(); err != nil {
			t.Logf("stop: %v", err)
		}
		os.RemoveAll(base)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lp.Start(ctx); err != nil {
		t.Fatalf("Start = %v", err)
	}
	conn, err := pgx.Connect(ctx, lp.URL("postgres"))
	if err != nil {
		t.Fatalf("connect to the private cluster: %v", err)
	}
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != "postgres" {
		t.Errorf("current_user = %q, %v; want postgres", user, err)
	}
	conn.Close(ctx)
	port := lp.port
	again, _ := newLocalPostgres(bin, lp.dir)
	if err := again.Start(ctx); err != nil || again.port != port {
		t.Errorf("second Start = %v on port %d, want the running cluster on %d", err, again.port, port)
	}
}
