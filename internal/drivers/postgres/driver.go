// Package postgres is the provisioner driver for PostgreSQL databases. For
// each resource it creates, on a target server, a login role with a random
// password and a database owned by it, named after the resource's team,
// environment and name, and drops both when the resource is deleted.
//
// It is imported with an alias: internal/platform/postgres is the store.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

// DefaultTimeout bounds one provisioning or deprovisioning attempt when
// Config.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// applicationName identifies the driver's sessions in pg_stat_activity.
const applicationName = "idpbot"

// Config is where the driver provisions.
type Config struct {
	// AdminURL is a connection string (URL or keyword/value) for a superuser,
	// or a role with CREATEROLE and CREATEDB, on the target server.
	AdminURL string
	// PublicHost is the "host" or "host:port" clients reach the target at,
	// when it differs from the admin URL's (optional).
	PublicHost string
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
}

// Driver provisions postgresql-database resources on one PostgreSQL server.
// It holds no connection: each call connects and disconnects.
type Driver struct {
	cfg Config
	// check is Check's answer: the config does not change, and every
	// create form asks (pgx.ParseConfig is costly).
	check func() error
}

var _ platform.Driver = (*Driver)(nil)

// New returns a driver for cfg. It does no I/O.
func New(cfg Config) *Driver {
	d := &Driver{cfg: cfg}
	d.check = sync.OnceValue(d.checkConfig)
	return d
}

// Check returns an Unavailable error when no target is configured or its
// admin URL cannot be parsed, nil otherwise. It does not connect.
func (d *Driver) Check() error { return d.check() }

func (d *Driver) checkConfig() error {
	if d.cfg.AdminURL == "" {
		return platform.Errorf(platform.Unavailable, "no postgres target configured")
	}
	if _, err := pgx.ParseConfig(d.cfg.AdminURL); err != nil {
		return platform.Wrap(platform.Unavailable, err, "the postgres target's admin_url is not a valid connection string")
	}
	return nil
}

// Timeout bounds one provisioning or deprovisioning attempt.
func (d *Driver) Timeout() time.Duration {
	if d.cfg.Timeout > 0 {
		return d.cfg.Timeout
	}
	return DefaultTimeout
}

// Provision creates the resource's role and database, or finds what a
// previous attempt made, and returns the connection details: host, port,
// database, username and connection_limit as outputs, password and a
// postgres:// URL as secrets. The role's connection limit follows the
// resource's size; high availability and backup retention are recorded in
// the database's comment.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	res := job.Resource
	if res == nil {
		return platform.Result{}, errors.New("provision: job has no resource")
	}
	if err := checkNames(res); err != nil {
		return platform.Result{}, err
	}
	s, err := settingsOf(job)
	if err != nil {
		return platform.Result{}, err
	}
	password, err := newPassword()
	if err != nil {
		return platform.Result{}, err
	}
	verifier, err := scramVerifier(password)
	if err != nil {
		return platform.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	name := identifier(res.Team, res.Environment, res.Name)
	conn, admin, err := d.connect(ctx, name)
	if err != nil {
		return platform.Result{}, err
	}
	defer closeConn(ctx, conn)

	step := stepper(job)
	// A database of this name owned by someone else would make the role
	// useless: refuse before creating anything.
	if owner, exists, err := databaseOwner(ctx, conn, name); err != nil {
		return platform.Result{}, err
	} else if exists && owner != name {
		return platform.Result{}, errForeignDatabase(name)
	}
	if err := ensureRole(ctx, conn, step, res, name, s.connectionLimit, verifier); err != nil {
		return platform.Result{}, err
	}
	if err := ensureDatabase(ctx, conn, step, name, name); err != nil {
		return platform.Result{}, err
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

	host, port := endpoint(admin, d.cfg.PublicHost)
	return platform.Result{
		Outputs: map[string]string{
			"host":             host,
			"port":             port,
			"database":         name,
			"username":         name,
			"connection_limit": strconv.Itoa(s.connectionLimit),
		},
		Secrets: map[string]string{
			"password": password,
			"url":      connectionURL(host, port, name, password, name, sslMode(d.cfg.AdminURL)),
		},
	}, nil
}

// Deprovision ends the role's sessions and drops the database and the role.
// What is already gone is skipped, so a second call succeeds. A role or
// database of the same name that idpbot did not create for this resource is
// never touched; a step says so.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	res := job.Resource
	if res == nil {
		return errors.New("deprovision: job has no resource")
	}
	step := stepper(job)
	if err := checkNames(res); err != nil {
		// Provision refuses such names, so nothing was created.
		step("nothing to drop: no database was created for this name")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	name := identifier(res.Team, res.Environment, res.Name)
	conn, _, err := d.connect(ctx, name)
	if err != nil {
		return err
	}
	defer closeConn(ctx, conn)

	r, err := lookupRole(ctx, conn, name)
	if err != nil {
		return err
	}
	roleGone := r == nil
	if r != nil {
		if why := r.foreign(res); why != "" {
			step(fmt.Sprintf("leaving role %s alone: %s", name, why))
			r = nil
		}
	}
	owner, exists, err := databaseOwner(ctx, conn, name)
	if err != nil {
		return err
	}
	switch {
	case !exists:
		step(fmt.Sprintf("database %s is already gone", name))
	case r == nil || owner != name:
		step(fmt.Sprintf("leaving database %s alone: it belongs to role %s, which idpbot did not create for %s", name, owner, res.Ref()))
		exists = false
	}
	if r == nil {
		if roleGone {
			step(fmt.Sprintf("role %s is already gone", name))
		}
		return nil
	}
	step(fmt.Sprintf("closing connections of role %s", name))
	if err := closeSessions(ctx, conn, name); err != nil {
		return err
	}
	if exists {
		step(fmt.Sprintf("dropping database %s", name))
		if err := dropDatabase(ctx, conn, name); err != nil {
			return err
		}
	}
	step(fmt.Sprintf("dropping role %s", name))
	return dropRole(ctx, conn, name)
}

// connect opens a session on the target and takes the advisory lock of the
// named resource for the session's life, so that two attempts on the same
// resource (a job retried while a timed-out one still runs on the server)
// take turns.
func (d *Driver) connect(ctx context.Context, name string) (*pgx.Conn, *pgx.ConnConfig, error) {
	if err := d.Check(); err != nil {
		return nil, nil, err
	}
	cfg, err := pgx.ParseConfig(d.cfg.AdminURL)
	if err != nil {
		return nil, nil, platform.Wrap(platform.Unavailable, err, "the postgres target's admin_url is not a valid connection string")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, classify(ctx, "connect to postgres target", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey(name)); err != nil {
		closeConn(ctx, conn)
		return nil, nil, classify(ctx, "lock "+name, err)
	}
	return conn, cfg, nil
}

// lockKey is the advisory lock key of a resource's role and database.
func lockKey(name string) int64 {
	sum := sha256.Sum256([]byte("idpbot/drivers/postgres/" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// closeConn closes conn even when ctx has ended, which also releases the
// session's advisory lock.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// stepper returns the job's progress reporter, or one that drops steps.
func stepper(job platform.Job) func(string) {
	if job.Step == nil {
		return func(string) {}
	}
	return job.Step
}
