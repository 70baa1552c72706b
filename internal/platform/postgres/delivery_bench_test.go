package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// BenchmarkDeliver measures the outbox: each op delivers one event of a
// request's thread to a platform (the cursor's lock, the attempt record,
// the cursor's advance), with a chat call that costs nothing.
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(b), postgres.StoreOptions{})
	const perResource = 100
	var (
		ids  []int64
		last []int64
	)
	for i := 0; i*perResource < b.N; i++ {
		r := newResource("postgresql-database", fmt.Sprintf("bench-%d", i), "staging")
		if err := s.CreateResource(ctx, r, platform.Event{Actor: r.Requester, Kind: platform.EventTransition, To: r.State, Message: "requested"}, nil); err != nil {
			b.Fatal(err)
		}
		var ev platform.Event
		for range perResource - 1 {
			var err error
			if ev, err = s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: platform.System, Kind: platform.EventStep, Message: "step"}); err != nil {
				b.Fatal(err)
			}
		}
		ids, last = append(ids, r.ID), append(last, ev.ID)
	}
	delivered := 0
	fn := func(context.Context, *platform.Resource, platform.Event) error { delivered++; return nil }
	b.ResetTimer()
	for i, id := range ids {
		if err := s.Deliver(ctx, "bench", id, last[i], fn); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if delivered < b.N {
		b.Fatalf("delivered %d events, want %d", delivered, b.N)
	}
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "events/s")
}
