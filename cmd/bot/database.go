package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/tracing"
)

// connect opens the database (creating it if missing) and applies the
// migrations. When DATABASE_URL is not set and no server answers at the
// default address, but PostgreSQL is installed, it starts a private
// cluster under the data directory and returns an env whose DATABASE_URL
// is that cluster's, and how many migrations it applied. When no database
// can be had it returns a userError saying what to do.
func connect(ctx context.Context, g env, stderr io.Writer) (_ *pgxpool.Pool, _ env, migrated int, _ error) {
	dsn := g.or("DATABASE_URL", defaultDatabaseURL)
	pool, err := openPool(ctx, dsn)
	if err != nil && g("DATABASE_URL") == "" && postgres.IsUnreachable(err) {
		if local, lerr := startLocalPostgres(ctx, g, stderr); lerr == nil {
			dsn = local
			orig := g
			g = func(k string) string {
				if k == "DATABASE_URL" {
					return local
				}
				return orig(k)
			}
			pool, err = openPool(ctx, dsn)
		} else {
			fmt.Fprintf(stderr, "idpbot: could not start a private PostgreSQL: %v\n", lerr)
		}
	}
	if err != nil {
		return nil, g, 0, databaseError(dsn, err)
	}
	migrated, err = postgres.MigrateUp(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, g, 0, fmt.Errorf("migrate: %w", err)
	}
	return pool, g, migrated, nil
}

// openPool is postgres.Connect, with the pool's queries traced (otelpgx:
// statements, not their arguments) when tracing is on.
func openPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := postgres.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if tracing.Active() {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	}
	return postgres.ConnectConfig(ctx, cfg)
}

// startLocalPostgres starts the private cluster and returns its URL.
func startLocalPostgres(ctx context.Context, g env, stderr io.Writer) (string, error) {
	bin, ok := postgresBinDir()
	if !ok {
		return "", errors.New("PostgreSQL's binaries are not installed")
	}
	lp, err := newLocalPostgres(bin, localClusterDir(g))
	if err != nil {
		return "", err
	}
	if err := lp.Start(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "idpbot: no PostgreSQL answers at localhost:5432, so it runs a private one in %s (port %d); "+
		"it keeps running for the databases it holds (stop it with: %s -D %s stop). Set DATABASE_URL to use your own server.\n",
		lp.dir, lp.port, filepath.Join(bin, "pg_ctl"), lp.dir)
	return lp.URL("idpbot"), nil
}

func databaseError(dsn string, err error) error {
	where := postgres.Redact(dsn)
	if postgres.IsUnreachable(err) {
		return userError{fmt.Sprintf(`idpbot needs PostgreSQL, and no server answers at %s.
Start one (for example "sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
or "docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16"), or set
DATABASE_URL to a server you can use, e.g. DATABASE_URL=postgres://user:pass@db.example.com:5432/idpbot.
The database itself is created if it does not exist.`, where)}
	}
	return userError{fmt.Sprintf(`idpbot could not open the database at %s:
  %v
Check DATABASE_URL (user, password, database name, sslmode); the user needs the right to create
the database if it does not exist yet.`, where, rootCause(err))}
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// adminURL returns the postgres driver's target: the config's, or the
// server of DATABASE_URL with the maintenance database.
func adminURL(cfg *Config, g env) string {
	if cfg.Drivers.Postgres != nil && cfg.Drivers.Postgres.AdminURL != "" {
		return cfg.Drivers.Postgres.AdminURL
	}
	u, err := url.Parse(g.or("DATABASE_URL", defaultDatabaseURL))
	if err != nil {
		return ""
	}
	u.Path = "/postgres"
	return u.String()
}
