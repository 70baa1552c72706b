package survey_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/survey"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
	"github.com/idpbot/idpbot/internal/schedule"
)

// TestTwoReplicasPostOncePerSlot runs two bots' River clients, each with
// its own pool and survey service, on one database, with a schedule firing
// every second and surveys open for 300 ms: every slot's survey is posted
// once per channel, and every survey's result once in its thread.
func TestTwoReplicasPostOncePerSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := postgrestest.Pool(t)
	rec := &recorder{members: map[string]int{"C1": 5, "C2": 7}}
	replica := func() *river.Client[pgx.Tx] {
		pool, err := pgxpool.NewWithConfig(ctx, base.Config())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		svc, err := survey.New(survey.Config{
			Store:        postgres.NewSurveys(pool, nil),
			Posters:      map[string]survey.Poster{"slack": rec},
			Channels:     map[string][]string{"slack": {"C1", "C2"}},
			TeamChannels: map[string]string{"slack": "CPLATFORM"},
			Schedule:     "@every 1s",
			Window:       300 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		workers := river.NewWorkers()
		survey.AddWorkers(workers, svc)
		client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
			Workers:           workers,
			PeriodicJobs:      []*river.PeriodicJob{svc.PeriodicJob()},
			FetchCooldown:     10 * time.Millisecond,
			FetchPollInterval: 50 * time.Millisecond,
			Logger:            slog.New(slog.DiscardHandler),
			TestOnly:          true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := client.Stop(stop); err != nil {
				t.Errorf("stop replica: %v", err)
			}
		})
		return client
	}
	a, b := replica(), replica()

	// Both replicas also try to enqueue the same slot, as two leaders
	// would: River keeps one.
	slot := survey2000()
	opts := survey.OpenInsertOpts(schedule.MustParse("test", "@every 1s"))
	ra, err := a.Insert(ctx, survey.OpenArgs{Slot: slot}, opts)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Insert(ctx, survey.OpenArgs{Slot: slot}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ra.UniqueSkippedAsDuplicate || !rb.UniqueSkippedAsDuplicate || ra.Job.ID != rb.Job.ID {
		t.Errorf("inserting slot %s twice: skipped %v, %v; jobs %d, %d; want the second skipped", slot,
			ra.UniqueSkippedAsDuplicate, rb.UniqueSkippedAsDuplicate, ra.Job.ID, rb.Job.ID)
	}

	// Wait for three scheduled slots (besides the one above) whose surveys
	// were all closed and reported.
	done := func() bool {
		surveys := rec.of("survey")
		results := map[int64]bool{}
		for _, p := range rec.of("result") {
			results[p.SurveyID] = true
		}
		slots := map[time.Time]int{}
		for _, p := range surveys {
			if !p.Slot.Equal(slot) && results[p.SurveyID] {
				slots[p.Slot]++
			}
		}
		complete := 0
		for _, n := range slots {
			if n == 2 {
				complete++
			}
		}
		return complete >= 3
	}
	eventually(t, 30*time.Second, "three slots surveyed and closed", done)

	seen := map[string]int{}
	byID := map[int64]post{}
	for _, p := range rec.of("survey") {
		seen[fmt.Sprintf("%s %s", p.Channel, p.Slot.Format(time.RFC3339Nano))]++
		byID[p.SurveyID] = p
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("survey of %s posted %d times", k, n)
		}
	}
	results := map[int64]int{}
	for _, p := range rec.of("result") {
		results[p.SurveyID]++
		s, ok := byID[p.SurveyID]
		if !ok || p.Channel != s.Channel || p.Ref != s.Ref {
			t.Errorf("result of survey %d posted to %s thread %s; survey was %+v", p.SurveyID, p.Channel, p.Ref, s)
		}
	}
	for id, n := range results {
		if n != 1 {
			t.Errorf("result of survey %d posted %d times", id, n)
		}
	}
	var rows, distinct int
	if err := base.QueryRow(ctx, `SELECT count(*), count(DISTINCT (channel, slot)) FROM surveys`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || rows < len(seen) {
		t.Errorf("surveys table: %d rows, %d distinct slots; %d posted", rows, distinct, len(seen))
	}
}

// survey2000 is a slot far from the schedule's, for a job inserted by
// hand.
func survey2000() time.Time { return time.Date(2000, 1, 3, 10, 0, 0, 0, time.UTC) }
