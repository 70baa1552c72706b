package postgres_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	loader "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// The big-team data set: two years of a company whose largest team holds
// 10,000 resources, with about 5 million events. It is loaded once into
// its own database and kept for later runs (drop it with
// DROP DATABASE idpbot_bench_bigteam); bigTeamVersion marks what was
// loaded, so that changing the generator reloads it.
const (
	bigTeamDB      = "idpbot_bench_bigteam"
	bigTeamVersion = 1
	bigTeamEvents  = 5_000_000
	bigTeamSpan    = 2 * 365 * 24 * time.Hour
)

// bigTeams are the teams and how many resources each has: payments is the
// big one.
var bigTeams = []struct {
	name string
	size int
}{{"payments", 10_000}, {"checkout", 400}, {"search", 300}, {"identity", 150}, {"data", 100}, {"platform", 50}}

var bigTeamNow = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// bigTeamUser is who runs the commands: a member of payments and platform.
var bigTeamUser = platform.Actor{ID: "slack:U00042", Name: "dev42"}

var (
	bigTeamOnce sync.Once
	bigTeamPool *pgxpool.Pool
	bigTeamErr  error
)

// BenchmarkBigTeam measures what a member of a 10,000-resource team waits
// for, through the real Router, Engine and Store on the big-team data set:
// list (first page, a deep page, one state), status and audit of resources
// of the team (and audit of the one with the longest history). The goal is
// under 50 ms p99 each; it reports p50 and p99 per command. Run it with
// -benchtime=500x or more so that p99 means something.
func BenchmarkBigTeam(b *testing.B) {
	pool := bigTeamData(b)
	ctx := context.Background()
	shipped, err := loader.Load(catalog.FS)
	if err != nil {
		b.Fatal(err)
	}
	org := &platform.Org{Environments: []platform.Environment{{Name: "development", TTL: 7 * 24 * time.Hour}, {Name: "staging"}, {Name: "production", Approvals: 1}}}
	for _, t := range bigTeams {
		team := platform.Team{Name: t.name, Members: []string{fmt.Sprintf("slack:U%05d", len(t.name))}}
		if t.name == "payments" || t.name == "platform" {
			team.Members = append(team.Members, bigTeamUser.ID)
		}
		org.Teams = append(org.Teams, team)
	}
	store := postgres.NewStore(pool, postgres.StoreOptions{Now: func() time.Time { return bigTeamNow }})
	engine := platform.NewEngine(platform.EngineConfig{Store: store, Catalog: shipped, Org: org, Now: func() time.Time { return bigTeamNow }})
	router := commands.NewRouter(engine, commands.Options{Now: func() time.Time { return bigTeamNow }})

	// The resources commands name: a sample of payments, and the one
	// with the longest history.
	var sample []string
	var ids []int64
	rows, err := pool.Query(ctx, `SELECT id, name FROM resources WHERE team = 'payments' ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			b.Fatal(err)
		}
		ids, sample = append(ids, id), append(sample, name)
	}
	if rows.Err() != nil || len(ids) != bigTeams[0].size {
		b.Fatalf("payments has %d resources (%v), want %d", len(ids), rows.Err(), bigTeams[0].size)
	}
	var largest int64
	var largestEvents int
	if err := pool.QueryRow(ctx, `SELECT resource_id, count(*) FROM events GROUP BY resource_id ORDER BY count(*) DESC LIMIT 1`).Scan(&largest, &largestEvents); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(42, 7))
	for _, c := range []struct {
		name string
		text func() string
		want string
	}{
		{"list", func() string { return "list" }, "Page 1 · rows 1–20 of"},
		{"list-team", func() string { return "list --team payments" }, "Page 1 · rows 1–20 of"},
		{"list-deep", func() string {
			return fmt.Sprintf("list --team payments --all --after #%d", ids[rng.IntN(len(ids)-100)])
		}, "Page "},
		{"list-failed", func() string { return "list --team payments --state failed" }, "failed"},
		{"status", func() string { return "status " + sample[rng.IntN(len(sample))] }, "History"},
		{"audit", func() string { return "audit " + sample[rng.IntN(len(sample))] }, "History (UTC)"},
		{"audit-largest", func() string { return fmt.Sprintf("audit #%d", largest) }, grouped(largestEvents) + " events"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				text := c.text()
				start := time.Now()
				rep := router.Handle(ctx, commands.Request{Actor: bigTeamUser, Platform: "slack", Channel: "C0BENCH", Text: text})
				took = append(took, time.Since(start))
				if rep.Err != nil || !strings.Contains(rep.Text(), c.want) {
					b.Fatalf("%s = %s, want it to contain %q", text, rep.Text(), c.want)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/p50")
			b.ReportMetric(float64(took[min(len(took)*99/100, len(took)-1)].Microseconds())/1000, "ms/p99")
		})
	}
}

// grouped renders n as the commands do: 10 000.
func grouped(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "\u00a0" + s[i:]
	}
	return s
}

// bigTeamData returns a pool on the big-team database, loading it first
// unless a load of this version is there.
func bigTeamData(b *testing.B) *pgxpool.Pool {
	b.Helper()
	url := postgrestest.URL(b) // skips under -short, fails without DATABASE_URL
	bigTeamOnce.Do(func() {
		start := time.Now()
		var loaded bool
		bigTeamPool, loaded, bigTeamErr = loadBigTeam(url)
		if bigTeamErr == nil && loaded {
			b.Logf("loaded the big-team data set into %s in %s", bigTeamDB, time.Since(start).Round(time.Second))
		}
	})
	if bigTeamErr != nil {
		b.Fatal(bigTeamErr)
	}
	return bigTeamPool
}

// loadBigTeam opens the big-team database (creating it), migrates it, and
// loads the data set unless its marker says this version is loaded.
func loadBigTeam(url string) (*pgxpool.Pool, bool, error) {
	ctx := context.Background()
	cfg, err := postgres.ParseConfig(url)
	if err != nil {
		return nil, false, err
	}
	cfg.ConnConfig.Database = bigTeamDB
	pool, err := postgres.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	var version int
	err = pool.QueryRow(ctx, `SELECT version FROM bench_bigteam_loaded`).Scan(&version)
	if err == nil && version == bigTeamVersion {
		// Later migrations (new indexes) apply to the loaded data.
		return pool, false, postgres.Migrate(ctx, pool)
	}
	if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		return nil, false, err
	}
	if err := postgres.Migrate(ctx, pool); err != nil {
		return nil, false, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Release()
	// Bulk load the way a restore does: secondary indexes dropped and
	// built afterwards, foreign key triggers off for the session.
	rows, err := conn.Query(ctx, `SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = 'public'::regnamespace AND t.relname IN ('resources', 'events')
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`)
	if err != nil {
		return nil, false, err
	}
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var v [2]string
		err := r.Scan(&v[0], &v[1])
		return v, err
	})
	if err != nil {
		return nil, false, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix[0]}.Sanitize()); err != nil {
			return nil, false, err
		}
	}
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return nil, false, fmt.Errorf("disable foreign key checks (needs a superuser): %w", err)
	}
	plan := planBigTeam()
	if err := copyBigTeam(ctx, conn.Conn(), plan); err != nil {
		return nil, false, err
	}
	if _, err := conn.Exec(ctx, "RESET session_replication_role; SET maintenance_work_mem = '256MB'"); err != nil {
		return nil, false, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, ix[1]); err != nil {
			return nil, false, fmt.Errorf("rebuild index %s: %w", ix[0], err)
		}
	}
	for _, q := range []string{
		`SELECT setval(pg_get_serial_sequence('resources', 'id'), (SELECT max(id) FROM resources))`,
		`SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))`,
		`VACUUM (ANALYZE) resources, events`,
		`CREATE TABLE bench_bigteam_loaded (version int NOT NULL)`,
		fmt.Sprintf(`INSERT INTO bench_bigteam_loaded VALUES (%d)`, bigTeamVersion),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, false, err
		}
	}
	return pool, true, nil
}

// bigResource is one generated resource.
type bigResource struct {
	id                      int64
	team, env, service, typ string
	name, state, reason     string
	requester               string
	created, ended          time.Time
	events                  int
}

// bigEvent is one generated event: its time, its resource (an index in
// the plan) and its place in the resource's history.
type bigEvent struct {
	at       int64 // Unix microseconds
	res, seq int32
}

// planBigTeam generates the resources, in id order, oldest first.
func planBigTeam() []bigResource {
	total := 0
	for _, t := range bigTeams {
		total += t.size
	}
	var teams []string
	for _, t := range bigTeams {
		for range t.size {
			teams = append(teams, t.name)
		}
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	rng.Shuffle(len(teams), func(i, j int) { teams[i], teams[j] = teams[j], teams[i] })
	// Events per resource are log-normal: most have a few hundred, a few
	// (long-lived, often changed ones) thousands.
	const sigma = 1.1
	mu := math.Log(float64(bigTeamEvents)/float64(total)) - sigma*sigma/2
	start := bigTeamNow.Add(-bigTeamSpan)
	step := bigTeamSpan / time.Duration(total)
	out := make([]bigResource, total)
	for i := range out {
		r := &out[i]
		r.id = int64(i + 1)
		r.team = teams[i]
		r.created = start.Add(time.Duration(i)*step + time.Duration(rng.Int64N(int64(step)))).Truncate(time.Microsecond)
		switch x := rng.Float64(); {
		case x < 0.5:
			r.service, r.typ = "postgresql-database", "database"
		case x < 0.85:
			r.service, r.typ = "web-application", "compute"
		default:
			r.service, r.typ = "api-gateway", "networking"
		}
		switch x := rng.Float64(); {
		case x < 0.55:
			r.env = "development"
		case x < 0.8:
			r.env = "staging"
		default:
			r.env = "production"
		}
		r.name = fmt.Sprintf("%s-%s-%05d", r.team, strings.SplitN(r.service, "-", 2)[0], i)
		r.requester = fmt.Sprintf("slack:U%05d", int(2000*math.Pow(rng.Float64(), 3)))
		age := bigTeamNow.Sub(r.created)
		// States as in life: most are ready or gone; what waits or runs
		// is recent.
		switch x := rng.Float64(); {
		case age < 3*24*time.Hour && x < 0.15:
			r.state = map[bool]string{true: "awaiting_approval", false: "provisioning"}[r.env == "production"]
		case age < 3*24*time.Hour && x < 0.2:
			r.state = "pending"
		case x < 0.03:
			r.state, r.reason = "failed", "timeout waiting for the database server"
		case x < 0.045 && r.env == "production":
			r.state, r.reason = "rejected", "too large for this team; use medium"
		case x < 0.08 && r.env == "development":
			r.state = "expired"
		case x < 0.085:
			r.state = "updating"
		case x < 0.09:
			r.state = "deleting"
		case x < 0.092:
			r.state, r.reason = "forgotten", "the server was decommissioned"
		case x < 0.38:
			r.state = "deleted"
		default:
			r.state = "ready"
		}
		r.ended = bigTeamNow
		if r.state == "deleted" || r.state == "expired" || r.state == "rejected" || r.state == "forgotten" {
			r.ended = r.created.Add(time.Duration(rng.Float64() * float64(age)))
		}
		r.events = max(4, min(int(math.Round(math.Exp(mu+sigma*rng.NormFloat64()))), 40_000))
	}
	return out
}

// bigEventOf returns what event seq of r says: kind, actor, from, to and
// message, a plausible history: requested, policy, approval in
// production, provisioning, then steps, live reads, updates and reminders,
// and at the end the move to its state.
func bigEventOf(r *bigResource, seq int) (kind, actor, from, to, msg string) {
	first := "pending"
	if r.env == "production" {
		first = "awaiting_approval"
	}
	last := r.events - 1
	switch {
	case seq == 0:
		return "transition", r.requester, "", first, "requested by " + r.requester
	case seq == 1:
		return "verdict", "system:idpbot", "", "", "policy production-high-availability: allowed"
	case seq == 2 && r.env == "production":
		return "approval", "slack:U0APPROVER", "", "", "approved by approver"
	case seq == 3 && r.env == "production":
		return "transition", "slack:U0APPROVER", "awaiting_approval", "provisioning", "approved by approver"
	case seq == 2:
		return "transition", "system:idpbot", "pending", "provisioning", "provisioning started"
	case seq == last && r.state != "ready":
		return "transition", "system:idpbot", "ready", r.state, strings.TrimSpace(r.state + " " + r.reason)
	}
	switch seq % 7 {
	case 0:
		return "note", "system:idpbot", "", "", "live status read: healthy, matches the record"
	case 1:
		return "step", "system:idpbot", "", "", fmt.Sprintf("applied change %d: size small → medium", seq)
	case 2:
		return "transition", r.requester, "ready", "updating", "update requested by " + r.requester
	case 3:
		return "transition", "system:idpbot", "updating", "ready", "update applied"
	case 4:
		return "reminder", "system:idpbot", "", "", "expires in 2 days; /idp extend to keep it"
	case 5:
		return "step", "system:idpbot", "", "", "rollout: 3 of 3 replicas available"
	}
	return "note", r.requester, "", "", "extended by 7d by " + r.requester
}

func copyBigTeam(ctx context.Context, conn *pgx.Conn, plan []bigResource) error {
	i := 0
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"resources"}, []string{"id", "service", "service_type", "name", "team", "environment",
		"parameters", "state", "reason", "requester_id", "requester_name", "self_service", "origin_platform", "origin_channel",
		"created_at", "updated_at", "ready_at", "expires_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(plan) {
				return nil, nil
			}
			r := &plan[i]
			i++
			var ready, expires *time.Time
			if r.state == "ready" || r.state == "updating" || r.state == "deleting" || r.state == "deleted" {
				t := r.created.Add(90 * time.Second)
				ready = &t
			}
			if r.env == "development" {
				t := r.created.Add(7 * 24 * time.Hour)
				expires = &t
			}
			return []any{r.id, r.service, r.typ, r.name, r.team, r.env, []byte(`{"size": "small"}`), r.state, r.reason,
				r.requester, strings.TrimPrefix(r.requester, "slack:"), true, "slack", "C0REQUESTS", r.created, r.ended, ready, expires}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy resources: %w", err)
	}
	// Events of all resources interleave in time, as they were recorded:
	// a resource's history is spread over the table, not packed.
	n := 0
	for _, r := range plan {
		n += r.events
	}
	evs := make([]bigEvent, 0, n)
	rng := rand.New(rand.NewPCG(5, 5_000_000))
	var times []int64
	for ri := range plan {
		r := &plan[ri]
		from, to := r.created.UnixMicro(), r.ended.UnixMicro()
		// The first events come a second apart; the rest spread over the
		// resource's life, the last at its end.
		times = times[:0]
		for range r.events {
			times = append(times, from+4_000_000+rng.Int64N(max(to-from-4_000_000, 1)))
		}
		slices.Sort(times)
		times[len(times)-1] = max(to, times[len(times)-1])
		for seq := range r.events {
			at := times[seq]
			if seq <= 3 {
				at = from + int64(seq)*1_000_000
			}
			evs = append(evs, bigEvent{at: at, res: int32(ri), seq: int32(seq)})
		}
	}
	slices.SortFunc(evs, func(a, b bigEvent) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.res, b.res), cmp.Compare(a.seq, b.seq))
	})
	i = 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"id", "resource_id", "at", "actor_id", "kind", "from_state", "to_state", "message"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(evs) {
				return nil, nil
			}
			ev := evs[i]
			i++
			r := &plan[ev.res]
			kind, actor, from, to, msg := bigEventOf(r, int(ev.seq))
			return []any{int64(i), r.id, time.UnixMicro(ev.at).UTC(), actor, kind, from, to, msg}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy events: %w", err)
	}
	return nil
}
