package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// testJob is a River job about a resource, as jobs' provision and post
// jobs are.
type testJob struct {
	ResourceID int64 `json:"resource_id"`
	kind       string
}

func (j testJob) Kind() string { return j.kind }

func TestApprovalCardsAndPendingJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	s := postgres.NewStore(pool, postgres.StoreOptions{RiverSchema: postgrestest.Schema(pool)})
	r := created(t, s, newResource("postgresql-database", "orders", "staging"))
	cards := []platform.MessageRef{{Platform: "slack", Channel: "C1", Ref: "1.1"}, {Platform: "discord", Channel: "D1", Ref: "99"}}
	for _, c := range append(cards, cards[0]) { // recording again is harmless
		if err := s.RecordApprovalCard(ctx, r.ID, c); err != nil {
			t.Fatalf("RecordApprovalCard(%v): %v", c, err)
		}
	}
	got, err := s.ApprovalCards(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cards, got); diff != "" {
		t.Errorf("ApprovalCards mismatch (-want +got):\n%s", diff)
	}

	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: postgrestest.Schema(pool)})
	if err != nil {
		t.Fatal(err)
	}
	if pending, err := s.JobPending(ctx, "post", r.ID); err != nil || pending {
		t.Errorf("JobPending before any job = %v, %v; want false", pending, err)
	}
	if _, err := client.Insert(ctx, testJob{ResourceID: r.ID, kind: "post"}, nil); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.JobPending(ctx, "post", r.ID); err != nil || !pending {
		t.Errorf("JobPending with an available job = %v, %v; want true", pending, err)
	}
	if pending, err := s.JobPending(ctx, "post", r.ID+1); err != nil || pending {
		t.Errorf("JobPending of another resource = %v, %v; want false", pending, err)
	}
}

func TestOrphans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	s := postgres.NewStore(pool, postgres.StoreOptions{Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	a := created(t, s, newResource("postgresql-database", "orders", "staging"))
	b := created(t, s, newResource("postgresql-database", "billing", "staging"))
	kinds := []string{"provision", "deprovision"}
	ids := func() []int64 {
		t.Helper()
		rs, err := s.Orphans(ctx, kinds, time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if diff := cmp.Diff([]int64{a.ID, b.ID}, ids()); diff != "" {
		t.Errorf("Orphans without jobs mismatch (-want +got):\n%s", diff)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Insert(ctx, testJob{ResourceID: a.ID, kind: "provision"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Insert(ctx, testJob{ResourceID: b.ID, kind: "notify"}, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{b.ID}, ids()); diff != "" {
		t.Errorf("Orphans with a's provision job mismatch (-want +got):\n%s", diff)
	}
	if rs, err := s.Orphans(ctx, kinds, 2*time.Hour, 100); err != nil || len(rs) != 0 {
		t.Errorf("Orphans changed within stale = %d, %v; want none", len(rs), err)
	}
}

func TestCreateTicket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	var enqueued []int64
	enqueue := func(_ context.Context, _ pgx.Tx, tk commands.Ticket) error {
		enqueued = append(enqueued, tk.ID)
		return nil
	}
	in := commands.Ticket{Category: "access", Text: "need prod", Requester: alice, Platform: "console", Channel: "tty", IdempotencyKey: "k1"}
	t1, err := s.CreateTicket(ctx, in, enqueue)
	if err != nil || t1.ID == 0 || t1.CreatedAt.IsZero() {
		t.Fatalf("CreateTicket = %+v, %v", t1, err)
	}
	again, err := s.CreateTicket(ctx, in, enqueue)
	if err != nil || again.ID != t1.ID || !again.CreatedAt.Equal(t1.CreatedAt) {
		t.Errorf("CreateTicket redelivered = %+v, %v; want ticket #%d", again, err, t1.ID)
	}
	in.IdempotencyKey = ""
	t2, err := s.CreateTicket(ctx, in, enqueue)
	if err != nil || t2.ID == t1.ID {
		t.Errorf("CreateTicket without a key = %+v, %v; want a new ticket", t2, err)
	}
	if diff := cmp.Diff([]int64{t1.ID, t2.ID}, enqueued); diff != "" {
		t.Errorf("enqueued tickets mismatch (-want +got):\n%s", diff)
	}
}
