package jobs

import (
	"context"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
)

// A failed request retried through the engine is provisioned again by the
// job the retry's transition enqueues, with the retrier as its actor.
func TestRetryProvisionsAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	h.driver.fail = func(n int) error {
		if n == 1 {
			return platform.Errorf(platform.Invalid, "the script exited with status 1")
		}
		return nil
	}
	h.start(t)
	sub := h.submit(t, "orders-db")
	h.waitSettled(t, sub.ID, platform.Failed)

	if _, err := h.engine.Retry(ctx, alice, "orders-db"); err != nil {
		t.Fatalf("Retry = %v", err)
	}
	r, evs := h.waitSettled(t, sub.ID, platform.Ready)
	var retried bool
	for _, ev := range evs {
		if ev.From == platform.Failed && ev.To == platform.Provisioning && ev.Actor.ID == alice.ID {
			retried = true
		}
	}
	if !retried {
		t.Errorf("no failed → provisioning event by %s in %+v", alice.ID, steps(evs))
	}
	h.driver.mu.Lock()
	defer h.driver.mu.Unlock()
	if h.driver.calls != 2 || !h.driver.created[r.ID] {
		t.Errorf("driver called %d times (created %v), want 2 and created", h.driver.calls, h.driver.created[r.ID])
	}
}
