package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// RecordApprovalCard records where an approval card of resource id was
// posted (table approval_cards); recording it again is harmless.
func (s *Store) RecordApprovalCard(ctx context.Context, id int64, card platform.MessageRef) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO approval_cards (resource_id, platform, channel, ref) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, id, card.Platform, card.Channel, card.Ref)
	if err != nil {
		return wrap(fmt.Sprintf("record approval card of resource %d", id), err)
	}
	return nil
}

// ApprovalCards returns where the approval cards of resource id were
// posted, in the order they were.
func (s *Store) ApprovalCards(ctx context.Context, id int64) ([]platform.MessageRef, error) {
	rows, err := s.pool.Query(ctx, `SELECT platform, channel, ref FROM approval_cards WHERE resource_id = $1 ORDER BY posted_at, ref`, id)
	if err != nil {
		return nil, wrap(fmt.Sprintf("approval cards of resource %d", id), err)
	}
	cards, err := pgx.CollectRows(rows, pgx.RowToStructByPos[platform.MessageRef])
	if err != nil {
		return nil, wrap(fmt.Sprintf("approval cards of resource %d", id), err)
	}
	return cards, nil
}

// JobPending reports whether a River job of kind for resource id (its
// args' resource_id) is still to run or running: neither completed,
// cancelled nor discarded.
func (s *Store) JobPending(ctx context.Context, kind string, id int64) (bool, error) {
	var n bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.riverJobs+`
		WHERE kind = $1 AND args->>'resource_id' = $2 AND state NOT IN ('completed', 'cancelled', 'discarded'))`,
		kind, strconv.FormatInt(id, 10)).Scan(&n)
	if err != nil {
		return false, wrap(fmt.Sprintf("pending %s jobs of resource %d", kind, id), err)
	}
	return n, nil
}
