package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// notifyJob is a River job shaped like jobs.NotifyArgs.
type notifyJob struct {
	Platform   string `json:"platform"`
	ResourceID int64  `json:"resource_id"`
	EventID    int64  `json:"event_id"`
}

func (notifyJob) Kind() string { return "notify" }

func TestUndelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	// Everything recorded an hour ago.
	s := postgres.NewStore(pool, postgres.StoreOptions{Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	a := created(t, s, newResource("postgresql-database", "orders", "staging"))
	b := newResource("postgresql-database", "billing", "staging")
	b.Origin = platform.Origin{Platform: "slack", Channel: "C1"}
	created(t, s, b)
	c := newResource("postgresql-database", "nowhere", "staging")
	c.Origin = platform.Origin{}
	created(t, s, c)
	secret, err := s.AddEvent(ctx, platform.Event{ResourceID: b.ID, Actor: alice, Kind: platform.EventSecret, Sealed: []byte("sealed")})
	if err != nil {
		t.Fatal(err)
	}

	type found struct{ ID, UpTo int64 }
	undelivered := func(stale time.Duration, limit int) []found {
		t.Helper()
		var out []found
		err := s.Undelivered(ctx, "notify", stale, limit, func(r *platform.Resource, upTo int64) {
			out = append(out, found{r.ID, upTo})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	evA, err := s.Events(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	all := []found{{a.ID, evA[0].ID}, {b.ID, secret.ID}}
	if diff := cmp.Diff(all, undelivered(time.Minute, 100)); diff != "" {
		t.Errorf("Undelivered without jobs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(all[:1], undelivered(time.Minute, 1)); diff != "" {
		t.Errorf("Undelivered limited to 1 mismatch (-want +got):\n%s", diff)
	}
	if got := undelivered(2*time.Hour, 100); len(got) != 0 {
		t.Errorf("Undelivered with events recorded within stale = %v, want none", got)
	}

	// Jobs that do not reach b's newest event on its platform leave it
	// undelivered: one for an earlier event, one for another platform, one
	// discarded.
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []notifyJob{{"slack", b.ID, secret.ID - 1}, {"discord", b.ID, secret.ID}} {
		if _, err := client.Insert(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	discarded, err := client.Insert(ctx, notifyJob{"slack", b.ID, secret.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE id = $1`, discarded.Job.ID); err != nil {
		t.Fatal(err)
	}
	// a's events are delivered.
	if err := s.Deliver(ctx, "console", a.ID, evA[0].ID, func(context.Context, *platform.Resource, platform.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[1:], undelivered(time.Minute, 100)); diff != "" {
		t.Errorf("Undelivered with a delivered and b's jobs lost mismatch (-want +got):\n%s", diff)
	}
	// A live job that reaches b's newest event will deliver it.
	if _, err := client.Insert(ctx, notifyJob{"slack", b.ID, secret.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if got := undelivered(time.Minute, 100); len(got) != 0 {
		t.Errorf("Undelivered with every thread delivered or queued = %v, want none", got)
	}
}

// A delivery job is superseded by a later live job of the same resource
// and platform only.
func TestSuperseded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	s := postgres.NewStore(pool, postgres.StoreOptions{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(j notifyJob) int64 {
		t.Helper()
		res, err := client.Insert(ctx, j, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}
	superseded := func(id int64) bool {
		t.Helper()
		later, err := s.Superseded(ctx, "notify", "slack", 7, id)
		if err != nil {
			t.Fatal(err)
		}
		return later
	}
	first := insert(notifyJob{"slack", 7, 10})
	insert(notifyJob{"slack", 8, 11})   // another resource
	insert(notifyJob{"discord", 7, 11}) // another platform
	if superseded(first) {
		t.Error("superseded by jobs of another resource or platform")
	}
	second := insert(notifyJob{"slack", 7, 12})
	if !superseded(first) || superseded(second) {
		t.Errorf("superseded: first %v, second %v; want the first only", superseded(first), superseded(second))
	}
	// A finished later job delivers nothing more.
	if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, second); err != nil {
		t.Fatal(err)
	}
	if superseded(first) {
		t.Error("superseded by a completed job")
	}
}
