package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// Before fn is called for an event, the holder of the cursor records, and
// commits on another connection, that its delivery started
// (delivery_attempts); the cursor's advance removes the record. An event found so recorded was cut off after fn may have
// posted it (a crash, a timeout, a lost response): fn then gets a context
// marked with platform.WithRedelivery, so that it can look for its message
// before posting it again.
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
	var (
		fnErr error
		next  int64
	)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One round trip: the cursor (created on first use) locked, the
		// next event after it (read after the lock, so after the previous
		// holder's advance), and the resource.
		reads := &pgx.Batch{}
		reads.Queue(`INSERT INTO deliveries (resource_id, platform) VALUES ($1, $2) ON CONFLICT DO NOTHING`, resourceID, platformName)
		reads.Queue(`SELECT last_event_id FROM deliveries WHERE resource_id = $1 AND platform = $2 FOR UPDATE`, resourceID, platformName)
		reads.Queue(`SELECT `+eventColumns+` FROM events WHERE resource_id = $1 AND id <= $3
			AND id > (SELECT last_event_id FROM deliveries WHERE resource_id = $1 AND platform = $2)
			ORDER BY id LIMIT 1`, resourceID, platformName, upTo)
		reads.Queue(`SELECT `+resourceColumns+` FROM resources WHERE id = $1`, resourceID)
		br := tx.SendBatch(ctx, reads)
		_, err := br.Exec()
		if sqlState(err) == codeForeignKey {
			br.Close()
			return notFound(resourceID)
		}
		if err == nil {
			_, err = br.Exec() // the lock
		}
		var (
			ev platform.Event
			r  *platform.Resource
		)
		if err == nil {
			ev, err = scanEvent(br.QueryRow())
		}
		if errors.Is(err, pgx.ErrNoRows) {
			done = true
			return br.Close()
		}
		if err == nil {
			r, err = scanResource(br.QueryRow())
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		next = ev.ID
		redelivery, err := s.attempt(ctx, resourceID, platformName, ev.ID)
		if err != nil {
			return err
		}
		fnCtx := ctx
		if redelivery {
			fnCtx = platform.WithRedelivery(ctx)
		}
		if fnErr = fn(fnCtx, r, ev); fnErr != nil {
			return fnErr
		}
		writes := &pgx.Batch{}
		writes.Queue(`UPDATE deliveries SET last_event_id = $3 WHERE resource_id = $1 AND platform = $2`, resourceID, platformName, ev.ID)
		writes.Queue(`DELETE FROM delivery_attempts WHERE resource_id = $1 AND platform = $2 AND event_id = $3`, resourceID, platformName, ev.ID)
		if ev.Kind == platform.EventSecret {
			writes.Queue(`UPDATE events SET sealed = NULL WHERE id = $1`, ev.ID)
		}
		return tx.SendBatch(ctx, writes).Close()
	})
	if fnErr != nil {
		if platform.NotSent(fnErr) {
			// The platform did not act: the next try is no redelivery.
			// Should this fail, that try only looks for a message in vain.
			_, _ = s.pool.Exec(ctx, `DELETE FROM delivery_attempts WHERE resource_id = $1 AND platform = $2 AND event_id = $3`,
				resourceID, platformName, next)
		}
		return false, fmt.Errorf("deliver events of resource %d to %s: %w", resourceID, platformName, fnErr)
	}
	if err != nil {
		return false, wrap(fmt.Sprintf("deliver events of resource %d to %s", resourceID, platformName), err)
	}
	return done, nil
}

// attemptWait bounds the wait for a connection to record an attempt: the
// caller holds one already, and a pool exhausted by such callers must not
// deadlock.
const attemptWait = 2 * time.Second

// attempt records, committed on a connection of its own, that the holder
// of the cursor is about to deliver event eventID, and reports whether an
// earlier holder had recorded the same: its delivery was cut off after the
// platform may have acted on it (a crash, a timeout, a lost response).
// Only the holder of the cursor records, so a delivery waiting its turn
// never makes the next one a redelivery. When no connection comes in time
// it reports a redelivery: looking for a message in vain is the safe error.
func (s *Store) attempt(ctx context.Context, resourceID int64, platformName string, eventID int64) (bool, error) {
	actx, cancel := context.WithTimeout(ctx, attemptWait)
	defer cancel()
	// One round trip, and no wait for the disk: the record must outlive
	// the bot, which a commit gives at once; only a crash of PostgreSQL
	// itself in the next moments loses it, and with it one lookup.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	insert := b.Queue(`INSERT INTO delivery_attempts (resource_id, platform, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		resourceID, platformName, eventID)
	var inserted int64
	insert.Exec(func(tag pgconn.CommandTag) error {
		inserted = tag.RowsAffected()
		return nil
	})
	b.Queue(`COMMIT`)
	err := s.pool.SendBatch(actx, b).Close()
	switch {
	case err == nil:
		return inserted == 0, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case actx.Err() != nil:
		return true, nil
	default:
		return false, err
	}
}
