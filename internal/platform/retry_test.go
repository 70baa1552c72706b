package platform_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// retries counts Retried calls, as the metrics do.
type retries struct {
	mu  sync.Mutex
	ops []string
}

func (*retries) Created(*platform.Resource)                          {}
func (*retries) Provisioned(*platform.Resource, bool, time.Duration) {}
func (o *retries) Retried(r *platform.Resource, op string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops = append(o.ops, r.ServiceType+"/"+op)
}

// failedProvisioning returns a resource whose provisioning failed.
func failedProvisioning(t *testing.T, f *platformtest.Fixture) *platform.Resource {
	t.Helper()
	f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the script exited with status 1"), 1)
	r := submit(t, f, bob, pgRequest("orders-db", "payments", "development"))
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	return state(t, f, r.ID, platform.Failed)
}

// failedDeletion returns a ready resource whose deprovisioning failed.
func failedDeletion(t *testing.T, f *platformtest.Fixture) *platform.Resource {
	t.Helper()
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
	f.Driver.Fail(platformtest.OpDeprovision, platformtest.Permanent("database is in use by a replication slot"), 1)
	if _, err := f.Engine.Delete(context.Background(), bob, "orders-db"); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	return state(t, f, r.ID, platform.Failed)
}

func lastEvent(t *testing.T, f *platformtest.Fixture, id int64) platform.Event {
	t.Helper()
	evs, err := f.Store.Events(context.Background(), id)
	if err != nil || len(evs) == 0 {
		t.Fatalf("Events(#%d) = %d events, %v", id, len(evs), err)
	}
	return evs[len(evs)-1]
}

func TestRetryProvisioning(t *testing.T) {
	t.Parallel()
	obs := &retries{}
	f := platformtest.Engine(t, platformtest.WithObserver(obs))
	r := failedProvisioning(t, f)
	got, err := f.Engine.Retry(context.Background(), alice, "orders-db")
	if err != nil {
		t.Fatalf("Retry = %v", err)
	}
	if got.State != platform.Provisioning || got.Reason != "" {
		t.Errorf("Retry = %s (reason %q), want provisioning with no reason", got.State, got.Reason)
	}
	ev := lastEvent(t, f, r.ID)
	want := platform.Event{Actor: alice, Kind: platform.EventTransition, From: platform.Failed, To: platform.Provisioning, Message: "retry of provisioning by alice"}
	if diff := cmp.Diff(want, platform.Event{Actor: ev.Actor, Kind: ev.Kind, From: ev.From, To: ev.To, Message: ev.Message}); diff != "" {
		t.Errorf("retry event mismatch (-want +got):\n%s", diff)
	}
	// The provisioning job then runs afresh: no "resuming" step.
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	state(t, f, r.ID, platform.Ready)
	evs, _ := f.Store.Events(context.Background(), r.ID)
	for _, ev := range evs {
		if ev.Message == "resuming provisioning" {
			t.Error("a retried provisioning says it resumes")
		}
	}
	if diff := cmp.Diff([]string{"database/provisioning"}, obs.ops); diff != "" {
		t.Errorf("retries observed mismatch (-want +got):\n%s", diff)
	}
}

func TestRetryDeletionDeletes(t *testing.T) {
	t.Parallel()
	obs := &retries{}
	f := platformtest.Engine(t, platformtest.WithObserver(obs))
	r := failedDeletion(t, f)
	got, err := f.Engine.Retry(context.Background(), admin, r.Ref())
	if err != nil {
		t.Fatalf("Retry = %v", err)
	}
	if got.State != platform.Deleting {
		t.Fatalf("Retry of a failed deletion = %s, want deleting", got.State)
	}
	if ev := lastEvent(t, f, r.ID); ev.Message != "retry of deprovisioning by admin" || ev.Actor.ID != admin.ID {
		t.Errorf("retry event = %q by %s", ev.Message, ev.Actor.ID)
	}
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	state(t, f, r.ID, platform.Deleted)
	if n := f.Driver.Count(platformtest.OpProvision); n != 1 {
		t.Errorf("%d provision calls, want 1: a failed delete is never re-provisioned", n)
	}
	if diff := cmp.Diff([]string{"database/deprovisioning"}, obs.ops); diff != "" {
		t.Errorf("retries observed mismatch (-want +got):\n%s", diff)
	}
}

func TestRetryUpdate(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
	for _, to := range []platform.State{platform.Updating, platform.Failed} {
		if _, err := f.Store.Transition(context.Background(), r.ID, to, platform.Event{Actor: platform.System, Kind: platform.EventTransition}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.Engine.Retry(context.Background(), bob, "orders-db")
	if err != nil || got.State != platform.Updating {
		t.Fatalf("Retry of a failed update = %v, %v; want updating", got, err)
	}
	if ev := lastEvent(t, f, r.ID); ev.Message != "retry of update by bob" {
		t.Errorf("retry event = %q", ev.Message)
	}
}

func TestRetryRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, f *platformtest.Fixture) *platform.Resource
		actor platform.Actor
		code  platform.Code
		want  string
	}{
		{"ready", func(t *testing.T, f *platformtest.Fixture) *platform.Resource {
			return ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
		}, bob, platform.Conflict, "orders-db is ready; nothing to retry."},
		{"provisioning", func(t *testing.T, f *platformtest.Fixture) *platform.Resource {
			return submit(t, f, bob, pgRequest("orders-db", "payments", "development"))
		}, bob, platform.Conflict, "orders-db #1 is pending, not failed; nothing to retry. Follow it with /idp status #1."},
		{"another team's, seen by an approver", failedProvisioning, approver, platform.Forbidden,
			"You are not in team payments, which owns orders-db #1: only its members or a platform admin can retry it."},
		{"another team's, unseen", failedProvisioning, carol, platform.NotFound,
			`There is no resource "orders-db" that you can see. Try /idp list.`},
		{"over quota", func(t *testing.T, f *platformtest.Fixture) *platform.Resource {
			r := failedProvisioning(t, f)
			for i := range 5 {
				submit(t, f, bob, pgRequest("other-"+string(rune('a'+i)), "payments", "development"))
			}
			return r
		}, bob, platform.Forbidden, "Team payments already has 5 of 5 postgresql-database; delete one before retrying orders-db #1."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := platformtest.Engine(t)
			r := tc.setup(t, f)
			before, _ := f.Store.Events(context.Background(), r.ID)
			_, err := f.Engine.Retry(context.Background(), tc.actor, "orders-db")
			if platform.ErrorCode(err) != tc.code || platform.ErrorMessage(err) != tc.want {
				t.Errorf("Retry = %v (%s), want %s %q", err, platform.ErrorCode(err), tc.code, tc.want)
			}
			after, _ := f.Store.Events(context.Background(), r.ID)
			if len(after) != len(before) || state(t, f, r.ID, r.State).State != r.State {
				t.Errorf("a refused retry changed the resource: %d events, then %d", len(before), len(after))
			}
		})
	}
}
