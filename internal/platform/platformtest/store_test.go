package platformtest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func newResource(name string) *platform.Resource {
	return &platform.Resource{Service: "postgresql-database", Name: name, Team: "payments", Environment: "development",
		State: platform.Pending, Requester: platformtest.Bob, Parameters: map[string]any{"size": "small"}}
}

func create(t *testing.T, s *platformtest.Store, r *platform.Resource) {
	t.Helper()
	if err := s.CreateResource(context.Background(), r, platform.Event{Kind: platform.EventTransition, Actor: r.Requester}, nil); err != nil {
		t.Fatalf("CreateResource(%s): %v", r.Name, err)
	}
}

func TestStoreCreateAndRead(t *testing.T) {
	t.Parallel()
	clock := platformtest.NewClock(platformtest.Start, time.Second)
	s := platformtest.NewStore(clock.Now)
	var seen []platform.Event
	s.OnEvent = func(r *platform.Resource, ev platform.Event) { seen = append(seen, ev) }
	a, b := newResource("a"), newResource("b")
	create(t, s, a)
	create(t, s, b)
	if a.ID != 1 || b.ID != 2 || !a.CreatedAt.Equal(platformtest.Start) || !b.CreatedAt.After(a.CreatedAt) {
		t.Errorf("ids %d, %d created %v, %v; want 1, 2, increasing", a.ID, b.ID, a.CreatedAt, b.CreatedAt)
	}
	// The caller's copy is not the stored one.
	a.Parameters["size"] = "large"
	got, err := s.Resource(context.Background(), 1)
	if err != nil || got.Parameters["size"] != "small" {
		t.Errorf("Resource(1) = %v, %v; stored parameters changed through the caller's map", got, err)
	}
	got.Name = "changed"
	if again, _ := s.Resource(context.Background(), 1); again.Name != "a" {
		t.Error("a returned resource aliases the stored one")
	}
	if _, err := s.Resource(context.Background(), 3); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Resource(3) = %v, want not found", err)
	}
	rs, _ := s.Resources(context.Background(), platform.ResourceFilter{})
	if len(rs) != 2 || rs[0].ID != 2 {
		t.Errorf("Resources = %v, want newest first", rs)
	}
	want := []platform.Event{
		{ID: 1, ResourceID: 1, At: platformtest.Start.Add(time.Second), Actor: platformtest.Bob, Kind: platform.EventTransition, To: platform.Pending},
		{ID: 2, ResourceID: 2, At: platformtest.Start.Add(3 * time.Second), Actor: platformtest.Bob, Kind: platform.EventTransition, To: platform.Pending},
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("OnEvent mismatch (-want +got):\n%s", diff)
	}
}

func TestStoreConflicts(t *testing.T) {
	t.Parallel()
	s := platformtest.NewStore(nil)
	create(t, s, newResource("orders-db"))
	err := s.CreateResource(context.Background(), newResource("orders-db"), platform.Event{}, nil)
	if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != "team payments already has a postgresql-database called orders-db in development (#1)" {
		t.Errorf("duplicate = %v", err)
	}
	other := newResource("orders-db")
	other.Environment = "staging"
	create(t, s, other)
	keyed := newResource("keyed")
	keyed.IdempotencyKey = "k1"
	create(t, s, keyed)
	dup := newResource("keyed2")
	dup.IdempotencyKey = "k1"
	if err := s.CreateResource(context.Background(), dup, platform.Event{}, nil); platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("duplicate idempotency key = %v, want conflict", err)
	}
	if rs, _ := s.Resources(context.Background(), platform.ResourceFilter{IdempotencyKey: "k1"}); len(rs) != 1 || rs[0].Name != "keyed" {
		t.Errorf("Resources(key k1) = %v", rs)
	}
	// A failed holder keeps the name; once it is forgotten, the name is
	// free.
	for _, to := range []platform.State{platform.Provisioning, platform.Failed} {
		if _, err := s.Transition(context.Background(), 1, to, platform.Event{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateResource(context.Background(), newResource("orders-db"), platform.Event{}, nil); platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("CreateResource(name of a failed resource) = %v, want conflict", err)
	}
	for _, to := range []platform.State{platform.Forgotten} {
		if _, err := s.Transition(context.Background(), 1, to, platform.Event{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	create(t, s, newResource("orders-db"))
	checkErr := errors.New("over quota")
	if err := s.CreateResource(context.Background(), newResource("x"), platform.Event{}, func(int) error { return checkErr }); err != checkErr {
		t.Errorf("CreateResource with a failing check = %v, want it as is", err)
	}
	if rs, _ := s.Resources(context.Background(), platform.ResourceFilter{Name: "x"}); len(rs) != 0 {
		t.Error("a resource was recorded although check failed")
	}
}

func TestStoreTransition(t *testing.T) {
	t.Parallel()
	s := platformtest.NewStore(nil)
	create(t, s, newResource("db"))
	r, err := s.Transition(context.Background(), 1, platform.Provisioning, platform.Event{Kind: platform.EventTransition, Message: "go"}, func(r *platform.Resource) error {
		r.Reason = "set by mutate"
		r.State = platform.Deleted // ignored: the store sets the state
		return nil
	})
	if err != nil || r.State != platform.Provisioning || r.Reason != "set by mutate" {
		t.Fatalf("Transition = %+v, %v", r, err)
	}
	_, err = s.Transition(context.Background(), 1, platform.Deleted, platform.Event{}, nil)
	if platform.ErrorCode(err) != platform.Conflict || platform.ErrorCode(errors.Unwrap(err)) != platform.Internal {
		t.Errorf("illegal Transition = %v, want a conflict wrapping the internal error", err)
	}
	mutateErr := errors.New("no")
	if _, err := s.Transition(context.Background(), 1, platform.Ready, platform.Event{}, func(*platform.Resource) error { return mutateErr }); err != mutateErr {
		t.Errorf("Transition with failing mutate = %v", err)
	}
	if got, _ := s.Resource(context.Background(), 1); got.State != platform.Provisioning {
		t.Errorf("state after failed transitions = %s, want provisioning", got.State)
	}
	if _, err := s.Transition(context.Background(), 9, platform.Ready, platform.Event{}, nil); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Transition(9) = %v, want not found", err)
	}
	if _, err := s.AddEvent(context.Background(), platform.Event{ResourceID: 1, Kind: platform.EventStep, Message: "step"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddEvent(context.Background(), platform.Event{ResourceID: 9}); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("AddEvent(9) = %v, want not found", err)
	}
	evs, _ := s.Events(context.Background(), 1)
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%d %s %s→%s %s", ev.ID, ev.Kind, ev.From, ev.To, ev.Message))
	}
	want := []string{"1 transition →pending ", "2 transition pending→provisioning go", "3 step → step"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestStoreFailAndContext(t *testing.T) {
	t.Parallel()
	s := platformtest.NewStore(nil)
	down := errors.New("connection refused")
	s.Fail = func(method string) error {
		if method == "Usage" {
			return down
		}
		return nil
	}
	if _, err := s.Usage(context.Background(), "payments", "x"); err != down {
		t.Errorf("Usage = %v, want the injected error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Resource(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Resource(cancelled) = %v", err)
	}
}

func TestStoreConcurrentQuotaCheck(t *testing.T) {
	t.Parallel()
	s := platformtest.NewStore(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 20 {
		wg.Go(func() {
			err := s.CreateResource(context.Background(), newResource(fmt.Sprintf("db%d", i)), platform.Event{}, func(usage int) error {
				if usage >= 5 {
					return errors.New("full")
				}
				return nil
			})
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if u, _ := s.Usage(context.Background(), "payments", "postgresql-database"); ok != 5 || u != 5 {
		t.Errorf("%d created, usage %d; want 5 and 5", ok, u)
	}
}
