package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/survey"
)

// queryRower runs a query that returns one row: a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// latestSurveyResult returns the result of the latest survey round with
// answers that closed before before (any time when before is zero): the
// surveys of one slot, on every platform and channel, counted together. ok
// is false when no survey with answers has closed. closedAt is when the
// round's last survey closed. It is the score of idp_net_promoter_score
// and the digest.
func latestSurveyResult(ctx context.Context, q queryRower, before time.Time) (r survey.Result, closedAt time.Time, ok bool, err error) {
	if before.IsZero() {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var (
		n             int
		p, pa, d, mem int
		at            *time.Time
	)
	err = q.QueryRow(ctx, `WITH latest AS (
			SELECT slot FROM surveys WHERE closed_at IS NOT NULL AND responses > 0 AND closed_at < $1
			ORDER BY closed_at DESC, id DESC LIMIT 1)
		SELECT count(*), coalesce(sum(promoters), 0), coalesce(sum(passives), 0), coalesce(sum(detractors), 0),
			CASE WHEN bool_and(members > 0) THEN coalesce(sum(members), 0) ELSE 0 END, max(closed_at)
		FROM surveys s JOIN latest USING (slot)
		WHERE s.closed_at IS NOT NULL AND s.closed_at < $1 AND s.responses > 0`, before).Scan(&n, &p, &pa, &d, &mem, &at)
	if err != nil {
		return survey.Result{}, time.Time{}, false, fmt.Errorf("latest survey result: %w", err)
	}
	if n == 0 || at == nil {
		return survey.Result{}, time.Time{}, false, nil
	}
	r = survey.FromCounts(p, pa, d)
	r.Members = mem
	return r, *at, true, nil
}
