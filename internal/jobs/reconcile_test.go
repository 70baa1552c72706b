package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// reconcileNow runs one reconcile job and waits for it to complete. The
// periodic one River ran at start is removed first: the job is unique by
// period.
func (h *harness) reconcileNow(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = $1`, ReconcileArgs{}.Kind()); err != nil {
		t.Fatal(err)
	}
	res, err := h.runner.Client().Insert(ctx, ReconcileArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the reconcile job to complete", func() (bool, string) {
		var state string
		if err := h.pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state); err != nil {
			return false, err.Error()
		}
		return state == "completed", state
	})
}

// age moves the events of resource id an hour back, past the stale margin.
func (h *harness) age(t *testing.T, id int64) {
	t.Helper()
	if _, err := h.pool.Exec(context.Background(), `UPDATE events SET at = at - interval '1 hour' WHERE resource_id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

// notifyJobs returns the queues of resource id's notify jobs in state.
func (h *harness) notifyJobs(t *testing.T, id int64, state string) []string {
	t.Helper()
	rows, err := h.pool.Query(context.Background(), `SELECT queue FROM river_job
		WHERE kind = 'notify' AND (args->>'resource_id')::bigint = $1 AND state::text = $2 ORDER BY id`, id, state)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// waitCompleted waits until resource id's completed notify jobs, after
// the first before of them, are one, in queue.
func (h *harness) waitCompleted(t *testing.T, id int64, before int, queue string) {
	t.Helper()
	waitFor(t, 20*time.Second, "the repaired delivery job to complete in "+queue, func() (bool, string) {
		got := h.notifyJobs(t, id, "completed")
		return len(got) > before && cmp.Equal(got[before:], []string{queue}), fmt.Sprint(got)
	})
}

// waitThread waits until the notifier holds the whole thread of resource
// id and checks it: every event once, in order, the secret privately.
func (h *harness) waitThread(t *testing.T, n *recorder, id int64) {
	t.Helper()
	ctx := context.Background()
	var want []string
	waitFor(t, 30*time.Second, fmt.Sprintf("the whole thread of #%d", id), func() (bool, string) {
		r, err := h.store.Resource(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		evs, err := h.store.Events(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		want = expectedThread(r, evs)
		got := n.recorded(id)
		return r.State == platform.Ready && len(got) >= len(want), fmt.Sprintf("state %s, delivered:\n%s", r.State, strings.Join(got, "\n"))
	})
	if diff := cmp.Diff(want, n.recorded(id)); diff != "" {
		t.Errorf("thread of #%d mismatch (-want +got):\n%s", id, diff)
	}
}

// TestReconcileRedeliversDiscardedNotifications: a thread whose
// notification jobs were all discarded after their last attempt (a long
// chat outage) is delivered by the reconcile job — not while its newest
// event is within the stale margin, and once it is, exactly once.
func TestReconcileRedeliversDiscardedNotifications(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.notifier.failures = 1 << 30
	h.start(t)
	sub := h.submit(t, "outage-db")
	waitFor(t, 60*time.Second, "every notify job to be discarded", func() (bool, string) {
		r, err := h.store.Resource(context.Background(), sub.ID)
		if err != nil {
			return false, err.Error()
		}
		var live int
		if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'notify'
			AND state::text NOT IN ('discarded', 'completed', 'cancelled')`).Scan(&live); err != nil {
			return false, err.Error()
		}
		return r.State == platform.Ready && live == 0, fmt.Sprintf("state %s, %d live notify jobs", r.State, live)
	})
	discarded := len(h.notifyJobs(t, sub.ID, "discarded"))
	if discarded == 0 {
		t.Fatal("no notify job was discarded")
	}
	h.notifier.mu.Lock()
	h.notifier.failures = 0
	h.notifier.mu.Unlock()

	// Within the stale margin nothing is enqueued. (The jobs a later one
	// superseded completed with nothing to do.)
	superseded := len(h.notifyJobs(t, sub.ID, "completed"))
	h.reconcileNow(t)
	if got := h.notifyJobs(t, sub.ID, "available"); len(got) != 0 {
		t.Fatalf("reconcile enqueued %v for events within the stale margin", got)
	}
	if got := h.notifyJobs(t, sub.ID, "completed"); len(got) != superseded {
		t.Fatalf("reconcile delivered %v for events within the stale margin", got[superseded:])
	}

	h.age(t, sub.ID)
	h.reconcileNow(t)
	h.waitThread(t, h.notifier, sub.ID)
	if got := h.notifyJobs(t, sub.ID, "discarded"); len(got) != discarded {
		t.Errorf("discarded notify jobs = %d, want the %d of the outage", len(got), discarded)
	}
	// Once delivered, the thread is left alone.
	h.waitCompleted(t, sub.ID, superseded, NotifyQueue("console", ""))
	h.reconcileNow(t)
	if got, want := h.notifyJobs(t, sub.ID, "completed")[superseded:], []string{NotifyQueue("console", "")}; !cmp.Equal(got, want) {
		t.Errorf("completed notify jobs after two repairs = %v, want one: %v", got, want)
	}
	if got := h.notifyJobs(t, sub.ID, "available"); len(got) != 0 {
		t.Errorf("second repair enqueued %v for a delivered thread", got)
	}
}

// TestReconcileRedeliversLostNotificationsPerPerson: deliveries lost (an
// older version queued them where no process looks, and an operator
// deleted them) are enqueued again in the requester's own queue on a
// platform delivered per person, as OnEvent would, and delivered there.
func TestReconcileRedeliversLostNotificationsPerPerson(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(cfg *Config) {
		enq, err := NewEnqueuer(EnqueuerConfig{Pool: cfg.Pool, Schema: cfg.Schema, PerPerson: []string{"console"}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Enqueuer = enq
		cfg.Audiences = map[string]string{"console": "alice"}
	})
	h.start(t)
	sub := h.submit(t, "lost-db")
	waitFor(t, 30*time.Second, "the request to be ready", func() (bool, string) {
		r, err := h.store.Resource(context.Background(), sub.ID)
		if err != nil {
			return false, err.Error()
		}
		return r.State == platform.Ready, string(r.State)
	})
	if got := h.notifier.recorded(sub.ID); len(got) != 0 {
		t.Fatalf("delivered %v from a queue this process does not work", got)
	}
	if _, err := h.pool.Exec(context.Background(), `DELETE FROM river_job WHERE kind = 'notify'`); err != nil {
		t.Fatal(err)
	}
	h.age(t, sub.ID)
	h.reconcileNow(t)
	h.waitThread(t, h.notifier, sub.ID)
	h.waitCompleted(t, sub.ID, 0, NotifyQueue("console", "alice"))
}
