package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// RecordDrift stores st as the last known live condition of resource id,
// if it is still ready. When it is the first condition stored and it is
// drifted, or when whether it is drifted differs from the stored one, it
// records note in the resource's history in the same transaction (through
// the same path as every event, so its thread is told) and returns true.
// The resource row is locked and the write is conditional (only a change of
// drifted counts), so that checks racing in two processes note a change
// once.
func (s *Store) RecordDrift(ctx context.Context, id int64, st platform.LiveStatus, note platform.Event) (bool, error) {
	checks, err := json.Marshal(checkList(st.Checks))
	if err != nil {
		return false, fmt.Errorf("record drift of resource %d: %w", id, err)
	}
	now := s.timestamp()
	at := st.ReadAt.Truncate(time.Microsecond)
	if at.IsZero() {
		at = now
	}
	var noted bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		noted = false
		r, err := scanResource(tx.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1 FOR NO KEY UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		if r.State != platform.Ready {
			return nil // it moved on while it was read: nothing to say
		}
		drifted := st.Health.Drifted()
		var inserted bool
		err = tx.QueryRow(ctx, `INSERT INTO resource_drift AS d (resource_id, health, drifted, summary, checks, checked_at, since)
			VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (resource_id) DO UPDATE SET health = EXCLUDED.health, drifted = EXCLUDED.drifted,
				summary = EXCLUDED.summary, checks = EXCLUDED.checks, checked_at = EXCLUDED.checked_at, since = EXCLUDED.since
			WHERE d.drifted IS DISTINCT FROM EXCLUDED.drifted
			RETURNING xmax = 0`, id, string(st.Health), drifted, st.Summary, checks, at).Scan(&inserted)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Unchanged: keep since, refresh what was read.
			_, err = tx.Exec(ctx, `UPDATE resource_drift SET health = $2, summary = $3, checks = $4, checked_at = $5 WHERE resource_id = $1`,
				id, string(st.Health), st.Summary, checks, at)
			return err
		case err != nil:
			return err
		case inserted && !drifted:
			return nil // the first check found it healthy: nothing changed
		}
		noted = true
		return s.recordOther(ctx, tx, r, note, now)
	})
	if err != nil {
		return false, wrap(fmt.Sprintf("record drift of resource %d", id), err)
	}
	return noted, nil
}

// DriftCounts counts the ready resources whose last known condition is
// drifted, by service type and environment.
func (s *Store) DriftCounts(ctx context.Context) ([]platform.DriftCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.service_type, r.environment, count(*)
		FROM resource_drift d JOIN resources r ON r.id = d.resource_id
		WHERE d.drifted AND r.state = 'ready'
		GROUP BY r.service_type, r.environment ORDER BY 1, 2`)
	if err != nil {
		return nil, wrap("count drifted resources", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (platform.DriftCount, error) {
		var c platform.DriftCount
		err := row.Scan(&c.ServiceType, &c.Environment, &c.Drifted)
		return c, err
	})
	if err != nil {
		return nil, wrap("count drifted resources", err)
	}
	return out, nil
}

// LastDrift returns the last known live condition of resource id, and
// false when the drift check has not read it.
func (s *Store) LastDrift(ctx context.Context, id int64) (platform.LiveStatus, bool, error) {
	var (
		st     platform.LiveStatus
		health string
		checks []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT health, summary, checks, checked_at FROM resource_drift WHERE resource_id = $1`, id).
		Scan(&health, &st.Summary, &checks, &st.ReadAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return platform.LiveStatus{}, false, nil
	}
	if err != nil {
		return platform.LiveStatus{}, false, wrap(fmt.Sprintf("drift of resource %d", id), err)
	}
	st.Health = platform.Health(health)
	if err := json.Unmarshal(checks, &st.Checks); err != nil {
		return platform.LiveStatus{}, false, fmt.Errorf("drift of resource %d: %w", id, err)
	}
	if len(st.Checks) == 0 {
		st.Checks = nil
	}
	return st, true, nil
}

func checkList(c []platform.LiveCheck) []platform.LiveCheck {
	if c == nil {
		return []platform.LiveCheck{}
	}
	return c
}
