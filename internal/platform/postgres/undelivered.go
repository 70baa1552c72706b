package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// Undelivered finds resources whose thread lost its delivery: events after
// the delivery cursor of the platform the resource was requested from
// (Deliver), the newest of them recorded more than stale ago, and no live
// River job of notifyKind (available, pending, running, retryable or
// scheduled) for that resource and platform whose event_id reaches the
// newest event — a job of a later event delivers the earlier ones too. A
// notification job discarded after its last attempt, deleted by an
// operator, or never enqueued by an older version leaves such a backlog;
// secret events are part of it until their private delivery advances the
// cursor. It calls fn with each of up to limit such resources, oldest
// first, and the ID of its newest event.
func (s *Store) Undelivered(ctx context.Context, notifyKind string, stale time.Duration, limit int,
	fn func(r *platform.Resource, upTo int64)) error {
	rows, err := s.pool.Query(ctx, `
		SELECT `+resourceColumns+`, newest_event_id FROM (
		SELECT r.*, newest.id AS newest_event_id FROM resources r
		CROSS JOIN LATERAL (SELECT e.id, e.at FROM events e WHERE e.resource_id = r.id ORDER BY e.id DESC LIMIT 1) newest
		LEFT JOIN deliveries d ON d.resource_id = r.id AND d.platform = r.origin_platform
		WHERE r.origin_platform <> ''
		  AND newest.id > coalesce(d.last_event_id, 0)
		  AND newest.at < now() - make_interval(secs => $2)
		  AND NOT EXISTS (
		    SELECT 1 FROM `+s.riverJobs+` j
		    WHERE j.kind = $1
		      AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled')
		      AND (j.args->>'resource_id')::bigint = r.id
		      AND j.args->>'platform' = r.origin_platform
		      AND (j.args->>'event_id')::bigint >= newest.id)
		ORDER BY r.id LIMIT $3) backlog
		ORDER BY id`, notifyKind, stale.Seconds(), limit)
	if err != nil {
		return wrap("find undelivered events", err)
	}
	defer rows.Close()
	type backlog struct {
		r    *platform.Resource
		upTo int64
	}
	var found []backlog
	for rows.Next() {
		var upTo int64
		r, err := scanResource(rowWith{rows, &upTo})
		if err != nil {
			return wrap("find undelivered events", err)
		}
		found = append(found, backlog{r, upTo})
	}
	if err := rows.Err(); err != nil {
		return wrap("find undelivered events", err)
	}
	for _, b := range found {
		fn(b.r, b.upTo)
	}
	return nil
}

// rowWith is a row whose columns after a resource's are scanned into
// extra.
type rowWith struct {
	pgx.Row
	extra any
}

func (r rowWith) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra)...) }

// deliveryJobOf is the condition on River's jobs that they are delivery
// jobs of kind $1 for resource $3 on platform $2.
const deliveryJobOf = `kind = $1 AND args @> jsonb_build_object('platform', $2::text, 'resource_id', $3::bigint)`

// Superseded reports whether a later delivery job of notifyKind than
// jobID, for the same resource and platform, is still to run or running:
// it delivers every event recorded before it was inserted, those of jobID
// included, so jobID has nothing to do that the later one will not.
func (s *Store) Superseded(ctx context.Context, notifyKind, platformName string, resourceID, jobID int64) (bool, error) {
	var later bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM `+s.riverJobs+`
		WHERE `+deliveryJobOf+` AND id > $4
		  AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled'))`,
		notifyKind, platformName, resourceID, jobID).Scan(&later)
	return later, wrap("look for a later delivery job", err)
}

// Supersede deletes, in tx, the delivery jobs of notifyKind for a
// resource on a platform that wait to run (available, or snoozed until
// their channel's turn), River's tables being in riverSchema: the caller
// inserts the job that delivers every event they would have. A job
// already running or retrying stays, and finds itself Superseded.
func Supersede(ctx context.Context, tx pgx.Tx, riverSchema, notifyKind, platformName string, resourceID int64) error {
	_, err := tx.Exec(ctx, `DELETE FROM `+riverJobsTable(riverSchema)+`
		WHERE `+deliveryJobOf+` AND state IN ('available', 'scheduled')`,
		notifyKind, platformName, resourceID)
	return wrap("delete the delivery jobs superseded", err)
}
