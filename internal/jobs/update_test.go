package jobs

import (
	"context"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

// update is a change the test driver applied.
type update struct {
	ID       int64
	Old, New string
}

// Update implements platform.Updater for the test driver: it fails while
// failUpdates is positive (permanently), and records each change it
// applied.
func (d *testDriver) Update(ctx context.Context, job platform.Job, old map[string]any) (platform.Result, error) {
	job.Step("applying the new size")
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failUpdates > 0 {
		d.failUpdates--
		return platform.Result{}, platform.Errorf(platform.Invalid, "the target refused the change")
	}
	d.updates = append(d.updates, update{ID: job.Resource.ID, Old: platform.FormatValue(old["size"]), New: platform.FormatValue(job.Resource.Parameters["size"])})
	return platform.Result{Outputs: maps.Clone(map[string]string{"size": platform.FormatValue(job.Resource.Parameters["size"])})}, nil
}

var _ platform.Updater = (*testDriver)(nil)

func TestUpdateJobAppliesTheChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	h.start(t)
	sub := h.submit(t, "orders-db")
	h.waitSettled(t, sub.ID, platform.Ready)

	if _, _, err := h.engine.Update(ctx, alice, "orders-db", map[string]any{"size": "large"}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	r, evs := h.waitSettled(t, sub.ID, platform.Ready)
	if r.Parameters["size"] != "large" || r.Outputs["size"] != "large" || r.Outputs["host"] != "db.test" {
		t.Errorf("after the update: parameters %v, outputs %v", r.Parameters, r.Outputs)
	}
	if got := steps(evs[len(evs)-3:]); !cmp.Equal(got, []step{
		{platform.EventTransition, platform.Ready, platform.Updating, "update requested by Alice: size: small → large"},
		{platform.EventStep, "", "", "applying the new size"},
		{platform.EventTransition, platform.Updating, platform.Ready, "updated: size: small → large"},
	}) {
		t.Errorf("last events = %+v", got)
	}
	if diff := cmp.Diff(expectedThread(r, evs), h.notifier.recorded(r.ID)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	h.driver.mu.Lock()
	defer h.driver.mu.Unlock()
	if diff := cmp.Diff([]update{{ID: r.ID, Old: "small", New: "large"}}, h.driver.updates); diff != "" {
		t.Errorf("driver updates mismatch (-want +got):\n%s", diff)
	}
}

func TestUpdateJobRetriedAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	h.driver.failUpdates = 1
	h.start(t)
	sub := h.submit(t, "orders-db")
	h.waitSettled(t, sub.ID, platform.Ready)
	if _, _, err := h.engine.Update(ctx, alice, "orders-db", map[string]any{"size": "large"}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	r, _ := h.waitSettled(t, sub.ID, platform.Failed)
	if r.Reason != "update failed: the target refused the change" || r.Parameters["size"] != "small" {
		t.Errorf("failed update: %q, size %v", r.Reason, r.Parameters["size"])
	}
	// A retry (failed → updating) enqueues the update job again.
	if _, err := h.store.Transition(ctx, r.ID, platform.Updating, platform.Event{Actor: alice, Kind: platform.EventTransition, Message: "retry requested by Alice"}, nil); err != nil {
		t.Fatal(err)
	}
	r, _ = h.waitSettled(t, sub.ID, platform.Ready)
	if r.Parameters["size"] != "large" {
		t.Errorf("after the retry size = %v, want large", r.Parameters["size"])
	}
}

func TestReconcileReenqueuesAnOrphanedUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	sub := h.submit(t, "orphan-db")
	if err := h.engine.Provision(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.engine.Update(ctx, alice, "orphan-db", map[string]any{"size": "large"}); err != nil {
		t.Fatal(err)
	}
	// The update loses its job and has not changed for an hour. (The
	// provision job, never worked here, goes too: any live job of the
	// resource keeps the reconciler away.)
	tag, err := h.pool.Exec(ctx, `DELETE FROM river_job WHERE kind IN ('update', 'provision')`)
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("delete the update and provision jobs: %v (%d rows)", err, tag.RowsAffected())
	}
	if _, err := h.pool.Exec(ctx, `UPDATE resources SET updated_at = now() - interval '1 hour' WHERE id = $1`, sub.ID); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	h.reconcileNow(t)
	r, _ := h.waitSettled(t, sub.ID, platform.Ready)
	if r.Parameters["size"] != "large" {
		t.Errorf("after reconciling: size %v, want large", r.Parameters["size"])
	}
}
