package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

// role is an existing role on the target.
type role struct {
	name      string
	superuser bool
	canLogin  bool
	connLimit int
	comment   *string
}

// lookupRole returns the role called name, or nil when there is none.
func lookupRole(ctx context.Context, conn *pgx.Conn, name string) (*role, error) {
	r := role{name: name}
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, name).
		Scan(&r.superuser, &r.canLogin, &r.connLimit, &r.comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(ctx, "look up role "+name, err)
	}
	return &r, nil
}

// foreign says why the role is not one idpbot created for resource res, or
// returns "" when it is.
func (r *role) foreign(res *platform.Resource) string {
	m, ok := parseMarker(r.comment)
	switch {
	case !ok:
		return "idpbot did not create it"
	case m.ResourceID != res.ID:
		return fmt.Sprintf("it belongs to request #%d (delete #%d first)", m.ResourceID, m.ResourceID)
	case r.superuser:
		return "it has been made a superuser"
	}
	return ""
}

// roleAttributes are the attributes of a managed role: it logs in and can do
// nothing beyond what its database grants it. It keeps INHERIT: that is how
// a database owner gets the public schema, owned by pg_database_owner since
// PostgreSQL 15; the role is granted no other role.
const roleAttributes = "LOGIN NOCREATEDB NOCREATEROLE INHERIT"

// createRoleSQL returns the statement creating a role with a connection
// limit and a SCRAM verifier (never the password itself).
func createRoleSQL(name string, limit int, verifier string) string {
	return "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " WITH " + roleAttributes +
		" NOSUPERUSER NOREPLICATION NOBYPASSRLS CONNECTION LIMIT " + strconv.Itoa(limit) +
		" PASSWORD " + quoteLiteral(verifier)
}

// alterRoleSQL returns the statement resetting an existing managed role. It
// leaves SUPERUSER, REPLICATION and BYPASSRLS unnamed: naming them needs a
// superuser, and ensureRole refuses a role that has them.
func alterRoleSQL(name string, limit int, verifier string) string {
	return "ALTER ROLE " + pgx.Identifier{name}.Sanitize() + " WITH " + roleAttributes +
		" CONNECTION LIMIT " + strconv.Itoa(limit) + " PASSWORD " + quoteLiteral(verifier)
}

// ensureRole creates the resource's login role, or, when a previous attempt
// made it, gives it a new password (the old one was never delivered) and the
// connection limit of the current size.
func ensureRole(ctx context.Context, conn *pgx.Conn, step func(string), res *platform.Resource, name string, limit int, verifier string) error {
	existing, err := lookupRole(ctx, conn, name)
	if err != nil {
		return err
	}
	if existing == nil {
		step(fmt.Sprintf("creating role %s (connection limit %d)", name, limit))
		mark := marker{ManagedBy: managedBy, ResourceID: res.ID, Service: res.Service, Team: res.Team, Environment: res.Environment, Name: res.Name}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, createRoleSQL(name, limit, verifier)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "COMMENT ON ROLE "+pgx.Identifier{name}.Sanitize()+" IS "+quoteLiteral(mark.String()))
			return err
		})
		switch {
		case err == nil:
			return grantToAdmin(ctx, conn, name)
		case !alreadyExists(err):
			return classify(ctx, "create role "+name, err)
		}
		// Created concurrently: treat it as one that existed.
		if existing, err = lookupRole(ctx, conn, name); err != nil {
			return err
		}
		if existing == nil {
			return fmt.Errorf("create role %s: reported as existing but not found", name)
		}
	}
	if why := existing.foreign(res); why != "" {
		return platform.Errorf(platform.Conflict, "role %s already exists on the postgres target, but %s; choose another name", name, why)
	}
	step(fmt.Sprintf("role %s already exists: setting a new password and connection limit %d", name, limit))
	if _, err := conn.Exec(ctx, alterRoleSQL(name, limit, verifier)); err != nil {
		return classify(ctx, "alter role "+name, err)
	}
	return grantToAdmin(ctx, conn, name)
}

// grantToAdmin makes a non-superuser admin a member of the role, which
// CREATE DATABASE … OWNER and DROP DATABASE require of it.
func grantToAdmin(ctx context.Context, conn *pgx.Conn, name string) error {
	var super bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return classify(ctx, "check admin role", err)
	}
	if super {
		return nil
	}
	if _, err := conn.Exec(ctx, "GRANT "+pgx.Identifier{name}.Sanitize()+" TO CURRENT_USER"); err != nil {
		return classify(ctx, "grant role "+name+" to admin", err)
	}
	return nil
}

// closeSessions stops the role from logging in and ends its sessions.
func closeSessions(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" NOLOGIN"); err != nil {
		return classify(ctx, "disable login of role "+name, err)
	}
	_, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`, name)
	if err != nil {
		return classify(ctx, "terminate sessions of role "+name, err)
	}
	return nil
}

// dropRole drops the role if it exists.
func dropRole(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return classify(ctx, "drop role "+name, err)
	}
	return nil
}
