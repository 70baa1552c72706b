package postgres

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/idpbot/idpbot/migrations"
)

// migrateLockKey is the advisory lock that serializes migrations of one
// schema across replicas; it is derived from the schema so that separate
// schemas (tests) migrate independently.
const migrateLockKey = `hashtextextended('idpbot-migrate/' || current_schema(), 0)`

// Migrate brings the database up to date: River's tables first, then
// idpbot's own migrations. Concurrent callers (replicas starting together)
// take turns on an advisory lock held for the whole run.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := MigrateUp(ctx, pool)
	return err
}

// MigrateUp is Migrate that also says how many migrations (River's and
// idpbot's) it applied: 0 when the database was up to date.
func MigrateUp(ctx context.Context, pool *pgxpool.Pool) (applied int, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, wrap("migrate: acquire connection", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+migrateLockKey+")"); err != nil {
		return 0, wrap("migrate: take lock", err)
	}
	defer func() {
		// Unlocking on a cancelled context would fail and leave the lock
		// held by a pooled connection; do it regardless.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+migrateLockKey+")"); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	river, err := riverMigrator(pool)
	if err != nil {
		return 0, err
	}
	rres, err := river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, wrap("migrate river", err)
	}
	applied = len(rres.Versions)
	p, db, err := gooseProvider(pool)
	if err != nil {
		return applied, err
	}
	defer db.Close()
	gres, err := p.Up(ctx)
	if err != nil {
		return applied, wrap("migrate", err)
	}
	return applied + len(gres), nil
}

// MigrationsCurrent reports whether every migration compiled into the
// binary (River's and idpbot's) has been applied.
func MigrationsCurrent(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	river, err := riverMigrator(pool)
	if err != nil {
		return false, err
	}
	applied, err := river.ExistingVersions(ctx)
	if err != nil {
		return false, wrap("check river migrations", err)
	}
	have := make(map[int]bool, len(applied))
	for _, m := range applied {
		have[m.Version] = true
	}
	for _, m := range river.AllVersions() {
		if !have[m.Version] {
			return false, nil
		}
	}
	p, db, err := gooseProvider(pool)
	if err != nil {
		return false, err
	}
	defer db.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, wrap("check migrations", err)
	}
	return !pending, nil
}

var discardLogger = slog.New(slog.DiscardHandler)

func riverMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: discardLogger})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	return m, nil
}

// gooseProvider returns a goose provider for idpbot's embedded migrations
// and the database handle it uses, which the caller closes.
func gooseProvider(pool *pgxpool.Pool) (*goose.Provider, interface{ Close() error }, error) {
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("goose provider: %w", err)
	}
	return p, db, nil
}
