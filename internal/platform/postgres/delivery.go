package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// DeliverBatch is Deliver for a notifier that takes a run of events at
// once (platform.Delivery), which does not wait for another delivery of
// the resource: it returns a platform.Busy error instead, so that the
// caller tries again soon rather than hold a worker while the other runs
// (platform.ErrDeliveryBusy): fn gets up to limit of the resource's
// undelivered events up to upTo, in ID order, and returns how many of
// them, from the first, it delivered. The cursor advances past those even
// when fn also returns an error, and DeliverBatch goes on with the next
// run until none is left or fn fails.
//
// The run's transaction holds the cursor row locked while fn runs, as
// Deliver's does. Before each message fn sends it calls Start, which
// records the attempt on another connection: a run cut off after sending
// leaves that record, and the next run tells fn (Attempted, and a context
// marked with platform.WithRedelivery from Start) to look for the message
// before sending it again. When fn fails with an error that says nothing
// was sent (platform.NotSent), the records this run made are removed.
func (s *Store) DeliverBatch(ctx context.Context, platformName string, resourceID, upTo int64, limit int,
	fn func(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error)) error {
	for {
		done, err := s.deliverRun(ctx, platformName, resourceID, upTo, max(limit, 1), true, fn)
		if err != nil || done {
			return err
		}
	}
}

// deliverNext delivers the next undelivered event, reporting done when
// there was none up to upTo.
func (s *Store) deliverNext(ctx context.Context, platformName string, resourceID, upTo int64,
	fn func(ctx context.Context, r *platform.Resource, ev platform.Event) error) (done bool, err error) {
	return s.deliverRun(ctx, platformName, resourceID, upTo, 1, false, func(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error) {
		ctx, err := d.Start(ctx, d.Events[0].ID)
		if err != nil {
			return 0, err
		}
		if err := fn(ctx, r, d.Events[0]); err != nil {
			return 0, err
		}
		return 1, nil
	})
}

// deliverRun delivers the next run of up to limit undelivered events,
// reporting done when there was none up to upTo. With nowait, a cursor
// held by another delivery is a platform.Busy error at once.
func (s *Store) deliverRun(ctx context.Context, platformName string, resourceID, upTo int64, limit int, nowait bool,
	fn func(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error)) (done bool, err error) {
	var (
		fnErr   error
		started []int64 // the attempts this run recorded
	)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One round trip: the cursor (created on first use) locked, the
		// events after it (read after the lock, so after the previous
		// holder's advance), the resource, and the attempts cut off.
		const after = `(SELECT last_event_id FROM deliveries WHERE resource_id = $1 AND platform = $2)`
		lock := `FOR UPDATE`
		if nowait {
			lock = `FOR UPDATE NOWAIT`
		}
		reads := &pgx.Batch{}
		reads.Queue(`INSERT INTO deliveries (resource_id, platform) VALUES ($1, $2) ON CONFLICT DO NOTHING`, resourceID, platformName)
		reads.Queue(`SELECT last_event_id FROM deliveries WHERE resource_id = $1 AND platform = $2 `+lock, resourceID, platformName)
		reads.Queue(`SELECT `+eventColumns+` FROM events WHERE resource_id = $1 AND id <= $3 AND id > `+after+`
			ORDER BY id LIMIT $4`, resourceID, platformName, upTo, limit)
		reads.Queue(`SELECT `+resourceColumns+` FROM resources WHERE id = $1`, resourceID)
		reads.Queue(`SELECT event_id FROM delivery_attempts WHERE resource_id = $1 AND platform = $2 AND abs(event_id) > `+after+`
			ORDER BY event_id`, resourceID, platformName)
		br := tx.SendBatch(ctx, reads)
		_, err := br.Exec()
		if sqlState(err) == codeForeignKey {
			br.Close()
			return notFound(resourceID)
		}
		if err == nil {
			_, err = br.Exec() // the lock
			if sqlState(err) == codeLockNotAvailable {
				br.Close()
				return fmt.Errorf("%w: %w", platform.ErrDeliveryBusy, err)
			}
		}
		var (
			evs       []platform.Event
			r         *platform.Resource
			attempted []int64
		)
		if err == nil {
			var rows pgx.Rows
			if rows, err = br.Query(); err == nil {
				evs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (platform.Event, error) { return scanEvent(row) })
			}
		}
		if err == nil {
			r, err = scanResource(br.QueryRow())
		}
		if err == nil {
			var rows pgx.Rows
			if rows, err = br.Query(); err == nil {
				attempted, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			}
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			done = true
			return nil
		}
		d := platform.Delivery{Events: evs}
		if i := slices.IndexFunc(attempted, func(id int64) bool { return id > 0 }); i >= 0 {
			d.Attempted = attempted[i]
		}
		var begun int64 // the last event a Start of a message covered
		d.Start = func(ctx context.Context, through int64) (context.Context, error) {
			// (A hand-over of connection details is an attempt of its
			// own, under the event's negated ID: HandOver.)
			earlier := slices.ContainsFunc(attempted, func(id int64) bool { return id > begun && id <= through })
			begun = max(begun, through)
			existed, err := s.attempt(ctx, resourceID, platformName, through)
			if err != nil {
				return ctx, err
			}
			if !existed {
				started = append(started, through)
			}
			if earlier || existed {
				return platform.WithRedelivery(ctx), nil
			}
			return ctx, nil
		}
		d.HandOver = func(ctx context.Context, id int64, send func(ctx context.Context) (bool, error)) (bool, error) {
			return s.HandOver(ctx, platformName, resourceID, id, func(ctx context.Context, _ *platform.Resource, _ platform.Event) (bool, error) {
				return send(ctx)
			})
		}
		n, ferr := fn(ctx, r, d)
		fnErr = ferr
		n = min(max(n, 0), len(evs))
		if n == 0 {
			if fnErr == nil {
				fnErr = errors.New("the notifier delivered none of the events it was given")
			}
			return fnErr // nothing to record: roll back
		}
		last := evs[n-1].ID
		writes := &pgx.Batch{}
		writes.Queue(`UPDATE deliveries SET last_event_id = $3 WHERE resource_id = $1 AND platform = $2`, resourceID, platformName, last)
		writes.Queue(`DELETE FROM delivery_attempts WHERE resource_id = $1 AND platform = $2 AND abs(event_id) <= $3`, resourceID, platformName, last)
		var secrets []int64
		for _, ev := range evs[:n] {
			if ev.Kind == platform.EventSecret {
				secrets = append(secrets, ev.ID)
			}
		}
		if len(secrets) > 0 {
			writes.Queue(`UPDATE events SET sealed = NULL WHERE id = ANY($1)`, secrets)
		}
		started = slices.DeleteFunc(started, func(id int64) bool { return id <= last })
		// Commit what was delivered, even when the rest failed.
		return tx.SendBatch(ctx, writes).Close()
	})
	if fnErr != nil {
		if platform.NotSent(fnErr) {
			s.forgetAttempts(ctx, resourceID, platformName, started)
		}
		return false, fmt.Errorf("deliver events of resource %d to %s: %w", resourceID, platformName, fnErr)
	}
	if err != nil {
		return false, wrap(fmt.Sprintf("deliver events of resource %d to %s", resourceID, platformName), err)
	}
	return done, nil
}

// forgetAttempts removes the attempts a delivery recorded (ids) when the
// platform did not act on them: the next try is no redelivery. Should this
// fail, that try only looks for a message in vain.
func (s *Store) forgetAttempts(ctx context.Context, resourceID int64, platformName string, ids []int64) {
	if len(ids) == 0 {
		return
	}
	_, _ = s.pool.Exec(ctx, `DELETE FROM delivery_attempts WHERE resource_id = $1 AND platform = $2 AND event_id = ANY($3)`,
		resourceID, platformName, ids)
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

// HandOver hands over the connection details of secret event eventID of
// a resource, on a chat platform, with send, unless that was done: the
// event's details were erased, once handed over or once the platform's
// cursor passed the event (its thread told what became of them). It runs in a
// transaction of its own holding the event's row locked, so that the
// hand-over job and the delivery of the resource's thread, which both
// call it, never both send them. Before send it records the attempt, as
// Start does for -eventID, and marks send's context WithRedelivery when an
// earlier attempt may have sent them; send reports whether the details
// were handed over (false: they could not be, the thread tells why), and
// they are erased once it did. HandOver reports whether send ran. When
// send fails with an error that says nothing was sent (platform.NotSent),
// the attempt's record is removed.
func (s *Store) HandOver(ctx context.Context, platformName string, resourceID, eventID int64,
	send func(ctx context.Context, r *platform.Resource, ev platform.Event) (bool, error)) (ran bool, err error) {
	var (
		sendErr error
		started bool
	)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		reads := &pgx.Batch{}
		reads.Queue(`SELECT `+eventColumns+` FROM events WHERE id = $1 AND resource_id = $2 FOR UPDATE`, eventID, resourceID)
		reads.Queue(`SELECT `+resourceColumns+` FROM resources WHERE id = $1`, resourceID)
		br := tx.SendBatch(ctx, reads)
		ev, err := scanEvent(br.QueryRow())
		var r *platform.Resource
		if err == nil {
			r, err = scanResource(br.QueryRow())
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return platform.Errorf(platform.NotFound, "There is no event %d of resource #%d.", eventID, resourceID)
		case err != nil:
			return err
		case ev.Kind != platform.EventSecret || ev.Sealed == nil:
			return nil
		}
		existed, err := s.attempt(ctx, resourceID, platformName, -eventID)
		if err != nil {
			return err
		}
		started = !existed
		sctx := ctx
		if existed {
			sctx = platform.WithRedelivery(ctx)
		}
		ran = true
		handed, err := send(sctx, r, ev)
		if err != nil {
			sendErr = err
			return err
		}
		if !handed {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE events SET sealed = NULL WHERE id = $1`, eventID)
		return err
	})
	if sendErr != nil {
		if platform.NotSent(sendErr) && started {
			s.forgetAttempts(ctx, resourceID, platformName, []int64{-eventID})
		}
		return ran, fmt.Errorf("hand over the connection details of resource %d on %s: %w", resourceID, platformName, sendErr)
	}
	if err != nil && platform.ErrorCode(err) != platform.NotFound {
		err = wrap(fmt.Sprintf("hand over the connection details of resource %d on %s", resourceID, platformName), err)
	}
	return ran, err
}
