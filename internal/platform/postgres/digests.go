package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/digest"
)

// Digests reads the usage digests report and records which digests were
// posted (table digest_posts). It implements digest.Store and is safe for
// concurrent use.
type Digests struct {
	pool *pgxpool.Pool
}

// NewDigests returns Digests on pool. It does no I/O.
func NewDigests(pool *pgxpool.Pool) *Digests { return &Digests{pool: pool} }

// Load implements digest.Store. It reads the usage of the period [from,
// to) and of the period of the same length before it, in one consistent
// snapshot. PostgreSQL does the aggregation: counts by GROUP BY,
// percentiles by percentile_cont over every row (exact, interpolated), so
// only aggregates cross the wire.
//
// Requests are resources created in the period; outcomes, approval
// decisions and failure reasons are transitions recorded in it; time to
// provision is from request to ready, for resources that became ready in
// it. Active resources at the end of a period are those ready now, less
// those that became ready since, plus those that stopped being ready since.
func (s *Digests) Load(ctx context.Context, from, to time.Time) (cur, prev digest.Data, err error) {
	if !from.Before(to) {
		return digest.Data{}, digest.Data{}, fmt.Errorf("load digest: empty period %s – %s", from, to)
	}
	cur.Period = digest.Period{From: from, To: to}
	prev.Period = cur.Period.Previous()
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		l := loader{tx: tx, periods: [2]*digest.Data{&prev, &cur}}
		for _, step := range []func(context.Context) error{l.requests, l.transitions, l.reasons, l.provision, l.approvals, l.nps} {
			if err := step(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return digest.Data{}, digest.Data{}, fmt.Errorf("load digest %s – %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return cur, prev, nil
}

// PostOnce implements digest.Store: it claims the slot of a channel and
// calls post, in one transaction, so that a concurrent claim waits for it
// and a failed post releases the claim.
func (s *Digests) PostOnce(ctx context.Context, platformName, channel string, slot, at time.Time, post func(context.Context) error) (posted bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO digest_posts (platform, channel, slot, posted_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, platformName, channel, slot, at)
		if err != nil {
			return fmt.Errorf("claim digest slot: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if err := post(ctx); err != nil {
			return err
		}
		posted = true
		return nil
	})
	return posted, err
}

// digestEvents is the predicate of the events the digest reads; it is the
// predicate of the partial index events_digest_idx (migration 0003), which
// the queries repeat word for word so that the planner uses it.
const digestEvents = `kind = 'transition' AND (to_state IN ('ready', 'failed') OR from_state IN ('awaiting_approval', 'ready'))`

// failedEvents is the predicate of the failures of provisioning, and of
// the partial index events_digest_failed_idx.
const failedEvents = `kind = 'transition' AND to_state = 'failed' AND from_state <> 'deleting'`

// The queries of Digests.Load, in the order it runs them; $1 is the previous
// period's start, $2 the current one's, $3 its end.
const (
	queryRequests = `SELECT created_at >= $2, service, team, environment, count(*), count(*) FILTER (WHERE self_service)
		FROM resources WHERE created_at >= $1 AND created_at < $3
		GROUP BY 1, 2, 3, 4`
	queryReadyNow    = `SELECT count(*) FROM resources WHERE state = 'ready'`
	queryTransitions = `SELECT CASE WHEN at < $2 THEN 0 WHEN at < $3 THEN 1 ELSE 2 END AS bucket,
			count(*) FILTER (WHERE to_state = 'ready'),
			count(*) FILTER (WHERE to_state = 'failed' AND from_state <> 'deleting'),
			count(*) FILTER (WHERE from_state = 'ready')
		FROM events WHERE ` + digestEvents + ` AND at >= $1
		GROUP BY bucket`
	queryReasons = `SELECT cur, reason, n FROM (
			SELECT at >= $2 AS cur, left(message, 200) AS reason, count(*) AS n,
				row_number() OVER (PARTITION BY at >= $2 ORDER BY count(*) DESC, left(message, 200)) AS rank
			FROM events
			WHERE ` + failedEvents + ` AND at >= $1 AND at < $3
			GROUP BY 1, 2) r
		WHERE rank <= $4 ORDER BY cur, rank`
	queryProvision = `SELECT ready_at >= $2, service, count(*),
			percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', ready_at - created_at))
		FROM resources WHERE ready_at >= $1 AND ready_at < $3
		GROUP BY 1, 2 ORDER BY 2`
	queryApprovals = `SELECT d.at >= $2, count(*),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', d.at - w.at))
		FROM (SELECT resource_id, at FROM events
			WHERE ` + digestEvents + ` AND from_state = 'awaiting_approval' AND to_state IN ('provisioning', 'rejected')
				AND at >= $1 AND at < $3) d
		CROSS JOIN LATERAL (
			SELECT e.at FROM events e
			WHERE e.resource_id = d.resource_id AND e.to_state = 'awaiting_approval' AND e.at <= d.at
			ORDER BY e.id DESC LIMIT 1) w
		GROUP BY 1`
)

// loader runs the queries of Digests.Load; periods[0] is the previous period, [1] the
// current one. Each query reads both: $1 is the previous period's start,
// $2 the current one's, $3 its end.
type loader struct {
	tx      pgx.Tx
	periods [2]*digest.Data
}

func (l *loader) args() []any {
	return []any{l.periods[0].Period.From, l.periods[1].Period.From, l.periods[1].Period.To}
}

func period(cur bool) int {
	if cur {
		return 1
	}
	return 0
}

// requests counts the requests of each service, team and environment
// combination from the covering index resources_digest_created_idx; the
// totals by service, by team and by environment are their sums.
func (l *loader) requests(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, queryRequests, l.args()...)
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	type sums struct{ service, team, env map[string]int }
	var by [2]sums
	for i := range by {
		by[i] = sums{map[string]int{}, map[string]int{}, map[string]int{}}
	}
	var (
		cur                bool
		service, team, env string
		n, self            int
	)
	_, err = pgx.ForEachRow(rows, []any{&cur, &service, &team, &env, &n, &self}, func() error {
		p := period(cur)
		d := l.periods[p]
		d.Requests += n
		d.SelfService += self
		by[p].service[service] += n
		by[p].team[team] += n
		by[p].env[env] += n
		return nil
	})
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	for p, d := range l.periods {
		d.ByService, d.ByTeam, d.ByEnvironment = counts(by[p].service), counts(by[p].team), counts(by[p].env)
	}
	return nil
}

// counts returns the counts of m, most first (nil when empty).
func counts(m map[string]int) []digest.Count {
	var out []digest.Count
	for k, n := range m {
		out = append(out, digest.Count{Key: k, N: n})
	}
	sortCounts(out)
	return out
}

func sortCounts(c []digest.Count) {
	slices.SortFunc(c, func(a, b digest.Count) int {
		if a.N != b.N {
			return b.N - a.N
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
}

// transitions counts outcomes and approval decisions in each period, and
// the moves into and out of ready since each period's end, for the
// active resources; one scan of the partial index events_digest_idx from
// the previous period's start on.
func (l *loader) transitions(ctx context.Context) error {
	var readyNow int
	if err := l.tx.QueryRow(ctx, queryReadyNow).Scan(&readyNow); err != nil {
		return fmt.Errorf("resources ready: %w", err)
	}
	// bucket: 0 previous period, 1 current period, 2 after it.
	rows, err := l.tx.Query(ctx, queryTransitions, l.args()...)
	if err != nil {
		return fmt.Errorf("transitions: %w", err)
	}
	var (
		bucket                int
		ready, failed, leaves int
		entered, left         [3]int
	)
	_, err = pgx.ForEachRow(rows, []any{&bucket, &ready, &failed, &leaves}, func() error {
		entered[bucket], left[bucket] = ready, leaves
		if bucket < 2 {
			l.periods[bucket].Ready, l.periods[bucket].Failed = ready, failed
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("transitions: %w", err)
	}
	l.periods[1].Active = readyNow - entered[2] + left[2]
	l.periods[0].Active = l.periods[1].Active - entered[1] + left[1]
	return nil
}

// reasons finds each period's most frequent failure reasons.
func (l *loader) reasons(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, queryReasons, append(l.args(), digest.TopReasons)...)
	if err != nil {
		return fmt.Errorf("failure reasons: %w", err)
	}
	var (
		cur    bool
		reason string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&cur, &reason, &n}, func() error {
		d := l.periods[period(cur)]
		d.FailureReasons = append(d.FailureReasons, digest.Count{Key: reason, N: n})
		return nil
	})
	if err != nil {
		return fmt.Errorf("failure reasons: %w", err)
	}
	return nil
}

// provision computes each service's exact time-to-provision percentiles
// from the covering index resources_digest_ready_idx.
func (l *loader) provision(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, queryProvision, l.args()...)
	if err != nil {
		return fmt.Errorf("time to provision: %w", err)
	}
	var (
		cur     bool
		service string
		n       int
		p       []float64
	)
	_, err = pgx.ForEachRow(rows, []any{&cur, &service, &n, &p}, func() error {
		if len(p) != 2 {
			return fmt.Errorf("%d percentiles for %s", len(p), service)
		}
		d := l.periods[period(cur)]
		d.Provision = append(d.Provision, digest.Timing{Service: service, N: n, P50: seconds(p[0]), P90: seconds(p[1])})
		return nil
	})
	if err != nil {
		return fmt.Errorf("time to provision: %w", err)
	}
	return nil
}

// seconds converts a number of seconds to a Duration, to the microsecond
// PostgreSQL keeps.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}

// approvals computes the median wait of the approval decisions (approved or
// rejected) in each period: from the request entering awaiting_approval to
// the decision.
func (l *loader) approvals(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, queryApprovals, l.args()...)
	if err != nil {
		return fmt.Errorf("approval wait: %w", err)
	}
	var (
		cur bool
		n   int
		p50 float64
	)
	_, err = pgx.ForEachRow(rows, []any{&cur, &n, &p50}, func() error {
		d := l.periods[period(cur)]
		d.Approvals, d.ApprovalWaitP50 = n, seconds(p50)
		return nil
	})
	if err != nil {
		return fmt.Errorf("approval wait: %w", err)
	}
	return nil
}

// nps reads the latest survey result at the end of each period.
func (l *loader) nps(ctx context.Context) error {
	for _, d := range l.periods {
		r, at, ok, err := latestSurveyResult(ctx, l.tx, d.Period.To)
		if err != nil {
			return err
		}
		d.NPS, d.NPSAt, d.HasNPS = r, at, ok
	}
	return nil
}
