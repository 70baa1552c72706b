package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// history creates a resource with a thread's worth of events, the fourth a
// sealed secret, and returns it with the event IDs in order.
func history(t *testing.T, s *postgres.Store) (*platform.Resource, []int64) {
	t.Helper()
	ctx := context.Background()
	r := created(t, s, newResource("postgresql-database", "orders-db", "staging"))
	if _, err := s.Transition(ctx, r.ID, platform.Provisioning, platform.Event{Actor: platform.System, Message: "provisioning started"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventStep, Message: "role created"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventSecret, Sealed: []byte("sealed-bytes")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, r.ID, platform.Ready, platform.Event{Actor: platform.System, Message: "ready"}, nil); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return r, ids
}

func TestDeliverInOrderAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r, ids := history(t, s)

	var (
		delivered []int64
		sealed    [][]byte
		failOn    int64
	)
	errChat := errors.New("chat is down")
	fn := func(ctx context.Context, got *platform.Resource, ev platform.Event) error {
		if got.ID != r.ID || ev.ResourceID != r.ID {
			t.Errorf("fn got resource %d, event of %d; want %d", got.ID, ev.ResourceID, r.ID)
		}
		if ev.ID == failOn {
			return errChat
		}
		delivered = append(delivered, ev.ID)
		if ev.Kind == platform.EventSecret {
			sealed = append(sealed, ev.Sealed)
		}
		return nil
	}

	// Up to the second event only.
	if err := s.Deliver(ctx, "slack", r.ID, ids[1], fn); err != nil {
		t.Fatalf("Deliver up to %d = %v", ids[1], err)
	}
	if diff := cmp.Diff(ids[:2], delivered); diff != "" {
		t.Errorf("delivered mismatch (-want +got):\n%s", diff)
	}

	// The chat fails on the fourth event: the third is delivered, then
	// Deliver stops with the error.
	failOn = ids[3]
	err := s.Deliver(ctx, "slack", r.ID, ids[4], fn)
	if !errors.Is(err, errChat) {
		t.Fatalf("Deliver with failing fn = %v, want %v", err, errChat)
	}
	if diff := cmp.Diff(ids[:3], delivered); diff != "" {
		t.Errorf("delivered after failure mismatch (-want +got):\n%s", diff)
	}
	evs, _ := s.Events(ctx, r.ID)
	if string(evs[3].Sealed) != "sealed-bytes" {
		t.Errorf("undelivered secret's sealed payload = %q, want kept", evs[3].Sealed)
	}

	// Once the chat is back, the rest is delivered once, in order, and the
	// delivered secret is erased.
	failOn = 0
	if err := s.Deliver(ctx, "slack", r.ID, ids[4], fn); err != nil {
		t.Fatalf("Deliver after recovery = %v", err)
	}
	if diff := cmp.Diff(ids, delivered); diff != "" {
		t.Errorf("delivered after recovery mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]byte{[]byte("sealed-bytes")}, sealed); diff != "" {
		t.Errorf("secret payload given to fn mismatch (-want +got):\n%s", diff)
	}
	evs, _ = s.Events(ctx, r.ID)
	if evs[3].Kind != platform.EventSecret || evs[3].Sealed != nil {
		t.Errorf("delivered secret event = %+v, want sealed erased", evs[3])
	}

	// Delivering again, or for an older event, repeats nothing.
	if err := s.Deliver(ctx, "slack", r.ID, ids[2], fn); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, "slack", r.ID, ids[4], fn); err != nil {
		t.Fatal(err)
	}
	if len(delivered) != len(ids) {
		t.Errorf("repeated Deliver delivered again: %v", delivered)
	}

	// Each platform has its own cursor.
	var other []int64
	if err := s.Deliver(ctx, "discord", r.ID, ids[4], func(_ context.Context, _ *platform.Resource, ev platform.Event) error {
		other = append(other, ev.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, other); diff != "" {
		t.Errorf("discord delivered mismatch (-want +got):\n%s", diff)
	}

	if err := s.Deliver(ctx, "slack", 987654, 1, fn); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Deliver(unknown resource) = %v, want NotFound", err)
	}
}

func TestDeliverConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r, ids := history(t, s)

	// Notification jobs of several events run at once, each delivering up
	// to its own event: every event is delivered exactly once, in order.
	var (
		mu        sync.Mutex
		delivered []int64
		wg        sync.WaitGroup
		errs      = make([]error, len(ids))
	)
	for i, upTo := range ids {
		wg.Go(func() {
			errs[i] = s.Deliver(ctx, "console", r.ID, upTo, func(_ context.Context, _ *platform.Resource, ev platform.Event) error {
				mu.Lock()
				defer mu.Unlock()
				delivered = append(delivered, ev.ID)
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Deliver up to %d = %v", ids[i], err)
		}
	}
	if diff := cmp.Diff(ids, delivered); diff != "" {
		t.Errorf("concurrently delivered mismatch (-want +got):\n%s", diff)
	}
}

// TestDeliverMarksRedelivery: an event whose delivery failed after it
// started is handed over again under a context marked as a redelivery,
// so that the adapter looks for what it may have posted; the events
// after it, and a platform that never saw it, are not marked.
func TestDeliverMarksRedelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r, ids := history(t, s)
	type call struct {
		ID         int64
		Redelivery bool
	}
	var calls []call
	failOn := ids[1]
	fn := func(ctx context.Context, _ *platform.Resource, ev platform.Event) error {
		calls = append(calls, call{ev.ID, platform.Redelivery(ctx)})
		if ev.ID == failOn {
			return errors.New("the response was lost")
		}
		return nil
	}
	if err := s.Deliver(ctx, "slack", r.ID, ids[2], fn); err == nil {
		t.Fatal("Deliver with a failing event succeeded")
	}
	failOn = 0
	if err := s.Deliver(ctx, "slack", r.ID, ids[2], fn); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, "discord", r.ID, ids[1], fn); err != nil {
		t.Fatal(err)
	}
	want := []call{{ids[0], false}, {ids[1], false}, {ids[1], true}, {ids[2], false}, {ids[0], false}, {ids[1], false}}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
}

// notSent is an error that says the platform did not act.
type notSent struct{}

func (notSent) Error() string { return "rate limited before sending" }
func (notSent) NotSent() bool { return true }

func TestDeliverBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r, ids := history(t, s)
	upTo := ids[len(ids)-1]
	secret := ids[3]

	// A run delivers two events, then is cut off while sending the third
	// and fourth as one message, after handing the secret over: the two
	// are delivered, the secret is erased at once, the message stays an
	// attempt.
	errCut := errors.New("connection reset")
	err := s.DeliverBatch(ctx, "slack", r.ID, upTo, 10, func(ctx context.Context, _ *platform.Resource, d platform.Delivery) (int, error) {
		if len(d.Events) != len(ids) || d.Attempted != 0 {
			t.Fatalf("first run: %d events, attempted %d; want %d, 0", len(d.Events), d.Attempted, len(ids))
		}
		for _, ev := range d.Events[:2] {
			if sctx, err := d.Start(ctx, ev.ID); err != nil || platform.Redelivery(sctx) {
				t.Fatalf("Start(%d) = redelivery %v, %v", ev.ID, platform.Redelivery(sctx), err)
			}
		}
		if ran, err := d.HandOver(ctx, secret, func(context.Context) (bool, error) { return true, nil }); err != nil || !ran {
			t.Fatalf("HandOver = %v, %v; want the details sent", ran, err)
		}
		if _, err := d.Start(ctx, d.Events[3].ID); err != nil {
			t.Fatal(err)
		}
		return 2, errCut
	})
	if !errors.Is(err, errCut) {
		t.Fatalf("DeliverBatch = %v, want the notifier's error", err)
	}
	evs, _ := s.Events(ctx, r.ID)
	if evs[3].Sealed != nil {
		t.Error("the secret handed over is still sealed in the database")
	}
	// The next run starts after the two delivered, knows the attempt, and
	// a Start through it is a redelivery.
	err = s.DeliverBatch(ctx, "slack", r.ID, upTo, 10, func(ctx context.Context, _ *platform.Resource, d platform.Delivery) (int, error) {
		if d.Events[0].ID != ids[2] || d.Attempted != ids[3] {
			t.Fatalf("second run starts at %d, attempted %d; want %d, %d", d.Events[0].ID, d.Attempted, ids[2], ids[3])
		}
		sctx, err := d.Start(ctx, ids[3])
		if err != nil || !platform.Redelivery(sctx) {
			t.Fatalf("Start through the cut-off message: redelivery %v, %v; want true", platform.Redelivery(sctx), err)
		}
		if sctx, err := d.Start(ctx, -secret); err != nil || !platform.Redelivery(sctx) {
			t.Fatalf("Start of the cut-off hand-over: redelivery %v, %v; want true", platform.Redelivery(sctx), err)
		}
		// The rest is held back by a rate limit: nothing sent.
		if _, err := d.Start(ctx, ids[4]); err != nil {
			t.Fatal(err)
		}
		return 2, notSent{}
	})
	if !platform.NotSent(err) {
		t.Fatalf("DeliverBatch = %v, want the not-sent error", err)
	}
	// The attempt the rate-limited run made is gone: the next run is no
	// redelivery, and it delivers the rest.
	var rest []int64
	err = s.DeliverBatch(ctx, "slack", r.ID, upTo, 1, func(ctx context.Context, _ *platform.Resource, d platform.Delivery) (int, error) {
		if len(d.Events) != 1 {
			t.Fatalf("a run of limit 1 got %d events", len(d.Events))
		}
		if d.Attempted != 0 {
			t.Errorf("attempted %d after a run that sent nothing", d.Attempted)
		}
		sctx, err := d.Start(ctx, d.Events[0].ID)
		if err != nil || platform.Redelivery(sctx) {
			t.Fatalf("Start: redelivery %v, %v; want false", platform.Redelivery(sctx), err)
		}
		rest = append(rest, d.Events[0].ID)
		return 1, nil
	})
	if err != nil || !cmp.Equal(rest, ids[4:]) {
		t.Fatalf("last runs delivered %v, %v; want %v", rest, err, ids[4:])
	}
	// Nothing is left, and a notifier that delivers nothing is an error,
	// not a loop.
	if err := s.DeliverBatch(ctx, "slack", r.ID, upTo, 10, func(context.Context, *platform.Resource, platform.Delivery) (int, error) {
		t.Error("fn called with nothing to deliver")
		return 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventStep, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeliverBatch(ctx, "slack", r.ID, upTo+1000, 10, func(context.Context, *platform.Resource, platform.Delivery) (int, error) {
		return 0, nil
	}); err == nil {
		t.Error("a notifier that delivered none of the events: no error")
	}
}

// HandOver sends a secret event's details once, whoever calls it and
// however many at once: the hand-over job and the thread's delivery take
// the event's lock in turn, and the second finds them handed over. A try
// that sent nothing leaves no attempt behind; one cut off after it may
// have sent makes the next a redelivery.
func TestHandOverOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r, ids := history(t, s)
	secret := ids[3]

	// Not a secret event, or no such event: nothing to send.
	send := func(context.Context, *platform.Resource, platform.Event) (bool, error) {
		t.Error("send called for an event that is no secret to hand over")
		return true, nil
	}
	if ran, err := s.HandOver(ctx, "slack", r.ID, ids[2], send); ran || err != nil {
		t.Errorf("HandOver of a step = %v, %v; want nothing done", ran, err)
	}
	if _, err := s.HandOver(ctx, "slack", r.ID, secret+1000, send); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("HandOver of no event = %v, want NotFound", err)
	}

	// Refused before sending (a rate limit): no attempt is left, the next
	// try is a first delivery.
	var redelivered []bool
	try := func(err error) func(context.Context, *platform.Resource, platform.Event) (bool, error) {
		return func(ctx context.Context, got *platform.Resource, ev platform.Event) (bool, error) {
			if got.ID != r.ID || ev.ID != secret || ev.Sealed == nil {
				t.Errorf("send got resource %d event %d (sealed %v), want %d, %d, sealed", got.ID, ev.ID, ev.Sealed != nil, r.ID, secret)
			}
			redelivered = append(redelivered, platform.Redelivery(ctx))
			return err == nil, err
		}
	}
	if ran, err := s.HandOver(ctx, "slack", r.ID, secret, try(notSent{})); !ran || !platform.NotSent(err) {
		t.Fatalf("HandOver refused = %v, %v; want it ran, NotSent", ran, err)
	}
	// Cut off after it may have sent: the next try is a redelivery.
	if _, err := s.HandOver(ctx, "slack", r.ID, secret, try(errors.New("the response was lost"))); err == nil {
		t.Fatal("HandOver with a lost response succeeded")
	}

	// Then many at once: one sends, the others find it done.
	var (
		mu    sync.Mutex
		sends int
		wg    sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			_, err := s.HandOver(ctx, "slack", r.ID, secret, func(ctx context.Context, _ *platform.Resource, _ platform.Event) (bool, error) {
				mu.Lock()
				sends++
				redelivered = append(redelivered, platform.Redelivery(ctx))
				mu.Unlock()
				time.Sleep(10 * time.Millisecond) // the others queue on the lock meanwhile
				return true, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if sends != 1 {
		t.Errorf("%d hand-overs sent, want 1", sends)
	}
	if want := []bool{false, false, true}; !slices.Equal(redelivered, want) {
		t.Errorf("redelivery marks %v, want %v", redelivered, want)
	}
	evs, _ := s.Events(ctx, r.ID)
	if evs[3].Sealed != nil {
		t.Error("the details handed over are still sealed")
	}

	// The thread told them already (its delivery passed the event):
	// nothing is sent.
	s = postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r2, ids2 := history(t, s)
	if err := s.DeliverBatch(ctx, "discord", r2.ID, ids2[len(ids2)-1], 10, func(_ context.Context, _ *platform.Resource, d platform.Delivery) (int, error) {
		return len(d.Events), nil
	}); err != nil {
		t.Fatal(err)
	}
	if ran, err := s.HandOver(ctx, "discord", r2.ID, ids2[3], send); ran || err != nil {
		t.Errorf("HandOver after the thread passed the event = %v, %v; want nothing done", ran, err)
	}
}
