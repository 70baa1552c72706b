package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// The benchmark's data set: a year of history ending at benchNow.
const (
	benchSchema    = "bench_digest"
	benchRequests  = 1_000_000
	benchSurveys   = 400
	benchResponses = 100_000
	benchSpan      = 365 * 24 * time.Hour
)

var benchNow = time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)

var (
	benchOnce sync.Once
	benchPool *pgxpool.Pool
	benchErr  error
	benchDrop func()
)

// TestMain drops the benchmark's schema once every benchmark has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDrop != nil {
		benchDrop()
	}
	os.Exit(code)
}

// BenchmarkDigestWeek loads and computes the digest of the last week
// (against the week before) over a year of history: 1,000,000 requests,
// their ~4.3 million events and 100,000 survey responses. The goal is
// under 200 ms per digest. It reports the median and p90 per digest and,
// with -v, the plan of each query.
func BenchmarkDigestWeek(b *testing.B) {
	pool := benchData(b)
	ctx := context.Background()
	from, to := benchNow.Add(-7*24*time.Hour), benchNow
	if testing.Verbose() {
		explain(b, pool, from, to)
	}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		cur, prev, err := postgres.NewDigests(pool).Load(ctx, from, to)
		if err != nil {
			b.Fatal(err)
		}
		d := digest.Compute(cur, prev)
		took = append(took, time.Since(start))
		if d.Requests.Cur == 0 || d.Active.Cur == 0 || len(d.Provision) == 0 || !d.NPS.HasCur {
			b.Fatalf("digest of the benchmark data is empty: %+v", d)
		}
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/median")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "ms/p90")
}

// explain logs the plan summary of each query of Digests.Load.
func explain(b *testing.B, pool *pgxpool.Pool, from, to time.Time) {
	args := []any{from.Add(-to.Sub(from)), from, to}
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"requests", postgres.QueryRequests, args},
		{"ready now", postgres.QueryReadyNow, nil},
		{"transitions", postgres.QueryTransitions, args},
		{"failure reasons", postgres.QueryReasons, append(slices.Clone(args), digest.TopReasons)},
		{"time to provision", postgres.QueryProvision, args},
		{"approval wait", postgres.QueryApprovals, args},
	} {
		rows, err := pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+q.sql, q.args...)
		if err != nil {
			b.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s:\n%s", q.name, strings.Join(lines, "\n"))
	}
}

// benchData loads the data set once per process into schema bench_digest
// (replacing a leftover one) and returns a pool on it.
func benchData(b *testing.B) *pgxpool.Pool {
	b.Helper()
	url := postgrestest.URL(b) // skips under -short, fails without DATABASE_URL
	benchOnce.Do(func() {
		start := time.Now()
		benchPool, benchErr = loadBenchData(url)
		if benchErr == nil {
			b.Logf("loaded %d requests and %d survey responses in %s", benchRequests, benchResponses, time.Since(start).Round(time.Second))
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPool
}

func loadBenchData(url string) (*pgxpool.Pool, error) {
	ctx := context.Background()
	cfg, err := postgres.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	cc := cfg.ConnConfig.Copy()
	cfg.ConnConfig.RuntimeParams["search_path"] = benchSchema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// IDPBOT_BENCH_KEEP=1 keeps the loaded schema for the next run, to
	// tune queries without loading again.
	keep := os.Getenv("IDPBOT_BENCH_KEEP") == "1"
	if !keep {
		benchDrop = func() {
			conn, err := pgx.ConnectConfig(context.Background(), cc)
			if err == nil {
				_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+benchSchema+" CASCADE")
				conn.Close(context.Background())
			}
		}
	}
	var loaded bool
	if err := admin.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, benchSchema+".bench_loaded").Scan(&loaded); err != nil {
		return nil, err
	}
	if keep && loaded {
		return pool, postgres.Migrate(ctx, pool)
	}
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+benchSchema+" CASCADE; CREATE SCHEMA "+benchSchema); err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, pool); err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// Bulk load the way a restore does: secondary indexes dropped and
	// built afterwards, foreign key triggers off for the session.
	rows, err := conn.Query(ctx, `SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = $1::regnamespace AND t.relname IN ('resources', 'events', 'surveys', 'survey_responses')
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`, benchSchema)
	if err != nil {
		return nil, err
	}
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var v [2]string
		err := r.Scan(&v[0], &v[1])
		return v, err
	})
	if err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix[0]}.Sanitize()); err != nil {
			return nil, err
		}
	}
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return nil, fmt.Errorf("disable foreign key checks (needs a superuser): %w", err)
	}
	if err := copyHistory(ctx, conn.Conn()); err != nil {
		return nil, err
	}
	if err := copySurveys(ctx, conn.Conn()); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "RESET session_replication_role; SET maintenance_work_mem = '256MB'"); err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, ix[1]); err != nil {
			return nil, fmt.Errorf("rebuild index %s: %w", ix[0], err)
		}
	}
	for _, q := range []string{
		`SELECT setval(pg_get_serial_sequence('resources', 'id'), (SELECT max(id) FROM resources))`,
		`SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))`,
		`SELECT setval(pg_get_serial_sequence('surveys', 'id'), (SELECT max(id) FROM surveys))`,
		`VACUUM (ANALYZE) resources, events, surveys, survey_responses`,
		`CREATE TABLE bench_loaded ()`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	return pool, nil
}

var (
	benchServices = []struct {
		name, typ string
		share     float64
		base      time.Duration
	}{
		{"postgresql-database", "database", 0.50, 40 * time.Second},
		{"web-application", "compute", 0.35, 90 * time.Second},
		{"api-gateway", "networking", 0.10, 20 * time.Second},
		{"kubernetes-namespace", "compute", 0.05, 8 * time.Second},
	}
	benchReasons = []string{
		"timeout waiting for the database server", "quota exceeded on target cluster", "image pull backoff",
		"webhook returned 500", "role already exists with another owner", "admission webhook denied the request",
		"no capacity in node pool", "TLS handshake timeout",
	}
)

// benchResource is one generated request and what happened to it before
// benchNow; times after benchNow did not happen (zero).
type benchResource struct {
	id                   int64
	service, typ         string
	team, env, requester string
	self                 bool
	created              time.Time
	approval             bool
	decided              time.Time
	rejected             bool
	provStart, outcome   time.Time
	reason               string
	deleting, deleted    time.Time
}

// state is the resource's state at benchNow, as its events say.
func (r *benchResource) state() string {
	switch {
	case !r.deleted.IsZero():
		return "deleted"
	case !r.deleting.IsZero():
		return "deleting"
	case r.reason != "" && !r.outcome.IsZero():
		return "failed"
	case !r.outcome.IsZero():
		return "ready"
	case r.rejected && !r.decided.IsZero():
		return "rejected"
	case !r.provStart.IsZero():
		return "provisioning"
	case r.approval:
		return "awaiting_approval"
	}
	return "pending"
}

// benchPlan returns request i, the same on every call.
func benchPlan(i int) benchResource {
	rng := rand.New(rand.NewPCG(uint64(i), 0x1d6b07))
	start := benchNow.Add(-benchSpan)
	step := benchSpan / benchRequests
	r := benchResource{id: int64(i + 1), created: start.Add(time.Duration(i)*step + time.Duration(rng.Int64N(int64(step)))).Truncate(time.Microsecond)}
	x := rng.Float64()
	for _, s := range benchServices {
		if x < s.share || s.name == benchServices[len(benchServices)-1].name {
			r.service, r.typ = s.name, s.typ
			break
		}
		x -= s.share
	}
	r.team = fmt.Sprintf("team-%02d", int(40*math.Pow(rng.Float64(), 2)))
	switch x := rng.Float64(); {
	case x < 0.60:
		r.env = "development"
	case x < 0.85:
		r.env = "staging"
	default:
		r.env = "production"
	}
	r.requester = fmt.Sprintf("slack:U%05d", rng.IntN(2000))
	r.self = rng.Float64() < 0.95
	happened := func(t time.Time) time.Time {
		if t.After(benchNow) {
			return time.Time{}
		}
		return t.Truncate(time.Microsecond)
	}
	next := r.created
	if r.env == "production" {
		r.approval = true
		r.decided = happened(next.Add(time.Minute + time.Duration(rng.ExpFloat64()*float64(2*time.Hour))))
		if r.decided.IsZero() {
			return r
		}
		if r.rejected = rng.Float64() < 0.05; r.rejected {
			return r
		}
		next = r.decided
	}
	if r.provStart = happened(next.Add(time.Second)); r.provStart.IsZero() {
		return r
	}
	var base time.Duration
	for _, s := range benchServices {
		if s.name == r.service {
			base = s.base
		}
	}
	r.outcome = happened(r.provStart.Add(time.Duration(float64(base) * math.Exp(rng.NormFloat64()*0.8))))
	if r.outcome.IsZero() {
		return r
	}
	if rng.Float64() < 0.04 {
		r.reason = benchReasons[rng.IntN(len(benchReasons))]
		return r
	}
	if rng.Float64() < 0.6 {
		r.deleting = happened(r.outcome.Add(time.Hour + time.Duration(rng.Int64N(int64(60*24*time.Hour)))))
		if !r.deleting.IsZero() {
			r.deleted = happened(r.deleting.Add(time.Minute))
		}
	}
	return r
}

// events returns the audit events of r, as the engine records them.
func (r *benchResource) events() [][5]any {
	var out [][5]any // at, actor, from, to, message
	add := func(at time.Time, actor, from, to, msg string) { out = append(out, [5]any{at, actor, from, to, msg}) }
	first := "pending"
	if r.approval {
		first = "awaiting_approval"
	}
	add(r.created, r.requester, "", first, "requested by "+r.requester)
	from := first
	if r.approval && !r.decided.IsZero() {
		if r.rejected {
			add(r.decided, "slack:UAPPROVER", from, "rejected", "rejected")
			return out
		}
		add(r.decided, "slack:UAPPROVER", from, "provisioning", "approved")
		from = "provisioning"
	}
	if !r.provStart.IsZero() && from == "pending" {
		add(r.provStart, "system:idpbot", "pending", "provisioning", "provisioning")
	}
	if r.outcome.IsZero() {
		return out
	}
	if r.reason != "" {
		add(r.outcome, "system:idpbot", "provisioning", "failed", r.reason)
		return out
	}
	add(r.outcome, "system:idpbot", "provisioning", "ready", "ready")
	if !r.deleting.IsZero() {
		add(r.deleting, r.requester, "ready", "deleting", "delete requested")
	}
	if !r.deleted.IsZero() {
		add(r.deleted, "system:idpbot", "deleting", "deleted", "deleted")
	}
	return out
}

func copyHistory(ctx context.Context, conn *pgx.Conn) error {
	i := 0
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"resources"}, []string{"id", "service", "service_type", "name", "team", "environment",
		"state", "reason", "requester_id", "self_service", "origin_platform", "origin_channel", "created_at", "updated_at", "ready_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == benchRequests {
				return nil, nil
			}
			r := benchPlan(i)
			i++
			var ready *time.Time
			if r.reason == "" && !r.outcome.IsZero() {
				ready = &r.outcome
			}
			updated := slices.MaxFunc([]time.Time{r.created, r.decided, r.provStart, r.outcome, r.deleting, r.deleted}, time.Time.Compare)
			return []any{r.id, r.service, r.typ, fmt.Sprintf("r-%07d", r.id), r.team, r.env, r.state(), r.reason,
				r.requester, r.self, "slack", "C0REQUESTS", r.created, updated, ready}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy resources: %w", err)
	}
	i = 0
	var (
		pending [][5]any
		owner   int64
		eventID int64
	)
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"id", "resource_id", "at", "actor_id", "kind", "from_state", "to_state", "message"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for len(pending) == 0 {
				if i == benchRequests {
					return nil, nil
				}
				r := benchPlan(i)
				i++
				pending, owner = r.events(), r.id
			}
			ev := pending[0]
			pending = pending[1:]
			eventID++
			return []any{eventID, owner, ev[0], ev[1], "transition", ev[2], ev[3], ev[4]}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy events: %w", err)
	}
	return nil
}

func copySurveys(ctx context.Context, conn *pgx.Conn) error {
	perSurvey := benchResponses / benchSurveys
	rng := rand.New(rand.NewPCG(7, 11))
	type counts struct{ p, pa, d int }
	results := make([]counts, benchSurveys)
	scores := make([]int, benchResponses)
	for i := range scores {
		// A platform people mostly like.
		scores[i] = min(10, max(0, int(math.Round(7.5+rng.NormFloat64()*2))))
		c := &results[i/perSurvey]
		switch {
		case scores[i] >= 9:
			c.p++
		case scores[i] >= 7:
			c.pa++
		default:
			c.d++
		}
	}
	channels := []string{"C0GENERAL", "C0ENG", "C0DATA", "C0OPS"}
	slotStep := benchSpan / time.Duration(benchSurveys/len(channels))
	surveyAt := func(n int) (slot, closed time.Time) {
		slot = benchNow.Add(-benchSpan).Add(time.Duration(n/len(channels)) * slotStep)
		return slot, slot.Add(7 * 24 * time.Hour)
	}
	n := 0
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"surveys"}, []string{"id", "platform", "channel", "message_ref", "slot", "opened_at",
		"closes_at", "closed_at", "score", "promoters", "passives", "detractors", "responses", "members", "result_posted_at", "comments_posted_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if n == benchSurveys {
				return nil, nil
			}
			slot, closed := surveyAt(n)
			c := results[n]
			total := c.p + c.pa + c.d
			n++
			return []any{int64(n), "slack", channels[(n-1)%len(channels)], fmt.Sprintf("1700000000.%06d", n), slot, slot, closed, closed,
				float64(100*(c.p-c.d)) / float64(total), c.p, c.pa, c.d, total, 400, closed, closed}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy surveys: %w", err)
	}
	n = 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"survey_responses"}, []string{"survey_id", "user_id", "score", "comment", "answered_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if n == benchResponses {
				return nil, nil
			}
			s := n / perSurvey
			slot, _ := surveyAt(s)
			at := slot.Add(time.Duration(n%perSurvey) * time.Minute)
			comment := ""
			if n%10 == 0 {
				comment = "the catalog could list more services"
			}
			score := scores[n]
			n++
			return []any{int64(s + 1), fmt.Sprintf("slack:U%05d", n%perSurvey), int16(score), comment, at, at}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy survey responses: %w", err)
	}
	return nil
}
