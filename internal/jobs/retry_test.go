package jobs

import (
	"context"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
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

// On the real store, a resource whose deprovisioning keeps failing is
// forgotten by an admin, and its name is free for a new request.
func TestForgetFreesTheName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: testEnqueuer(t, pool, nil).OnEvent})
	d := platformtest.NewDriver()
	d.Fail(platformtest.OpDeprovision, platformtest.Permanent("database is in use by a replication slot"), -1)
	cat, err := platform.NewCatalog(&platform.ServiceDefinition{Name: "test-db", Title: "Test database", Type: "database",
		Provisioners: []platform.Binding{{Driver: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	admin := platform.Actor{ID: "console:admin", Name: "admin"}
	e := platform.NewEngine(platform.EngineConfig{Store: store, Catalog: cat, Sealer: platformtest.Sealer(t),
		Drivers: map[string]platform.Driver{"test": d},
		Org: &platform.Org{Teams: []platform.Team{{Name: "payments", Members: []string{alice.ID}}},
			Environments: []platform.Environment{{Name: "staging"}}, Admins: []string{admin.ID}}})
	req := platform.Request{Service: "test-db", Name: "orders-db", Team: "payments", Environment: "staging"}
	r, _, err := e.Submit(ctx, alice, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Provision(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Delete(ctx, alice, "orders-db"); err != nil {
		t.Fatal(err)
	}
	if err := e.Deprovision(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Submit(ctx, alice, req); platform.ErrorCode(err) != platform.Conflict {
		t.Fatalf("Submit while the failed one holds the name = %v, want a Conflict", err)
	}
	if _, err := e.Forget(ctx, admin, r.Ref(), "the replica was removed by hand"); err != nil {
		t.Fatalf("Forget = %v", err)
	}
	got, err := store.Resource(ctx, r.ID)
	if err != nil || got.State != platform.Forgotten || got.Reason != "the replica was removed by hand" {
		t.Fatalf("after Forget: %+v, %v", got, err)
	}
	again, _, err := e.Submit(ctx, alice, req)
	if err != nil || again.ID == r.ID {
		t.Errorf("Submit after Forget = %v, %v; want a new request under the freed name", again, err)
	}
}
