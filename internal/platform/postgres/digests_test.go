package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
	"github.com/idpbot/idpbot/internal/survey"
)

// digestHistory records resources and their transitions at chosen times with
// the real store.
type digestHistory struct {
	t     *testing.T
	clock *platformtest.Clock
	store *postgres.Store
}

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

var requester = platform.Actor{ID: "slack:UDEV", Name: "dev"}

// create records a request of service by team in env at when, in state
// (pending, or awaiting_approval).
func (h *digestHistory) create(when, service, team, env string, state platform.State, self bool) int64 {
	h.t.Helper()
	h.clock.Set(at(when))
	r := &platform.Resource{Service: service, ServiceType: "database", Name: "r" + when[8:10] + when[11:13] + when[14:16],
		Team: team, Environment: env, State: state, Requester: requester, SelfService: self}
	if err := h.store.CreateResource(context.Background(), r, platform.Event{Actor: requester, Message: "requested"}, nil); err != nil {
		h.t.Fatalf("create %s: %v", r.Name, err)
	}
	return r.ID
}

func (h *digestHistory) move(when string, id int64, to platform.State, message string) {
	h.t.Helper()
	h.clock.Set(at(when))
	now := at(when)
	_, err := h.store.Transition(context.Background(), id, to, platform.Event{Actor: platform.System, Message: message}, func(r *platform.Resource) error {
		if to == platform.Ready {
			r.ReadyAt = now
		}
		if to == platform.Failed {
			r.Reason = message
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("move %d to %s: %v", id, to, err)
	}
}

// provision moves a pending resource through provisioning to ready or
// failed (when reason is set).
func (h *digestHistory) provision(start, end string, id int64, reason string) {
	h.t.Helper()
	h.move(start, id, platform.Provisioning, "provisioning")
	if reason != "" {
		h.move(end, id, platform.Failed, reason)
		return
	}
	h.move(end, id, platform.Ready, "ready")
}

func closedSurvey(t *testing.T, pool *pgxpool.Pool, closed time.Time, channel string, p, pa, d int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO surveys (platform, channel, slot, opened_at, closes_at, closed_at,
			score, promoters, passives, detractors, responses, members)
		VALUES ('slack', $1, $2, $2, $3, $3, 0, $4::int, $5::int, $6::int, $4::int + $5::int + $6::int, 0)`,
		channel, closed.Add(-7*24*time.Hour), closed, p, pa, d)
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoad records two weeks of digestHistory and checks every number of both
// periods: cur is [Mon 5 Jan 09:00, Mon 12 Jan 09:00), prev the week
// before.
func TestLoad(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	c := platformtest.NewClock(time.Time{}, 0)
	h := &digestHistory{t: t, clock: c, store: postgres.NewStore(pool, postgres.StoreOptions{Now: c.Now})}
	const pg, web = "postgresql-database", "web-application"
	const dev, stg, prod = "development", "staging", "production"

	// Before both periods: ready, then deleted during cur (its
	// deprovisioning failed).
	a := h.create("2025-12-20 10:00:00", web, "payments", dev, platform.Pending, true)
	h.provision("2025-12-20 10:00:01", "2025-12-20 10:01:00", a, "")
	// prev.
	b := h.create("2025-12-30 10:00:00", pg, "payments", dev, platform.Pending, true)
	h.provision("2025-12-30 10:00:01", "2025-12-30 10:02:00", b, "")
	cc := h.create("2025-12-31 10:00:00", pg, "platform", stg, platform.Pending, true)
	h.provision("2025-12-31 10:00:01", "2025-12-31 10:05:00", cc, "quota exceeded on target")
	d := h.create("2026-01-01 10:00:00", pg, "payments", prod, platform.AwaitingApproval, true)
	h.move("2026-01-01 13:00:00", d, platform.Provisioning, "approved")
	h.move("2026-01-01 13:05:00", d, platform.Ready, "ready")
	// cur.
	e := h.create("2026-01-06 10:00:00", pg, "payments", dev, platform.Pending, true)
	h.provision("2026-01-06 10:00:01", "2026-01-06 10:00:30", e, "")
	f := h.create("2026-01-06 11:00:00", web, "platform", dev, platform.Pending, true)
	h.provision("2026-01-06 11:00:01", "2026-01-06 11:01:30", f, "")
	g := h.create("2026-01-07 10:00:00", pg, "payments", dev, platform.Pending, true)
	h.provision("2026-01-07 10:00:01", "2026-01-07 10:10:00", g, "timeout")
	hh := h.create("2026-01-07 11:00:00", pg, "payments", dev, platform.Pending, true)
	h.provision("2026-01-07 11:00:01", "2026-01-07 11:10:00", hh, "timeout")
	h.move("2026-01-07 12:00:00", a, platform.Deleting, "delete")
	h.move("2026-01-07 12:01:00", a, platform.Failed, "deprovisioning failed: cluster gone")
	i := h.create("2026-01-08 09:00:00", pg, "payments", stg, platform.Pending, true)
	h.provision("2026-01-08 09:00:01", "2026-01-08 09:00:02", i, "quota exceeded on target")
	j := h.create("2026-01-08 10:00:00", pg, "payments", prod, platform.AwaitingApproval, true)
	h.move("2026-01-08 11:00:00", j, platform.Rejected, "rejected")
	k := h.create("2026-01-09 10:00:00", pg, "payments", prod, platform.AwaitingApproval, true)
	h.move("2026-01-09 15:00:00", k, platform.Provisioning, "approved")
	h.move("2026-01-09 15:10:00", k, platform.Ready, "ready")
	h.create("2026-01-10 10:00:00", pg, "platform", dev, platform.Pending, false)
	// After cur: one more ready, and b deleted.
	m := h.create("2026-01-12 10:00:00", pg, "platform", dev, platform.Pending, true)
	h.provision("2026-01-12 10:00:01", "2026-01-12 10:01:00", m, "")
	h.move("2026-01-13 10:00:00", b, platform.Deleting, "delete")
	h.move("2026-01-13 10:01:00", b, platform.Deleted, "deleted")

	closedSurvey(t, pool, at("2026-01-02 10:00:00"), "C1", 2, 1, 1)
	closedSurvey(t, pool, at("2026-01-10 10:00:00"), "C1", 3, 1, 0)
	closedSurvey(t, pool, at("2026-01-10 10:00:00"), "C2", 0, 0, 1) // the same round: counted together
	closedSurvey(t, pool, at("2026-01-20 10:00:00"), "C1", 0, 0, 5) // after cur

	cur, prev, err := postgres.NewDigests(pool).Load(context.Background(), at("2026-01-05 09:00:00"), at("2026-01-12 09:00:00"))
	if err != nil {
		t.Fatal(err)
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	wantPrev := digest.Data{
		Period:         digest.Period{From: at("2025-12-29 09:00:00"), To: at("2026-01-05 09:00:00")},
		Requests:       3,
		SelfService:    3,
		ByService:      []digest.Count{{Key: pg, N: 3}},
		ByTeam:         []digest.Count{{Key: "payments", N: 2}, {Key: "platform", N: 1}},
		ByEnvironment:  []digest.Count{{Key: dev, N: 1}, {Key: prod, N: 1}, {Key: stg, N: 1}},
		Ready:          2,
		Failed:         1,
		FailureReasons: []digest.Count{{Key: "quota exceeded on target", N: 1}},
		// 2m and 3h05m: the median interpolates, p90 = 120 + 0.9 × 10980.
		Provision:       []digest.Timing{{Service: pg, N: 2, P50: sec(5610), P90: sec(10002)}},
		Approvals:       1,
		ApprovalWaitP50: 3 * time.Hour,
		Active:          3,
		NPS:             survey.FromCounts(2, 1, 1),
		HasNPS:          true,
		NPSAt:           at("2026-01-02 10:00:00"),
	}
	wantCur := digest.Data{
		Period:         digest.Period{From: at("2026-01-05 09:00:00"), To: at("2026-01-12 09:00:00")},
		Requests:       8,
		SelfService:    7,
		ByService:      []digest.Count{{Key: pg, N: 7}, {Key: web, N: 1}},
		ByTeam:         []digest.Count{{Key: "payments", N: 6}, {Key: "platform", N: 2}},
		ByEnvironment:  []digest.Count{{Key: dev, N: 5}, {Key: prod, N: 2}, {Key: stg, N: 1}},
		Ready:          3,
		Failed:         3,
		FailureReasons: []digest.Count{{Key: "timeout", N: 2}, {Key: "quota exceeded on target", N: 1}},
		// pg: 30s and 5h10m; web: 90s alone.
		Provision: []digest.Timing{
			{Service: pg, N: 2, P50: sec(9315), P90: sec(16743)},
			{Service: web, N: 1, P50: sec(90), P90: sec(90)},
		},
		Approvals:       2,
		ApprovalWaitP50: 3 * time.Hour, // 1h and 5h
		Active:          5,
		NPS:             survey.FromCounts(3, 1, 1),
		HasNPS:          true,
		NPSAt:           at("2026-01-10 10:00:00"),
	}
	if diff := cmp.Diff(wantPrev, prev); diff != "" {
		t.Errorf("previous period mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCur, cur); diff != "" {
		t.Errorf("current period mismatch (-want +got):\n%s", diff)
	}

	// An empty database and an empty period.
	empty := postgrestest.Pool(t)
	cur, prev, err = postgres.NewDigests(empty).Load(context.Background(), at("2026-01-05 09:00:00"), at("2026-01-12 09:00:00"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(digest.Data{Period: digest.Period{From: at("2026-01-05 09:00:00"), To: at("2026-01-12 09:00:00")}}, cur); diff != "" {
		t.Errorf("empty current period mismatch (-want +got):\n%s", diff)
	}
	if prev.Requests != 0 || prev.HasNPS || prev.Active != 0 {
		t.Errorf("empty previous period = %+v", prev)
	}
	if _, _, err := postgres.NewDigests(empty).Load(context.Background(), at("2026-01-05 09:00:00"), at("2026-01-05 09:00:00")); err == nil {
		t.Error("Load of an empty period succeeded")
	}
}
