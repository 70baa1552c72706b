package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// leaseKey is the advisory lock key of a River client's lease: a 64-bit
// hash of its ID, the same in every process. Two IDs with one hash only
// make each other look alive, which delays a takeover and never causes one.
const leaseKey = `hashtextextended('idpbot-lease/' || $1::text, 0)`

// Lease is a session-level advisory lock held for a River client ID on a
// connection of its own: while the session lives the lock is held, and the
// moment the session ends (the process is killed, the connection breaks,
// the server restarts) PostgreSQL releases it. That is how other processes
// tell a dead client from a live one without waiting for a timeout.
//
// A session lock needs a session: the connection is made directly from the
// pool's configuration, never borrowed from the pool, and the database URL
// must reach PostgreSQL directly or through session pooling. A PgBouncer in
// transaction mode hands each statement a different server session, so a
// lease taken through it means nothing.
type Lease struct {
	conn      *pgx.Conn
	client    string
	riverJobs string
	riverType string
}

// AcquireLease connects and takes the lease of River client id. It returns
// nil and no error when another session holds that lease.
func (s *Store) AcquireLease(ctx context.Context, client string) (*Lease, error) {
	if client == "" {
		return nil, fmt.Errorf("acquire lease: empty client id")
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, wrap("acquire lease: connect", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+leaseKey+`)`, client).Scan(&ok); err != nil || !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, wrap("acquire lease of "+client, err)
	}
	return &Lease{conn: conn, client: client, riverJobs: s.riverJobs, riverType: riverStateType(s.riverJobs)}, nil
}

// Ping proves the lease's session, and so its lock, is still alive.
func (l *Lease) Ping(ctx context.Context) error {
	return wrap("check lease of "+l.client, l.conn.Ping(ctx))
}

// Close releases the lease and ends its session. The lock is released
// first, in the session: PostgreSQL releases a closed session's locks only
// once its server process has exited, a moment later, and whoever takes
// the lease right after (a restarted process, a takeover) would find it
// still held.
func (l *Lease) Close(ctx context.Context) error {
	_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock(`+leaseKey+`)`, l.client) // a lost session released it already
	return l.conn.Close(ctx)
}

// ReleaseJobs makes every running job whose latest attempt is the lease
// client's runnable again, as River's rescuer does with a stuck job but at
// once: available now if attempts remain (the next fetch counts the next
// attempt, a redelivery), discarded if not, cancelled if cancellation was
// asked for. Each gets an error entry saying why. It runs on the lease's own
// connection, so it acts only while the lease is held (a lost session fails
// the statement): call it only with the lease of a client known to be dead.
// It returns the jobs' IDs.
func (l *Lease) ReleaseJobs(ctx context.Context, why string) ([]int64, error) {
	rows, err := l.conn.Query(ctx, `
		UPDATE `+l.riverJobs+` SET
		  state = (CASE
		    WHEN metadata ? 'cancel_attempted_at' THEN 'cancelled'
		    WHEN attempt < max_attempts THEN 'available'
		    ELSE 'discarded' END)::`+l.riverType+`,
		  finalized_at = CASE
		    WHEN metadata ? 'cancel_attempted_at' OR attempt >= max_attempts THEN now() END,
		  scheduled_at = CASE
		    WHEN metadata ? 'cancel_attempted_at' OR attempt >= max_attempts THEN scheduled_at ELSE now() END,
		  errors = array_append(errors, jsonb_build_object(
		    'at', now(), 'attempt', greatest(attempt, 0), 'error', $2::text, 'trace', '')),
		  metadata = metadata || jsonb_build_object('idpbot:lease_rescue_count',
		    coalesce((metadata->>'idpbot:lease_rescue_count')::int, 0) + 1)
		WHERE state = 'running'
		  AND attempted_by[array_upper(attempted_by, 1)] = $1
		RETURNING id`, l.client, why)
	if err != nil {
		return nil, wrap("release jobs of "+l.client, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, wrap("release jobs of "+l.client, err)
}

// LeasedClients returns the River client IDs starting with prefix, other
// than self, that are the latest attempt of a running job.
func (s *Store) LeasedClients(ctx context.Context, prefix, self string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT attempted_by[array_upper(attempted_by, 1)] FROM `+s.riverJobs+`
		WHERE state = 'running'
		  AND starts_with(attempted_by[array_upper(attempted_by, 1)], $1)
		  AND attempted_by[array_upper(attempted_by, 1)] <> $2`, prefix, self)
	if err != nil {
		return nil, wrap("find clients of running jobs", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("find clients of running jobs", err)
}

// riverStateType is the qualified name of River's job state type, beside
// its job table.
func riverStateType(riverJobs string) string {
	if q, ok := strings.CutSuffix(riverJobs, `"river_job"`); ok {
		return q + `"river_job_state"`
	}
	return strings.TrimSuffix(riverJobs, "river_job") + "river_job_state"
}
