// Package postgres holds all SQL on idpbot's own database: resources, their
// audit events, the outbox cursors of chat deliveries, chat thread
// references, approval cards and support tickets (Store, which implements
// platform.Store, jobs.Store, jobs.CardStore and jobs.TicketStore), surveys (Surveys,
// survey.Store), usage digests (Digests, digest.Store) and webhook callbacks
// (Callbacks, webhook.CallbackStore). It also applies the schema migrations
// (idpbot's own with goose, River's with rivermigrate).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
)

// ConnectTimeout bounds each attempt to open a connection when the URL sets
// no connect_timeout.
const ConnectTimeout = 5 * time.Second

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns:
// River's listener, producers and outbox deliveries each hold a connection
// at times, so pgxpool's default of 4 is too small.
const DefaultMaxConns = 20

// SQLSTATE codes this package acts on.
const (
	codeInvalidCatalogName = "3D000" // database does not exist
	codeDuplicateDatabase  = "42P04"
	codeUniqueViolation    = "23505"
	codeForeignKey         = "23503"
	codeLockNotAvailable   = "55P03"
)

// Connect opens a pool to the database at url. When that database does not
// exist it is created (through the server's postgres database) first. An
// error for which IsUnreachable is true means no server answered.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return ConnectConfig(ctx, cfg)
}

// ParseConfig parses a DSN into a pool configuration with idpbot's defaults
// (connect timeout, pool size) where the DSN sets none.
func ParseConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	return cfg, nil
}

// ConnectConfig is Connect with a parsed configuration.
func ConnectConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := open(ctx, cfg)
	if err == nil {
		return pool, nil
	}
	if sqlState(err) != codeInvalidCatalogName {
		return nil, err
	}
	if err := createDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	return open(ctx, cfg)
}

// open builds a pool and checks that a connection can be made.
func open(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// createDatabase creates the database cfg names, connecting to the server's
// postgres database. A database created concurrently by someone else is fine.
func createDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	admin := cfg.Copy()
	name := admin.Database
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to database postgres to create %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	// A concurrent creator makes this fail with duplicate_database, or with
	// a unique violation on pg_database when both got past the name check.
	if err != nil && sqlState(err) != codeDuplicateDatabase && sqlState(err) != codeUniqueViolation {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// IsUnreachable reports whether err means that no database server answered:
// the connection was refused, timed out, or its host or socket does not
// exist. Authentication failures, missing databases and query errors are not.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return false
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ENOENT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
			return true
		}
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return true
		}
	}
	return false
}

// unavailable reports whether err means the database cannot be used right
// now: unreachable, shutting down, or the connection was lost.
func unavailable(err error) bool {
	if IsUnreachable(err) {
		return true
	}
	switch s := sqlState(err); {
	case strings.HasPrefix(s, "08"), s == "57P01", s == "57P02", s == "57P03":
		return true
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr)
}

// unavailableMessage is what a person sees when the database is down.
const unavailableMessage = "The database is not reachable right now; nothing was changed. Try again in a minute."

// wrap adds context to err and classifies it: platform Errors pass through,
// an unreachable database becomes Unavailable, anything else is wrapped.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *platform.Error
	if errors.As(err, &pe) {
		return err
	}
	if unavailable(err) {
		return platform.Wrap(platform.Unavailable, fmt.Errorf("%s: %w", op, err), unavailableMessage)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// sqlState returns the SQLSTATE of the PostgreSQL error in err's chain.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Redact returns dsn with any password replaced, for logs and messages.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
