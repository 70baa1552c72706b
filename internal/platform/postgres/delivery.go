package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// Deliver is the outbox of a resource's events for one chat platform. It
// hands fn, in ID order and one at a time, every event of the resource
// after the last one delivered to that platform, up to and including upTo.
// Each event is delivered in its own transaction, which holds the
// platform's cursor row locked while fn runs, so concurrent deliveries of
// one resource take turns and never reorder or repeat a delivered event.
// Once fn succeeds the cursor advances and a secret event's sealed payload
// is erased. When fn fails Deliver stops and returns the error: that event
// and the ones after it are delivered by a later call.
//
// fn runs while one connection of the pool is held; the pool must have room
// for any queries fn makes itself.
func (s *Store) Deliver(ctx context.Context, platformName string, resourceID, upTo int64,
	fn func(ctx context.Context, r *platform.Resource, ev platform.Event) error) error {
	for {
		done, err := s.deliverNext(ctx, platformName, resourceID, upTo, fn)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// deliverNext delivers the next undelivered event, reporting done when
// there was none up to upTo.
func (s *Store) deliverNext(ctx context.Context, platformName string, resourceID, upTo int64,
	fn func(ctx context.Context, r *platform.Resource, ev platform.Event) error) (done bool, err error) {
	var fnErr error
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO deliveries (resource_id, platform) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			resourceID, platformName)
		if sqlState(err) == codeForeignKey {
			return notFound(resourceID)
		}
		if err != nil {
			return err
		}
		var last int64
		err = tx.QueryRow(ctx, `SELECT last_event_id FROM deliveries WHERE resource_id = $1 AND platform = $2 FOR UPDATE`,
			resourceID, platformName).Scan(&last)
		if err != nil {
			return err
		}
		ev, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events
			WHERE resource_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT 1`, resourceID, last, upTo))
		if errors.Is(err, pgx.ErrNoRows) {
			done = true
			return nil
		}
		if err != nil {
			return err
		}
		r, err := scanResource(tx.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1`, resourceID))
		if err != nil {
			return err
		}
		if fnErr = fn(ctx, r, ev); fnErr != nil {
			return fnErr
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET last_event_id = $3 WHERE resource_id = $1 AND platform = $2`,
			resourceID, platformName, ev.ID); err != nil {
			return err
		}
		if ev.Kind == platform.EventSecret {
			if _, err := tx.Exec(ctx, `UPDATE events SET sealed = NULL WHERE id = $1`, ev.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if fnErr != nil {
		return false, fmt.Errorf("deliver events of resource %d to %s: %w", resourceID, platformName, fnErr)
	}
	if err != nil {
		return false, wrap(fmt.Sprintf("deliver events of resource %d to %s", resourceID, platformName), err)
	}
	return done, nil
}
