package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

func TestUpdateKeepsStateAndRecordsEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hooked []platform.Event
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{
		OnEvent: func(_ context.Context, _ pgx.Tx, _ *platform.Resource, ev platform.Event) error {
			hooked = append(hooked, ev)
			return nil
		},
	})
	r := newResource("postgresql-database", "orders-db", "development")
	r.ExpiresAt = time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC)
	created(t, s, r)
	later := r.ExpiresAt.Add(7 * 24 * time.Hour)
	got, err := s.Update(ctx, r.ID, platform.Event{Actor: alice, Message: "extended"}, func(cur *platform.Resource) error {
		cur.ExpiresAt = later
		cur.State = platform.Deleted // ignored: Update never changes the state
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if got.State != platform.Pending || !got.ExpiresAt.Equal(later) {
		t.Errorf("Update returned state %s, expiry %v; want pending, %v", got.State, got.ExpiresAt, later)
	}
	read, err := s.Resource(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if read.State != platform.Pending || !read.ExpiresAt.Equal(later) {
		t.Errorf("stored state %s, expiry %v; want pending, %v", read.State, read.ExpiresAt, later)
	}
	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if len(evs) != 2 || last.Kind != platform.EventNote || last.Message != "extended" || last.From != "" || last.To != "" || last.Actor.ID != alice.ID {
		t.Errorf("events after Update = %+v, want the note last", evs)
	}
	if len(hooked) != 2 || hooked[1].ID != last.ID {
		t.Errorf("OnEvent saw %+v, want the note too", hooked)
	}

	// A refusal from mutate changes nothing and comes back as is.
	_, err = s.Update(ctx, r.ID, platform.Event{Actor: alice, Message: "never"}, func(*platform.Resource) error {
		return platform.Errorf(platform.Conflict, "changed meanwhile")
	})
	if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != "changed meanwhile" {
		t.Errorf("Update with a refusing mutate = %v, want its Conflict", err)
	}
	if evs2, _ := s.Events(ctx, r.ID); len(evs2) != 2 {
		t.Errorf("a refused Update recorded an event: %+v", evs2)
	}
	if _, err := s.Update(ctx, r.ID+1000, platform.Event{Actor: alice}, nil); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Update of a missing resource = %v, want NotFound", err)
	}
}

func TestResourcesExpiresBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	base := time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC)
	soon := newResource("postgresql-database", "soon", "development")
	soon.ExpiresAt = base
	later := newResource("postgresql-database", "later", "development")
	later.ExpiresAt = base.Add(48 * time.Hour)
	never := newResource("postgresql-database", "never", "development")
	for _, r := range []*platform.Resource{soon, later, never} {
		created(t, s, r)
	}
	rs, err := s.Resources(ctx, platform.ResourceFilter{ExpiresBefore: base.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ID != soon.ID {
		t.Errorf("Resources(ExpiresBefore) = %d resources, want only %s", len(rs), soon.Ref())
	}
	all, err := s.Resources(ctx, platform.ResourceFilter{})
	if err != nil || len(all) != 3 {
		t.Errorf("Resources() = %d, %v; want all 3", len(all), err)
	}
}
