package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

func ids(rs []*platform.Resource) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// TestResourcePageWalksEveryRow pages through resources that share
// creation times, forward and back, and checks each page against the
// whole list, with its total and offset.
func TestResourcePageWalksEveryRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{Now: func() time.Time {
		// Several resources share each creation time: the id breaks ties.
		n++
		return at.Add(time.Duration(n/8) * time.Second)
	}})
	for i := range 57 {
		r := newResource("postgresql-database", fmt.Sprintf("db-%02d", i), "staging")
		if i%5 == 0 {
			r.Team = "platform"
		}
		if i%3 == 0 {
			r.State = platform.Ready
		}
		created(t, s, r)
	}
	for _, f := range []platform.ResourceFilter{
		{},
		{Teams: []string{"payments"}},
		{Teams: []string{"payments", "platform"}, States: []platform.State{platform.Ready}},
		{Teams: []string{"nobody"}},
	} {
		all, err := s.Resources(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		f.Limit = 10
		var got []int64
		var cursor platform.Cursor
		for {
			page, err := s.ResourcePage(ctx, f, cursor)
			if err != nil {
				t.Fatalf("ResourcePage(%+v, %+v) = %v", f, cursor, err)
			}
			if page.Total != len(all) || page.Offset != len(got) {
				t.Fatalf("ResourcePage(%+v, %+v) total, offset = %d, %d; want %d, %d", f, cursor, page.Total, page.Offset, len(all), len(got))
			}
			got = append(got, ids(page.Resources)...)
			if !page.HasOlder() {
				break
			}
			cursor = platform.Cursor{After: page.Resources[len(page.Resources)-1].ID}
		}
		if diff := cmp.Diff(ids(all), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("pages of %+v mismatch (-want +got):\n%s", f, diff)
		}
		if len(all) < 2 {
			continue
		}
		// Back from the last resource: the page ends right before it.
		last := all[len(all)-1].ID
		page, err := s.ResourcePage(ctx, f, platform.Cursor{Before: last})
		if err != nil {
			t.Fatal(err)
		}
		from := max(len(all)-1-10, 0)
		if diff := cmp.Diff(ids(all[from:len(all)-1]), ids(page.Resources)); diff != "" || page.Offset != from {
			t.Errorf("page before #%d of %+v at offset %d (want %d) mismatch (-want +got):\n%s", last, f, page.Offset, from, diff)
		}
	}
	if _, err := s.ResourcePage(ctx, platform.ResourceFilter{Limit: 10}, platform.Cursor{After: 99999}); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("a cursor naming no resource = %v, want Invalid", err)
	}
}

func TestEventPageWindows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewStore(postgrestest.Pool(t), postgres.StoreOptions{})
	r := created(t, s, newResource("postgresql-database", "orders-db", "production"))
	other := created(t, s, newResource("postgresql-database", "other-db", "production"))
	for i := range 52 {
		for _, id := range []int64{r.ID, other.ID} {
			if _, err := s.AddEvent(ctx, platform.Event{ResourceID: id, Actor: alice, Kind: platform.EventStep, Message: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.AddEvent(ctx, platform.Event{ResourceID: r.ID, Actor: alice, Kind: platform.EventApproval, Message: "approved by alice"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	evIDs := func(evs []platform.Event) []int64 {
		var out []int64
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	latest, err := s.EventPage(ctx, r.ID, platform.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(evIDs(all[len(all)-10:]), evIDs(latest.Events)); diff != "" || latest.Total != len(all) || latest.Offset != len(all)-10 {
		t.Errorf("latest window (total %d, offset %d) mismatch (-want +got):\n%s", latest.Total, latest.Offset, diff)
	}
	// Older windows down to the first event, then newer ones back up.
	var got []int64
	page := latest
	for page.HasOlder() {
		if page, err = s.EventPage(ctx, r.ID, platform.Cursor{Before: page.Events[0].ID}, 10); err != nil {
			t.Fatal(err)
		}
		got = append(evIDs(page.Events), got...)
	}
	if diff := cmp.Diff(evIDs(all[:len(all)-10]), got); diff != "" || page.Offset != 0 {
		t.Errorf("older windows mismatch (-want +got):\n%s", diff)
	}
	got = evIDs(page.Events)
	for page.HasNewer() {
		if page, err = s.EventPage(ctx, r.ID, platform.Cursor{After: page.Events[len(page.Events)-1].ID}, 10); err != nil {
			t.Fatal(err)
		}
		if page.Offset != len(got) {
			t.Errorf("window after %d events has offset %d", len(got), page.Offset)
		}
		got = append(got, evIDs(page.Events)...)
	}
	if diff := cmp.Diff(evIDs(all), got); diff != "" {
		t.Errorf("newer windows mismatch (-want +got):\n%s", diff)
	}
	decisions, err := s.Decisions(ctx, r.ID)
	if err != nil || len(decisions) != 1 || decisions[0].Message != "approved by alice" {
		t.Errorf("Decisions = %+v, %v; want the approval alone", decisions, err)
	}
}
