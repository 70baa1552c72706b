package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// TestRetentionDeletesFinishedJobs runs the leader's cleaner with short
// retentions: a job completed longer ago than its retention is deleted,
// while a recent completed one and a discarded one within its (longer)
// retention stay.
func TestRetentionDeletesFinishedJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.Retention = Retention{Completed: time.Hour, Cancelled: time.Hour, Discarded: 48 * time.Hour}
	})
	ctx := context.Background()
	table := pgx.Identifier{postgrestest.Schema(h.pool), "river_job"}.Sanitize()
	// Finished jobs as the cleaner finds them: inserted, then finalized
	// some time ago.
	finished := func(state rivertype.JobState, ago time.Duration) int64 {
		t.Helper()
		res, err := h.runner.Client().Insert(ctx, ReconcileArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.pool.Exec(ctx, `UPDATE `+table+` SET state = $2, finalized_at = now() - make_interval(secs => $3) WHERE id = $1`,
			res.Job.ID, string(state), ago.Seconds()); err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}
	old := finished(rivertype.JobStateCompleted, 2*time.Hour)
	oldCancelled := finished(rivertype.JobStateCancelled, 2*time.Hour)
	recent := finished(rivertype.JobStateCompleted, 10*time.Minute)
	discarded := finished(rivertype.JobStateDiscarded, 2*time.Hour)
	exists := func(id int64) bool {
		t.Helper()
		var ok bool
		if err := h.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+table+` WHERE id = $1)`, id).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !exists(old) || !exists(oldCancelled) {
		t.Fatal("the old jobs are gone before the runner started")
	}
	h.start(t)
	// The cleaner runs as soon as the runner is elected leader, then
	// every 30 seconds; one pass deletes every state's expired jobs.
	deadline := time.Now().Add(90 * time.Second)
	for exists(old) || exists(oldCancelled) {
		if time.Now().After(deadline) {
			t.Fatalf("jobs finished 2h ago are still there after 90s with a retention of 1h (completed %v, cancelled %v)", exists(old), exists(oldCancelled))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !exists(recent) {
		t.Error("a job completed 10 minutes ago was deleted with a retention of 1h")
	}
	if !exists(discarded) {
		t.Error("a job discarded 2h ago was deleted with a retention of 48h")
	}
}

func TestRetentionDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	got, err := Retention{Completed: time.Hour}.withDefaults()
	if want := (Retention{Completed: time.Hour, Cancelled: DefaultRetention.Cancelled, Discarded: DefaultRetention.Discarded}); err != nil || got != want {
		t.Errorf("withDefaults() = %+v, %v; want %+v", got, err, want)
	}
	if _, err := (Retention{Discarded: -time.Second}).withDefaults(); err == nil || err.Error() != "jobs: Retention.Discarded (-1s) must not be negative" {
		t.Errorf("a negative retention = %v, want it refused by name", err)
	}
}
