package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// A page of resources is a keyset page over (created_at, id), the order of
// every list: the cursor's row gives the key, so that a page costs the
// same however deep it is. Its counts are read in the same snapshot.
var pageTx = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// ResourcePage implements platform.Store.
func (s *Store) ResourcePage(ctx context.Context, f platform.ResourceFilter, cursor platform.Cursor) (platform.ResourcePage, error) {
	limit := f.Limit
	f.Limit = 0
	where, args := resourceWhere(f)
	and := " AND "
	if where == "" {
		and = " WHERE "
	}
	var page platform.ResourcePage
	err := pgx.BeginTxFunc(ctx, s.pool, pageTx, func(tx pgx.Tx) error {
		q := `SELECT ` + resourceColumns + ` FROM resources` + where
		mark := "$" + strconv.Itoa(len(args)+1)
		order := " ORDER BY created_at DESC, id DESC"
		qargs := slices.Clone(args)
		switch {
		case cursor.After != 0:
			q += and + `(created_at, id) < (SELECT created_at, id FROM resources WHERE id = ` + mark + `)`
			qargs = append(qargs, cursor.After)
		case cursor.Before != 0:
			q += and + `(created_at, id) > (SELECT created_at, id FROM resources WHERE id = ` + mark + `)`
			qargs = append(qargs, cursor.Before)
			order = " ORDER BY created_at, id"
		}
		if limit > 0 {
			order += " LIMIT " + strconv.Itoa(limit)
		}
		rs, err := collectResources(tx.Query(ctx, q+order, qargs...))
		if err != nil {
			return err
		}
		if cursor.Before != 0 {
			slices.Reverse(rs)
		}
		page.Resources = rs
		if id := max(cursor.After, cursor.Before); id != 0 && len(rs) == 0 {
			var found bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM resources WHERE id = $1)`, id).Scan(&found); err != nil {
				return wrap("find the page's cursor", err)
			}
			if !found {
				return platform.Errorf(platform.Invalid, "There is no resource #%d to page from; run the list again.", id)
			}
		}
		// Offset counts the rows newer than the page's first, or, for an
		// empty page, than where it would be.
		count := `SELECT count(*), count(*) FILTER (WHERE (created_at, id) > (SELECT created_at, id FROM resources WHERE id = ` + mark + `)) FROM resources` + where
		var first int64
		switch {
		case len(rs) > 0:
			first = rs[0].ID
		case cursor.After != 0:
			count = `SELECT count(*), count(*) FILTER (WHERE (created_at, id) >= (SELECT created_at, id FROM resources WHERE id = ` + mark + `)) FROM resources` + where
			first = cursor.After
		}
		if err := tx.QueryRow(ctx, count, append(slices.Clone(args), first)...).Scan(&page.Total, &page.Offset); err != nil {
			return wrap("count resources", err)
		}
		return nil
	})
	if err != nil {
		return platform.ResourcePage{}, wrap("page of resources", err)
	}
	return page, nil
}

// EventPage implements platform.Store.
func (s *Store) EventPage(ctx context.Context, resourceID int64, cursor platform.Cursor, limit int) (platform.EventPage, error) {
	q := `SELECT ` + eventColumns + ` FROM events WHERE resource_id = $1`
	args := []any{resourceID}
	desc := true
	switch {
	case cursor.After != 0:
		q += ` AND id > $2 ORDER BY id`
		args, desc = append(args, cursor.After), false
	case cursor.Before != 0:
		q += ` AND id < $2 ORDER BY id DESC`
		args = append(args, cursor.Before)
	default:
		q += ` ORDER BY id DESC`
	}
	q += " LIMIT " + strconv.Itoa(max(limit, 1))
	op := fmt.Sprintf("history of resource %d", resourceID)
	var page platform.EventPage
	err := pgx.BeginTxFunc(ctx, s.pool, pageTx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (platform.Event, error) { return scanEvent(row) })
		if err != nil {
			return err
		}
		if desc {
			slices.Reverse(evs)
		}
		page.Events = evs
		// Offset counts the events older than the window's first, or, for
		// an empty window, than where it would be.
		first := cursor.After + 1
		switch {
		case len(evs) > 0:
			first = evs[0].ID
		case cursor.Before != 0:
			first = 0
		}
		return tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE id < $2) FROM events WHERE resource_id = $1`,
			resourceID, first).Scan(&page.Total, &page.Offset)
	})
	if err != nil {
		return platform.EventPage{}, wrap(op, err)
	}
	return page, nil
}

// Decisions implements platform.Store. The partial index
// events_decisions_idx holds exactly these rows.
func (s *Store) Decisions(ctx context.Context, resourceID int64) ([]platform.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE resource_id = $1 AND (kind = 'approval' OR kind = 'transition' AND from_state = 'awaiting_approval') ORDER BY id`, resourceID)
	if err != nil {
		return nil, wrap(fmt.Sprintf("decisions of resource %d", resourceID), err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (platform.Event, error) { return scanEvent(row) })
	if err != nil {
		return nil, wrap(fmt.Sprintf("decisions of resource %d", resourceID), err)
	}
	return evs, nil
}
