package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.Updater = (*Driver)(nil)

// Update applies a change of the resource's parameters: the role's
// connection limit follows the new size and the database's comment records
// the new high availability and backup retention. The password is kept.
// Applying the same change again finds it made. A role or database that
// is gone, or that idpbot did not create for this resource, is a permanent
// error: nothing is created by an update.
func (d *Driver) Update(ctx context.Context, job platform.Job, old map[string]any) (platform.Result, error) {
	res := job.Resource
	if res == nil {
		return platform.Result{}, errors.New("update: job has no resource")
	}
	if err := checkNames(res); err != nil {
		return platform.Result{}, err
	}
	s, err := settingsOf(job)
	if err != nil {
		return platform.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	name := identifier(res.Team, res.Environment, res.Name)
	conn, _, err := d.connect(ctx, name)
	if err != nil {
		return platform.Result{}, err
	}
	defer closeConn(ctx, conn)
	step := stepper(job)

	existing, err := lookupRole(ctx, conn, name)
	if err != nil {
		return platform.Result{}, err
	}
	if existing == nil {
		return platform.Result{}, platform.Errorf(platform.Invalid, "role %s no longer exists on the postgres target; delete %s and create it again", name, res.Name)
	}
	if why := existing.foreign(res); why != "" {
		return platform.Result{}, platform.Errorf(platform.Invalid, "role %s on the postgres target cannot be updated: %s", name, why)
	}
	if owner, exists, err := databaseOwner(ctx, conn, name); err != nil {
		return platform.Result{}, err
	} else if !exists {
		return platform.Result{}, platform.Errorf(platform.Invalid, "database %s no longer exists on the postgres target; delete %s and create it again", name, res.Name)
	} else if owner != name {
		return platform.Result{}, errForeignDatabase(name)
	}

	was := ""
	if prev, err := settingsOf(platform.Job{Resource: &platform.Resource{Parameters: old}, Service: job.Service}); err == nil && prev.connectionLimit != s.connectionLimit {
		was = fmt.Sprintf(" (was %d)", prev.connectionLimit)
	}
	step(fmt.Sprintf("setting the connection limit of role %s to %d%s", name, s.connectionLimit, was))
	if _, err := conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" CONNECTION LIMIT "+strconv.Itoa(s.connectionLimit)); err != nil {
		return platform.Result{}, classify(ctx, "alter role "+name, err)
	}
	step(s.describe())
	m := marker{
		ManagedBy: managedBy, ResourceID: res.ID, Service: res.Service,
		Team: res.Team, Environment: res.Environment, Name: res.Name,
		HighAvailability: &s.highAvailability, BackupRetentionDays: &s.backupDays,
	}
	if err := commentDatabase(ctx, conn, name, m); err != nil {
		return platform.Result{}, err
	}
	return platform.Result{Outputs: map[string]string{"connection_limit": strconv.Itoa(s.connectionLimit)}}, nil
}
