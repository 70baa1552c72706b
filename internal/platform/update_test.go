package platform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// updateObserver records how updates ended.
type updateObserver struct {
	results chan string
}

func (o *updateObserver) Created(*platform.Resource)                          {}
func (o *updateObserver) Provisioned(*platform.Resource, bool, time.Duration) {}

func (o *updateObserver) Updated(r *platform.Resource, result string) { o.results <- result }

// snapshot is what must not change when an update is refused.
type snapshot struct {
	Resource *platform.Resource
	Events   int
	Changes  int
}

func snap(t *testing.T, f *platformtest.Fixture, id int64) snapshot {
	t.Helper()
	r, err := f.Store.Resource(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.Store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{Resource: r, Events: len(evs), Changes: len(f.Store.Changes())}
}

func TestUpdateRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		actor   platform.Actor
		setup   func(t *testing.T, f *platformtest.Fixture, id int64)
		changes map[string]any
		code    platform.Code
		msg     string
		fields  []platform.FieldError
	}{
		{name: "another team's resource", actor: carol, changes: map[string]any{"size": "medium"},
			code: platform.NotFound, msg: `There is no resource "orders-db" that you can see. Try /idp list.`},
		{name: "an approver outside the team", actor: approver, changes: map[string]any{"size": "medium"},
			code: platform.Forbidden, msg: "You are not in team payments, which owns orders-db #1; ask one of its members to update it."},
		{name: "unknown parameter", actor: bob, changes: map[string]any{"sise": "medium"},
			code: platform.Invalid, fields: []platform.FieldError{{Field: "sise", Message: "is not a parameter of postgresql-database (did you mean size?)"}}},
		{name: "invalid value", actor: bob, changes: map[string]any{"size": "huge"},
			code: platform.Invalid, fields: []platform.FieldError{{Field: "size", Message: "must be one of small, medium, large (got huge)"}}},
		{name: "immutable value", actor: bob, changes: map[string]any{"size": "medium", "high_availability": true},
			code: platform.Invalid, msg: "size, backup_retention_days can be changed, but high_availability is immutable: create a new resource instead.",
			fields: []platform.FieldError{{Field: "high_availability", Message: "is immutable: it is chosen when the resource is created"}}},
		{name: "nothing changes", actor: bob, changes: map[string]any{"size": "small"},
			code: platform.Invalid, msg: "orders-db #1 already has size=small; nothing changed."},
		{name: "no changes", actor: bob, changes: map[string]any{},
			code: platform.Invalid, msg: "Say what to change: /idp update orders-db key=value… (parameters: size, backup_retention_days)."},
		{name: "not ready: deleting", actor: bob, changes: map[string]any{"size": "medium"},
			setup: func(t *testing.T, f *platformtest.Fixture, id int64) {
				if _, err := f.Engine.Delete(context.Background(), bob, "#1"); err != nil {
					t.Fatal(err)
				}
			},
			code: platform.Conflict, msg: "orders-db #1 is deleting; create a new resource instead."},
		{name: "not ready: failed", actor: bob, changes: map[string]any{"size": "medium"},
			setup: func(t *testing.T, f *platformtest.Fixture, id int64) {
				if _, err := f.Store.Transition(context.Background(), id, platform.Deleting, platform.Event{Kind: platform.EventTransition}, nil); err != nil {
					t.Fatal(err)
				}
				if err := f.Engine.Fail(context.Background(), id, "boom"); err != nil {
					t.Fatal(err)
				}
			},
			code: platform.Conflict, msg: "orders-db #1 failed; retry it (/idp retry #1) or delete it before updating."},
		{name: "driver cannot update", actor: bob, changes: map[string]any{"size": "medium"},
			setup: nil, code: platform.Unavailable,
			msg: "Updating postgresql-database is not supported by its driver (postgres); delete orders-db and create it again with the new values."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			drv := platformtest.NewDriver()
			var d platform.Driver = drv
			if tt.name == "driver cannot update" {
				d = struct{ platform.Driver }{drv}
			}
			f := platformtest.Engine(t, platformtest.WithDriver("postgres", d))
			immutable(t, f, "postgresql-database", "high_availability")
			r := ready(t, f, bob, pgRequest("orders-db", "payments", "staging"))
			if tt.setup != nil {
				tt.setup(t, f, r.ID)
			}
			before := snap(t, f, r.ID)
			_, _, err := f.Engine.Update(ctx, tt.actor, "orders-db", tt.changes)
			if platform.ErrorCode(err) != tt.code || tt.msg != "" && platform.ErrorMessage(err) != tt.msg {
				t.Fatalf("Update = %v (%s), want %s %q", err, platform.ErrorCode(err), tt.code, tt.msg)
			}
			if tt.fields != nil {
				if diff := cmp.Diff(tt.fields, platform.ErrorFields(err)); diff != "" {
					t.Errorf("fields mismatch (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(before, snap(t, f, r.ID)); diff != "" {
				t.Errorf("a refused update changed the store (-before +after):\n%s", diff)
			}
			if n := drv.Count(platformtest.OpUpdate); n != 0 {
				t.Errorf("driver Update called %d times", n)
			}
		})
	}
}

// immutable marks parameters of service as immutable in f's catalog.
func immutable(t *testing.T, f *platformtest.Fixture, service string, names ...string) {
	t.Helper()
	svc, err := f.Engine.Catalog().Lookup(service)
	if err != nil {
		t.Fatal(err)
	}
	for i := range svc.Fields {
		for _, n := range names {
			if svc.Fields[i].Name == n {
				svc.Fields[i].Immutable = true
			}
		}
	}
}

func TestUpdateApplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obs := &updateObserver{results: make(chan string, 4)}
	f := platformtest.Engine(t, platformtest.WithJobs(1), platformtest.WithObserver(obs))
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "staging"))
	got, c, err := f.Engine.Update(ctx, alice, "orders-db", map[string]any{"size": "medium"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != platform.Updating || c.Status != platform.ChangeApplying || c.Summary() != "size: small → medium" {
		t.Fatalf("Update = %s, change %s %q; want updating, applying size: small → medium", got.State, c.Status, c.Summary())
	}
	r = f.Settle(r.ID, 5*time.Second)
	if r.State != platform.Ready || r.Parameters["size"] != "medium" {
		t.Fatalf("after the update job: %s %v (%s)", r.State, r.Parameters, r.Reason)
	}
	calls := f.Driver.Calls()
	last := calls[len(calls)-1]
	if last.Op != platformtest.OpUpdate || last.Parameters["size"] != "medium" || last.Old["size"] != "small" {
		t.Errorf("last driver call = %+v; want an update small → medium", last)
	}
	evs, _ := f.Store.Events(ctx, r.ID)
	var msgs []string
	for _, ev := range evs {
		if ev.Kind == platform.EventTransition && (ev.To == platform.Updating || ev.From == platform.Updating) {
			msgs = append(msgs, string(ev.From)+"→"+string(ev.To)+": "+ev.Message)
		}
	}
	want := []string{
		"ready→updating: update requested by alice: size: small → medium",
		"updating→ready: updated: size: small → medium",
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("update transitions mismatch (-want +got):\n%s", diff)
	}
	if res := <-obs.results; res != platform.UpdateApplied {
		t.Errorf("observer told %q, want applied", res)
	}
	if cs := f.Store.Changes(); len(cs) != 1 || cs[0].Status != platform.ChangeApplied {
		t.Errorf("changes = %+v, want one applied", cs)
	}
}

func TestUpdateFailsAndRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obs := &updateObserver{results: make(chan string, 4)}
	f := platformtest.Engine(t, platformtest.WithObserver(obs))
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "staging"))
	f.Driver.Fail(platformtest.OpUpdate, platformtest.Permanent("the target refused the new limit"), 1)
	if _, _, err := f.Engine.Update(ctx, bob, "#1", map[string]any{"size": "large"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.ApplyUpdate(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	r = state(t, f, r.ID, platform.Failed)
	if r.Reason != "update failed: the target refused the new limit" || r.Parameters["size"] != "small" {
		t.Errorf("failed update: reason %q, size %v; want the update's reason and the old size", r.Reason, r.Parameters["size"])
	}
	if res := <-obs.results; res != platform.UpdateFailed {
		t.Errorf("observer told %q, want failed", res)
	}
	// A retry moves failed → updating; the update job applies the same
	// change again.
	if _, err := f.Store.Transition(ctx, r.ID, platform.Updating, platform.Event{Actor: bob, Kind: platform.EventTransition, Message: "retry"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.ApplyUpdate(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	r = state(t, f, r.ID, platform.Ready)
	if r.Parameters["size"] != "large" {
		t.Errorf("after retry size = %v, want large", r.Parameters["size"])
	}
}

func TestUpdateNeedsApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obs := &updateObserver{results: make(chan string, 4)}
	f := platformtest.Engine(t, platformtest.WithObserver(obs))
	r := submit(t, f, bob, pgRequest("orders-db", "payments", "production"))
	if _, _, err := f.Engine.Approve(ctx, approver, r.Ref()); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Provision(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	// Production requires high availability by policy in the real config;
	// here only the approval matters.
	got, c, err := f.Engine.Update(ctx, bob, "orders-db", map[string]any{"size": "medium"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != platform.Ready || c.Status != platform.ChangePending || c.Needed != 1 {
		t.Fatalf("Update in production = %s, change %s needing %d; want ready with a pending change needing 1", got.State, c.Status, c.Needed)
	}
	// The note that records it is what tells the approvers.
	if evs, _ := f.Store.Events(ctx, r.ID); len(evs) == 0 || !platform.IsChangeRequest(evs[len(evs)-1]) {
		t.Errorf("the last event is not the change request: %+v", evs)
	}
	if _, _, err := f.Engine.Update(ctx, bob, "orders-db", map[string]any{"size": "large"}); platform.ErrorCode(err) != platform.Conflict ||
		!strings.Contains(platform.ErrorMessage(err), "already has a change waiting for approval (size: small → medium)") {
		t.Errorf("second Update = %v, want a Conflict naming the pending change", err)
	}
	if _, _, err := f.Engine.Approve(ctx, bob, "orders-db"); platform.ErrorCode(err) != platform.Forbidden {
		t.Errorf("Approve by the requester = %v, want Forbidden", err)
	}
	if _, _, err := f.Engine.Approve(ctx, approver, "orders-db"); err != nil {
		t.Fatal(err)
	}
	state(t, f, r.ID, platform.Updating)
	if err := f.Engine.ApplyUpdate(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if r = state(t, f, r.ID, platform.Ready); r.Parameters["size"] != "medium" {
		t.Errorf("after the approved change size = %v, want medium", r.Parameters["size"])
	}

	// Rejecting a pending change drops it; the resource stays as it is.
	if _, _, err := f.Engine.Update(ctx, bob, "orders-db", map[string]any{"size": "large"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Engine.Reject(ctx, approver, "orders-db", "too big for now"); err != nil {
		t.Fatal(err)
	}
	if r = state(t, f, r.ID, platform.Ready); r.Parameters["size"] != "medium" {
		t.Errorf("after the rejected change size = %v, want medium", r.Parameters["size"])
	}
	cs := f.Store.Changes()
	if last := cs[len(cs)-1]; last.Status != platform.ChangeRejected || last.Reason != "change size: medium → large rejected by approver: too big for now" {
		t.Errorf("rejected change = %s %q", last.Status, last.Reason)
	}
}

func TestUpdateQuotaOnlyWhenSizeChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	org := platformtest.Org()
	f := platformtest.Engine(t, platformtest.WithOrg(org))
	ready(t, f, bob, pgRequest("orders-db", "payments", "staging"))
	ready(t, f, bob, pgRequest("users-db", "payments", "staging"))
	// The quota was lowered below what the team has.
	org.DefaultQuotas["postgresql-database"] = 1
	if _, _, err := f.Engine.Update(ctx, bob, "orders-db", map[string]any{"backup_retention_days": int64(14)}); err != nil {
		t.Errorf("Update of the retention over quota = %v, want it allowed", err)
	}
	_, _, err := f.Engine.Update(ctx, bob, "users-db", map[string]any{"size": "large"})
	if platform.ErrorCode(err) != platform.Forbidden {
		t.Fatalf("Update of the size over quota = %v, want Forbidden", err)
	}
}
