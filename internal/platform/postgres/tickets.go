package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/commands"
)

// CreateTicket records support ticket t (table support_tickets) and calls
// enqueue with it, ID and CreatedAt set, in the same transaction. A ticket
// with the IdempotencyKey of one recorded before is that ticket, and
// enqueue is not called again: the earlier transaction did.
func (s *Store) CreateTicket(ctx context.Context, t commands.Ticket, enqueue func(ctx context.Context, tx pgx.Tx, t commands.Ticket) error) (commands.Ticket, error) {
	var key *string
	if t.IdempotencyKey != "" {
		key = &t.IdempotencyKey
	}
	teams := t.Teams
	if teams == nil {
		teams = []string{}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO support_tickets (category, body, requester_id, requester_name, requester_email, teams, platform, channel, idempotency_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id, created_at`,
			t.Category, t.Text, t.Requester.ID, t.Requester.Name, t.Requester.Email, teams, t.Platform, t.Channel, key).Scan(&t.ID, &t.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			// Recorded by an earlier delivery of the same command, whose
			// transaction also enqueued the posts.
			return tx.QueryRow(ctx, `SELECT id, created_at FROM support_tickets WHERE idempotency_key = $1`, key).Scan(&t.ID, &t.CreatedAt)
		}
		if err != nil {
			return err
		}
		return enqueue(ctx, tx, t)
	})
	if err != nil {
		return commands.Ticket{}, wrap("record support ticket", err)
	}
	return t, nil
}
