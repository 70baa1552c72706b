package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.Rotator = (*Driver)(nil)

// Rotate gives the resource's role a new random password, sent to the
// server as a SCRAM verifier (never in plain text), and returns it with
// the new connection URL, in the shape Provision's secrets have. From then
// on the old password is refused; sessions already open stay open. A role
// that is gone, or that idpbot did not create for this resource, is a
// permanent error and is not touched.
func (d *Driver) Rotate(ctx context.Context, job platform.Job) (map[string]string, error) {
	res := job.Resource
	if res == nil {
		return nil, errors.New("rotate: job has no resource")
	}
	if err := checkNames(res); err != nil {
		return nil, err
	}
	password, err := newPassword()
	if err != nil {
		return nil, err
	}
	verifier, err := scramVerifier(password)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	name := identifier(res.Team, res.Environment, res.Name)
	conn, admin, err := d.connect(ctx, name)
	if err != nil {
		return nil, err
	}
	defer closeConn(ctx, conn)

	r, err := lookupRole(ctx, conn, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, platform.Errorf(platform.Conflict, "role %s no longer exists on the postgres target (removed behind the bot's back?); see /idp status %s", name, res.Ref())
	}
	if why := r.foreign(res); why != "" {
		return nil, platform.Errorf(platform.Conflict, "role %s on the postgres target cannot be changed: %s", name, why)
	}
	stepper(job)(fmt.Sprintf("setting a new password for role %s", name))
	if _, err := conn.Exec(ctx, rotateRoleSQL(name, verifier)); err != nil {
		return nil, classify(ctx, "set a new password for role "+name, err)
	}
	host, port := endpoint(admin, d.cfg.PublicHost)
	return map[string]string{
		"password": password,
		"url":      connectionURL(host, port, name, password, name, sslMode(d.cfg.AdminURL)),
	}, nil
}

// rotateRoleSQL returns the statement giving role name a new password, as
// its SCRAM verifier.
func rotateRoleSQL(name, verifier string) string {
	return "ALTER ROLE " + pgx.Identifier{name}.Sanitize() + " WITH PASSWORD " + quoteLiteral(verifier)
}
