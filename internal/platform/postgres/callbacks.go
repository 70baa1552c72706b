package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/drivers/webhook"
	"github.com/idpbot/idpbot/internal/platform"
)

// Callbacks keeps what webhook receivers report about deliveries (tables
// webhook_callbacks and webhook_callback_steps), shared by every replica.
// It implements webhook.CallbackStore and is safe for concurrent use.
type Callbacks struct {
	pool *pgxpool.Pool
}

// NewCallbacks returns Callbacks on pool. It does no I/O.
func NewCallbacks(pool *pgxpool.Pool) *Callbacks { return &Callbacks{pool: pool} }

// Register implements webhook.CallbackStore.
func (c *Callbacks) Register(ctx context.Context, token string, requestID int64, action string) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO webhook_callbacks (token, request_id, action) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO NOTHING`, token, requestID, action)
	if err != nil {
		return fmt.Errorf("register webhook callback of request %d: %w", requestID, err)
	}
	return nil
}

// Claim implements webhook.CallbackStore.
func (c *Callbacks) Claim(ctx context.Context, token string) (webhook.Callback, error) {
	var cb webhook.Callback
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		// The state first: a final state commits with its last step, so
		// the steps claimed below (a later snapshot) include that step.
		var outputs []byte
		err := tx.QueryRow(ctx, `SELECT state, message, outputs, secrets FROM webhook_callbacks WHERE token = $1`, token).
			Scan(&cb.State, &cb.Message, &outputs, &cb.Secrets)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE webhook_callback_steps SET reported = true
			WHERE token = $1 AND NOT reported RETURNING id, message`, token)
		if err != nil {
			return err
		}
		type step struct {
			id  int64
			msg string
		}
		var steps []step
		for rows.Next() {
			var s step
			if err := rows.Scan(&s.id, &s.msg); err != nil {
				return err
			}
			steps = append(steps, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		sort.Slice(steps, func(i, j int) bool { return steps[i].id < steps[j].id })
		for _, s := range steps {
			cb.Steps = append(cb.Steps, s.msg)
		}
		return json.Unmarshal(outputs, &cb.Outputs)
	})
	if err != nil {
		return webhook.Callback{}, fmt.Errorf("read webhook callback: %w", err)
	}
	return cb, nil
}

// Record implements webhook.CallbackStore.
func (c *Callbacks) Record(ctx context.Context, token string, update func(requestID int64, state string) (webhook.CallbackUpdate, error)) error {
	return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		var requestID int64
		var state string
		err := tx.QueryRow(ctx, `SELECT request_id, state FROM webhook_callbacks WHERE token = $1 FOR UPDATE`, token).Scan(&requestID, &state)
		if errors.Is(err, pgx.ErrNoRows) {
			return platform.Errorf(platform.NotFound, "unknown callback")
		}
		if err != nil {
			return err
		}
		u, err := update(requestID, state)
		if err != nil {
			return err
		}
		if u.Step != "" {
			// At most MaxSteps steps per delivery reach the thread.
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_callback_steps (token, message)
				SELECT $1, $2 WHERE (SELECT count(*) FROM webhook_callback_steps WHERE token = $1) < $3`, token, u.Step, u.MaxSteps); err != nil {
				return err
			}
		}
		outputs := []byte("{}")
		if len(u.Outputs) > 0 {
			if outputs, err = json.Marshal(u.Outputs); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_callbacks SET state = $2, message = $3, outputs = $4, secrets = $5, updated_at = now()
			WHERE token = $1`, token, u.State, u.Message, outputs, u.Secrets)
		return err
	})
}

// Forget implements webhook.CallbackStore.
func (c *Callbacks) Forget(ctx context.Context, requestID int64) error {
	if _, err := c.pool.Exec(ctx, `DELETE FROM webhook_callbacks WHERE request_id = $1`, requestID); err != nil {
		return fmt.Errorf("forget callbacks of request %d: %w", requestID, err)
	}
	return nil
}
