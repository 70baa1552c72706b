package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

var alice = platform.Actor{ID: "console:alice", Name: "Alice", Email: "alice@example.com"}

// newResource returns a pending resource of service svc for team payments.
func newResource(svc, name, env string) *platform.Resource {
	return &platform.Resource{
		Service:     svc,
		ServiceType: "database",
		Name:        name,
		Team:        "payments",
		Environment: env,
		Parameters:  map[string]any{"size": "small"},
		State:       platform.Pending,
		Requester:   alice,
		SelfService: true,
		Origin:      platform.Origin{Platform: "console", Channel: "tty"},
	}
}

func created(t *testing.T, s *postgres.Store, r *platform.Resource) *platform.Resource {
	t.Helper()
	ev := platform.Event{Actor: r.Requester, Kind: platform.EventTransition, To: r.State, Message: "requested"}
	if err := s.CreateResource(context.Background(), r, ev, nil); err != nil {
		t.Fatalf("CreateResource(%s) = %v", r.Name, err)
	}
	return r
}

func TestCreateResourceRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.UTC)
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{Now: func() time.Time { return now }})

	r := newResource("postgresql-database", "orders-db", "production")
	r.Parameters = map[string]any{
		"size": "medium", "high_availability": true, "backup_retention_days": int64(14),
		"ratio": 0.25, "whole_float": float64(3), "name": "x'; DROP TABLE resources; --",
	}
	r.ExpiresAt = now.Add(48 * time.Hour)
	r.IdempotencyKey = "slack:V0123"
	ev := platform.Event{Actor: alice, Kind: platform.EventTransition, To: platform.Pending, Message: "requested by Alice"}
	if err := s.CreateResource(ctx, r, ev, nil); err != nil {
		t.Fatalf("CreateResource = %v", err)
	}
	if r.ID == 0 {
		t.Fatal("CreateResource did not set ID")
	}
	wantTime := now.Truncate(time.Microsecond)
	if !r.CreatedAt.Equal(wantTime) || !r.UpdatedAt.Equal(wantTime) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v", r.CreatedAt, r.UpdatedAt, wantTime)
	}

	got, err := s.Resource(ctx, r.ID)
	if err != nil {
		t.Fatalf("Resource(%d) = %v", r.ID, err)
	}
	want := *r
	want.Parameters = map[string]any{
		"size": "medium", "high_availability": true, "backup_retention_days": int64(14),
		"ratio": 0.25, "whole_float": int64(3), "name": "x'; DROP TABLE resources; --",
	}
	want.ExpiresAt = r.ExpiresAt.Truncate(time.Microsecond)
	if diff := cmp.Diff(&want, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Resource mismatch (-want +got):\n%s", diff)
	}

	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEvs := []platform.Event{{ResourceID: r.ID, At: wantTime, Actor: platform.Actor{ID: alice.ID, Name: alice.Name},
		Kind: platform.EventTransition, To: platform.Pending, Message: "requested by Alice"}}
	if diff := cmp.Diff(wantEvs, evs, cmpopts.EquateApproxTime(0), cmpopts.IgnoreFields(platform.Event{}, "ID")); diff != "" {
		t.Errorf("Events mismatch (-want +got):\n%s", diff)
	}
}

func TestResourceNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	if _, err := s.Resource(ctx, 4242); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Resource(4242) = %v, want NotFound", err)
	}
	if _, err := s.Transition(ctx, 4242, platform.Provisioning, platform.Event{Actor: platform.System}, nil); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Transition(4242) = %v, want NotFound", err)
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: 4242, Actor: platform.System, Kind: platform.EventStep}); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("AddEvent(4242) = %v, want NotFound", err)
	}
}

func TestResourcesFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{Now: func() time.Time {
		clock = clock.Add(time.Minute)
		return clock
	}})
	a := created(t, s, newResource("postgresql-database", "a", "production"))
	b := newResource("postgresql-database", "b", "staging")
	b.Requester = platform.Actor{ID: "slack:U1"}
	created(t, s, b)
	c := newResource("web-application", "c", "staging")
	c.Team = "platform"
	created(t, s, c)
	d := created(t, s, newResource("postgresql-database", "d", "staging"))
	if _, err := s.Transition(ctx, d.ID, platform.Failed, platform.Event{Actor: platform.System, Message: "boom"}, func(r *platform.Resource) error {
		r.Reason = "boom"
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    platform.ResourceFilter
		want []int64
	}{
		{"all newest first", platform.ResourceFilter{}, []int64{d.ID, c.ID, b.ID, a.ID}},
		{"limit", platform.ResourceFilter{Limit: 2}, []int64{d.ID, c.ID}},
		{"by id", platform.ResourceFilter{ID: b.ID}, []int64{b.ID}},
		{"by name", platform.ResourceFilter{Name: "c"}, []int64{c.ID}},
		{"by service", platform.ResourceFilter{Service: "postgresql-database"}, []int64{d.ID, b.ID, a.ID}},
		{"by environment", platform.ResourceFilter{Environment: "staging"}, []int64{d.ID, c.ID, b.ID}},
		{"by teams", platform.ResourceFilter{Teams: []string{"platform", "nobody"}}, []int64{c.ID}},
		{"no teams", platform.ResourceFilter{Teams: []string{}}, nil},
		{"by requester", platform.ResourceFilter{Requester: "slack:U1"}, []int64{b.ID}},
		{"by states", platform.ResourceFilter{States: []platform.State{platform.Failed}}, []int64{d.ID}},
		{"combined", platform.ResourceFilter{Service: "postgresql-database", Environment: "staging", States: platform.CountedStates()}, []int64{b.ID}},
	}
	for _, tt := range tests {
		rs, err := s.Resources(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: Resources = %v", tt.name, err)
		}
		var ids []int64
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("%s: Resources(%+v) ids mismatch (-want +got):\n%s", tt.name, tt.f, diff)
		}
	}

	// Only counted resources count towards usage: d failed.
	if n, err := s.Usage(ctx, "payments", "postgresql-database"); err != nil || n != 2 {
		t.Errorf("Usage(payments, postgresql-database) = %d, %v; want 2", n, err)
	}
	if n, err := s.Usage(ctx, "platform", "postgresql-database"); err != nil || n != 0 {
		t.Errorf("Usage(platform, postgresql-database) = %d, %v; want 0", n, err)
	}
}

func TestCreateResourceNameConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	first := created(t, s, newResource("postgresql-database", "orders-db", "production"))

	err := s.CreateResource(ctx, newResource("postgresql-database", "orders-db", "production"),
		platform.Event{Actor: alice, To: platform.Pending}, nil)
	want := fmt.Sprintf("team payments already has a postgresql-database called orders-db in production (#%d)", first.ID)
	if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != want {
		t.Fatalf("CreateResource(duplicate) = %v, want Conflict %q", err, want)
	}
	if f := platform.ErrorFields(err); len(f) != 1 || f[0].Field != "name" {
		t.Errorf("duplicate name fields = %+v, want one about name", f)
	}

	// The same name is fine in another environment; a failed resource
	// still holds its name, a forgotten one no longer does.
	created(t, s, newResource("postgresql-database", "orders-db", "staging"))
	if _, err := s.Transition(ctx, first.ID, platform.Failed, platform.Event{Actor: platform.System}, nil); err != nil {
		t.Fatal(err)
	}
	err = s.CreateResource(ctx, newResource("postgresql-database", "orders-db", "production"), platform.Event{Actor: alice, To: platform.Pending}, nil)
	if platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("CreateResource(name of a failed resource) = %v, want Conflict", err)
	}
	if _, err := s.Transition(ctx, first.ID, platform.Forgotten, platform.Event{Actor: alice}, nil); err != nil {
		t.Fatal(err)
	}
	created(t, s, newResource("postgresql-database", "orders-db", "production"))
	if n, err := s.Usage(ctx, "payments", "postgresql-database"); err != nil || n != 2 {
		t.Errorf("Usage = %d, %v; want 2", n, err)
	}
}

func TestCreateResourceIdempotencyKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	first := newResource("postgresql-database", "orders-db", "production")
	first.IdempotencyKey = "slack:view:V1"
	created(t, s, first)
	created(t, s, newResource("postgresql-database", "no-key-1", "production"))
	created(t, s, newResource("postgresql-database", "no-key-2", "production"))

	rs, err := s.Resources(ctx, platform.ResourceFilter{IdempotencyKey: "slack:view:V1"})
	if err != nil || len(rs) != 1 || rs[0].ID != first.ID || rs[0].IdempotencyKey != "slack:view:V1" {
		t.Errorf("Resources(by idempotency key) = %v, %v; want #%d", rs, err, first.ID)
	}

	// The same delivery again, even for another team's quota lock, and
	// concurrently: exactly one resource holds the key.
	want := fmt.Sprintf("This request was already submitted as #%d.", first.ID)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			r := newResource("web-application", fmt.Sprintf("retry-%d", i), "staging")
			r.Team = fmt.Sprintf("team-%d", i)
			r.IdempotencyKey = "slack:view:V1"
			errs[i] = s.CreateResource(ctx, r, platform.Event{Actor: alice, To: platform.Pending}, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != want {
			t.Errorf("CreateResource #%d with a used key = %v, want Conflict %q", i, err, want)
		}
	}
	// Racing first deliveries of a new key: one wins, the others conflict.
	wins := 0
	for i := range errs {
		wg.Go(func() {
			r := newResource("web-application", fmt.Sprintf("race-%d", i), "staging")
			r.Team = fmt.Sprintf("team-%d", i)
			r.IdempotencyKey = "discord:interaction:42"
			errs[i] = s.CreateResource(ctx, r, platform.Event{Actor: alice, To: platform.Pending}, nil)
		})
	}
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case platform.ErrorCode(err) != platform.Conflict:
			t.Errorf("racing CreateResource = %v, want success or Conflict", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing deliveries of one key created a resource, want 1", wins)
	}
}

func TestCreateResourceQuotaUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	errQuota := errors.New("quota reached")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, quota int
		others    []error
	)
	for i := range 20 {
		wg.Go(func() {
			r := newResource("postgresql-database", fmt.Sprintf("db-%d", i), "staging")
			err := s.CreateResource(ctx, r, platform.Event{Actor: alice, To: platform.Pending}, func(usage int) error {
				if usage >= 5 {
					return errQuota
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case err == errQuota: // returned as is, not wrapped
				quota++
			default:
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	if ok != 5 || quota != 15 || len(others) > 0 {
		t.Errorf("20 concurrent creations with quota 5: %d created, %d over quota, other errors %v; want 5, 15, none", ok, quota, others)
	}
	if n, err := s.Usage(ctx, "payments", "postgresql-database"); err != nil || n != 5 {
		t.Errorf("Usage = %d, %v; want 5", n, err)
	}
}

func TestTransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r := created(t, s, newResource("postgresql-database", "orders-db", "production"))

	if _, err := s.Transition(ctx, r.ID, platform.Provisioning, platform.Event{Actor: platform.System, Message: "provisioning started"}, nil); err != nil {
		t.Fatalf("pending → provisioning: %v", err)
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventStep, Message: "role created"}); err != nil {
		t.Fatalf("AddEvent: %v", err)
	}
	readyAt := time.Now().Truncate(time.Microsecond)
	got, err := s.Transition(ctx, r.ID, platform.Ready, platform.Event{Actor: platform.System, Message: "ready"}, func(r *platform.Resource) error {
		r.Outputs = map[string]string{"host": "db.internal", "database": "payments_orders"}
		r.ReadyAt = readyAt
		return nil
	})
	if err != nil {
		t.Fatalf("provisioning → ready: %v", err)
	}
	if got.State != platform.Ready || !got.ReadyAt.Equal(readyAt) {
		t.Errorf("Transition returned state %s, ready at %v; want ready at %v", got.State, got.ReadyAt, readyAt)
	}
	stored, err := s.Resource(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, stored, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("stored resource differs from the one Transition returned (-returned +stored):\n%s", diff)
	}
	if stored.Outputs["host"] != "db.internal" {
		t.Errorf("Outputs = %v, want host db.internal", stored.Outputs)
	}

	// An illegal move is a Conflict wrapping the Internal error of
	// platform.Transition, and changes nothing.
	_, err = s.Transition(ctx, r.ID, platform.Provisioning, platform.Event{Actor: platform.System}, func(r *platform.Resource) error {
		t.Error("mutate called for an illegal transition")
		return nil
	})
	var pe *platform.Error
	if platform.ErrorCode(err) != platform.Conflict || !errors.As(errors.Unwrap(err), &pe) || pe.Code != platform.Internal {
		t.Errorf("ready → provisioning = %v, want Conflict wrapping Internal", err)
	}
	// A failing mutate aborts the transition.
	errMutate := errors.New("mutate failed")
	if _, err := s.Transition(ctx, r.ID, platform.Deleting, platform.Event{Actor: alice}, func(*platform.Resource) error { return errMutate }); !errors.Is(err, errMutate) {
		t.Errorf("Transition with failing mutate = %v, want %v", err, errMutate)
	}

	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Kind     platform.EventKind
		From, To platform.State
		Message  string
	}
	var lines []line
	for i, ev := range evs {
		if i > 0 && ev.ID <= evs[i-1].ID {
			t.Errorf("events out of order: %d after %d", ev.ID, evs[i-1].ID)
		}
		lines = append(lines, line{ev.Kind, ev.From, ev.To, ev.Message})
	}
	want := []line{
		{platform.EventTransition, "", platform.Pending, "requested"},
		{platform.EventTransition, platform.Pending, platform.Provisioning, "provisioning started"},
		{platform.EventStep, "", "", "role created"},
		{platform.EventTransition, platform.Provisioning, platform.Ready, "ready"},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("Events mismatch (-want +got):\n%s", diff)
	}
}

func TestOnEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	var (
		seen []platform.Event
		fail bool
	)
	s := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: func(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error {
		// The hook runs inside the transaction: the event row is visible.
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM events WHERE id = $1 AND resource_id = $2", ev.ID, r.ID).Scan(&n); err != nil || n != 1 {
			t.Errorf("OnEvent: event %d of resource %d not visible in the transaction (%d, %v)", ev.ID, r.ID, n, err)
		}
		if r.State != ev.To && ev.Kind == platform.EventTransition {
			t.Errorf("OnEvent: resource state %s, event to %s", r.State, ev.To)
		}
		seen = append(seen, ev)
		if fail {
			return errors.New("enqueue failed")
		}
		return nil
	}})
	r := created(t, s, newResource("postgresql-database", "orders-db", "production"))
	if _, err := s.Transition(ctx, r.ID, platform.Provisioning, platform.Event{Actor: platform.System}, nil); err != nil {
		t.Fatal(err)
	}
	ev, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventStep, Message: "step"})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0].ResourceID != r.ID || seen[0].To != platform.Pending ||
		seen[1].From != platform.Pending || seen[1].To != platform.Provisioning || seen[1].At.IsZero() ||
		seen[2].ID != ev.ID || seen[2].Message != "step" {
		t.Errorf("OnEvent saw %+v", seen)
	}

	// A failing hook rolls back the whole change.
	fail = true
	r2 := newResource("postgresql-database", "other-db", "production")
	if err := s.CreateResource(ctx, r2, platform.Event{Actor: alice, To: platform.Pending}, nil); err == nil {
		t.Error("CreateResource with failing OnEvent succeeded")
	}
	if _, err := s.Transition(ctx, r.ID, platform.Ready, platform.Event{Actor: platform.System}, nil); err == nil {
		t.Error("Transition with failing OnEvent succeeded")
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventNote}); err == nil {
		t.Error("AddEvent with failing OnEvent succeeded")
	}
	rs, err := s.Resources(ctx, platform.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].State != platform.Provisioning {
		t.Errorf("after failed hooks: resources %v, want only #%d still provisioning", rs, r.ID)
	}
	evs, err := s.Events(ctx, r.ID)
	if err != nil || len(evs) != 3 {
		t.Errorf("after failed hooks: %d events (%v), want 3", len(evs), err)
	}
}

func TestThread(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r := created(t, s, newResource("postgresql-database", "orders-db", "production"))

	if _, ok, err := s.Thread(ctx, r.ID, "slack"); ok || err != nil {
		t.Errorf("Thread before SaveThread = %v, %v; want none", ok, err)
	}
	first := postgres.Thread{Channel: "C0REQUESTS", ThreadRef: "1700000000.000100", RootRef: "1700000000.000100"}
	if err := s.SaveThread(ctx, r.ID, "slack", first); err != nil {
		t.Fatal(err)
	}
	second := postgres.Thread{Channel: "C0REQUESTS", ThreadRef: "1700000000.000100", RootRef: "1700000000.000200"}
	if err := s.SaveThread(ctx, r.ID, "slack", second); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Thread(ctx, r.ID, "slack")
	if err != nil || !ok || got != second {
		t.Errorf("Thread = %+v, %v, %v; want %+v", got, ok, err, second)
	}
	if _, ok, _ := s.Thread(ctx, r.ID, "discord"); ok {
		t.Error("Thread(discord) found a slack thread")
	}
	if err := s.SaveThread(ctx, 999999, "slack", first); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("SaveThread(unknown resource) = %v, want NotFound", err)
	}
}

func TestStoreDatabaseDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nothing listens on port 1: every call must fail as Unavailable with
	// the message for people, keeping the cause for the log.
	cfg, err := postgres.ParseConfig("postgres://postgres@127.0.0.1:1/idpbot?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := postgres.NewStore(pool, postgres.StoreOptions{})
	want := "The database is not reachable right now; nothing was changed. Try again in a minute."
	_, err = s.Resource(ctx, 1)
	if platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != want {
		t.Errorf("Resource with the database down = %v, want Unavailable %q", err, want)
	}
	err = s.CreateResource(ctx, newResource("postgresql-database", "x", "staging"), platform.Event{Actor: alice}, nil)
	if platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("CreateResource with the database down = %v, want Unavailable", err)
	}
	if !postgres.IsUnreachable(err) {
		t.Errorf("IsUnreachable(%v) = false, want true", err)
	}
}

// Availability counts every request that reached a final provisioning
// outcome: a request that failed and was deleted since still failed; one
// whose deletion failed had been ready.
func TestStatsCountFailuresThatWereRemoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	move := func(r *platform.Resource, states ...platform.State) {
		t.Helper()
		for _, to := range states {
			if _, err := s.Transition(ctx, r.ID, to, platform.Event{Actor: platform.System, Message: string(to)}, func(cur *platform.Resource) error {
				if to == platform.Ready {
					cur.ReadyAt = time.Now()
				}
				return nil
			}); err != nil {
				t.Fatalf("%s → %s: %v", r.Name, to, err)
			}
		}
	}
	move(created(t, s, newResource("postgresql-database", "ready-db", "development")), platform.Provisioning, platform.Ready)
	move(created(t, s, newResource("postgresql-database", "undeletable-db", "development")), platform.Provisioning, platform.Ready, platform.Deleting, platform.Failed)
	move(created(t, s, newResource("postgresql-database", "failed-db", "development")), platform.Provisioning, platform.Failed)
	move(created(t, s, newResource("postgresql-database", "deleted-db", "development")), platform.Provisioning, platform.Failed, platform.Deleting, platform.Deleted)
	move(created(t, s, newResource("postgresql-database", "early-db", "development")), platform.Failed, platform.Deleting, platform.Deleted)
	created(t, s, newResource("postgresql-database", "pending-db", "development"))

	st, err := s.Stats(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 6 || st.Ready != 2 || st.Failed != 3 {
		t.Errorf("Stats = %d requests, %d ready, %d failed; want 6, 2, 3", st.Requests, st.Ready, st.Failed)
	}
}
