package postgres

import (
	"context"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Orphans returns up to limit requests, oldest first, that are pending,
// provisioning, updating or deleting, unchanged for longer than stale, and have no
// live River job of one of kinds (a job whose args' resource_id is theirs,
// available, pending, running, retryable or scheduled).
func (s *Store) Orphans(ctx context.Context, kinds []string, stale time.Duration, limit int) ([]*platform.Resource, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+resourceColumns+` FROM resources WHERE id IN (
		SELECT r.id FROM resources r
		WHERE r.state IN ('pending', 'provisioning', 'updating', 'deleting')
		  AND r.updated_at < now() - make_interval(secs => $1)
		  AND NOT EXISTS (
		    SELECT 1 FROM `+s.riverJobs+` j
		    WHERE j.kind = ANY($2)
		      AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled')
		      AND (j.args->>'resource_id')::bigint = r.id)
		ORDER BY r.id LIMIT $3)
		ORDER BY id`, stale.Seconds(), kinds, limit)
	if err != nil {
		return nil, wrap("find orphaned requests", err)
	}
	defer rows.Close()
	var out []*platform.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, wrap("find orphaned requests", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("find orphaned requests", err)
	}
	return out, nil
}
