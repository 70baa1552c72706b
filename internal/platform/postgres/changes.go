package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.ChangeStore = (*Store)(nil)

// openChangeIndex is the unique index that holds one open change per
// resource.
const openChangeIndex = "resource_changes_open_key"

const changeColumns = `id, resource_id, actor_id, actor_name, actor_email, old_parameters, new_parameters,
	status, needed, approvers, reason, created_at, updated_at`

// AddChange implements platform.ChangeStore.
func (s *Store) AddChange(ctx context.Context, c *platform.Change) error {
	now := s.timestamp()
	old, err := json.Marshal(nonNil(c.Old))
	if err != nil {
		return fmt.Errorf("encode old parameters: %w", err)
	}
	next, err := json.Marshal(nonNil(c.New))
	if err != nil {
		return fmt.Errorf("encode new parameters: %w", err)
	}
	approvers, err := json.Marshal(approverList(c.Approvers))
	if err != nil {
		return fmt.Errorf("encode approvers: %w", err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO resource_changes (resource_id, actor_id, actor_name, actor_email,
			old_parameters, new_parameters, status, needed, approvers, reason, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
		c.ResourceID, c.Actor.ID, c.Actor.Name, c.Actor.Email, old, next, string(c.Status), c.Needed, approvers, c.Reason, now).Scan(&c.ID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation && pgErr.ConstraintName == openChangeIndex {
		return &platform.Error{Code: platform.Conflict, Message: fmt.Sprintf("#%d already has a change in progress.", c.ResourceID), Err: err}
	}
	if err != nil {
		return fmt.Errorf("add change of #%d: %w", c.ResourceID, err)
	}
	c.CreatedAt, c.UpdatedAt = now, now
	return nil
}

// OpenChange implements platform.ChangeStore.
func (s *Store) OpenChange(ctx context.Context, resourceID int64) (*platform.Change, error) {
	c, err := scanChange(s.pool.QueryRow(ctx, `SELECT `+changeColumns+` FROM resource_changes
		WHERE resource_id = $1 AND status IN ('pending', 'applying', 'failed')`, resourceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, platform.Errorf(platform.NotFound, "#%d has no open change.", resourceID)
	}
	if err != nil {
		return nil, fmt.Errorf("open change of #%d: %w", resourceID, err)
	}
	return c, nil
}

// PendingChanges implements platform.ChangeStore.
func (s *Store) PendingChanges(ctx context.Context, limit int) ([]*platform.Change, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+changeColumns+` FROM resource_changes
		WHERE status = 'pending' ORDER BY created_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending changes: %w", err)
	}
	defer rows.Close()
	var out []*platform.Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("pending changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending changes: %w", err)
	}
	return out, nil
}

// SaveChange implements platform.ChangeStore.
func (s *Store) SaveChange(ctx context.Context, c *platform.Change) error {
	now := s.timestamp()
	approvers, err := json.Marshal(approverList(c.Approvers))
	if err != nil {
		return fmt.Errorf("encode approvers: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE resource_changes SET status = $2, approvers = $3, reason = $4, updated_at = $5 WHERE id = $1`,
		c.ID, string(c.Status), approvers, c.Reason, now)
	if err != nil {
		return fmt.Errorf("save change %d: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return platform.Errorf(platform.NotFound, "There is no change %d.", c.ID)
	}
	c.UpdatedAt = now
	return nil
}

func scanChange(row pgx.Row) (*platform.Change, error) {
	var (
		c                    platform.Change
		old, next, approvers []byte
		status               string
	)
	if err := row.Scan(&c.ID, &c.ResourceID, &c.Actor.ID, &c.Actor.Name, &c.Actor.Email, &old, &next,
		&status, &c.Needed, &approvers, &c.Reason, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.Status = platform.ChangeStatus(status)
	var err error
	if c.Old, err = decodeParameters(old); err != nil {
		return nil, fmt.Errorf("change %d: old parameters: %w", c.ID, err)
	}
	if c.New, err = decodeParameters(next); err != nil {
		return nil, fmt.Errorf("change %d: new parameters: %w", c.ID, err)
	}
	if err := json.Unmarshal(approvers, &c.Approvers); err != nil {
		return nil, fmt.Errorf("change %d: approvers: %w", c.ID, err)
	}
	if len(c.Approvers) == 0 {
		c.Approvers = nil
	}
	return &c, nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func approverList(a []platform.Actor) []platform.Actor {
	if a == nil {
		return []platform.Actor{}
	}
	return a
}
