package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

// databaseOwner returns the owner of the database called name, and whether
// it exists.
func databaseOwner(ctx context.Context, conn *pgx.Conn, name string) (string, bool, error) {
	var owner string
	err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, classify(ctx, "look up database "+name, err)
	}
	return owner, true, nil
}

// ensureDatabase creates the database owned by the role, or keeps the one a
// previous attempt made, and closes it to everyone but its owner. CREATE
// DATABASE cannot run in a transaction, so one created concurrently shows up
// as a duplicate and is taken as existing.
func ensureDatabase(ctx context.Context, conn *pgx.Conn, step func(string), name, owner string) error {
	current, exists, err := databaseOwner(ctx, conn, name)
	if err != nil {
		return err
	}
	if !exists {
		step(fmt.Sprintf("creating database %s owned by %s", name, owner))
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+pgx.Identifier{owner}.Sanitize())
		switch {
		case err == nil:
			current = owner
		case alreadyExists(err):
			if current, exists, err = databaseOwner(ctx, conn, name); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("create database %s: reported as existing but not found", name)
			}
		default:
			return classify(ctx, "create database "+name, err)
		}
	} else if current == owner {
		step(fmt.Sprintf("database %s already exists: keeping it", name))
	}
	if current != owner {
		return errForeignDatabase(name)
	}
	if _, err := conn.Exec(ctx, "REVOKE ALL ON DATABASE "+pgx.Identifier{name}.Sanitize()+" FROM PUBLIC"); err != nil {
		return classify(ctx, "revoke public access to database "+name, err)
	}
	return nil
}

// commentDatabase records the marker on the database.
func commentDatabase(ctx context.Context, conn *pgx.Conn, name string, m marker) error {
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" IS "+quoteLiteral(m.String())); err != nil {
		return classify(ctx, "comment on database "+name, err)
	}
	return nil
}

// dropDatabase drops the database if it exists, ending any session still
// connected to it.
func dropDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return classify(ctx, "drop database "+name, err)
	}
	return nil
}

// errForeignDatabase is the Conflict of a database name taken by a database
// idpbot did not create.
func errForeignDatabase(name string) error {
	return platform.Errorf(platform.Conflict, "database %s already exists on the postgres target and belongs to another role; choose another name", name)
}
