package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// Update implements platform.Store: like Transition, under the same row
// lock, but the state stays as it is and ev is recorded as given (a note).
func (s *Store) Update(ctx context.Context, id int64, ev platform.Event, mutate func(*platform.Resource) error) (*platform.Resource, error) {
	now := s.timestamp()
	var out *platform.Resource
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := scanResource(tx.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1 FOR NO KEY UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		state, created := r.State, r.CreatedAt
		if mutate != nil {
			if err := mutate(r); err != nil {
				return err
			}
		}
		r.ID, r.State, r.CreatedAt, r.UpdatedAt = id, state, created, now
		params, outputs, err := encodeJSON(r.Parameters, r.Outputs)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE resources SET reason = $2, parameters = $3, outputs = $4,
				ready_at = $5, expires_at = $6, updated_at = $7, reminded_at = $8, warned_for = $9
			WHERE id = $1`,
			id, r.Reason, params, outputs, nullTime(r.ReadyAt), nullTime(r.ExpiresAt), now,
			nullTime(r.RemindedAt), nullTime(r.WarnedFor)); err != nil {
			return err
		}
		if err := s.recordOther(ctx, tx, r, ev, now); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("update resource %d", id), err)
	}
	return out, nil
}
