package platform_test

import (
	"context"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func TestForget(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := failedDeletion(t, f)
	got, err := f.Engine.Forget(context.Background(), admin, "orders-db", "the target server was decommissioned")
	if err != nil {
		t.Fatalf("Forget = %v", err)
	}
	if got.State != platform.Forgotten || got.Reason != "the target server was decommissioned" {
		t.Errorf("Forget = %s (reason %q), want forgotten with the reason", got.State, got.Reason)
	}
	evs, _ := f.Store.Events(context.Background(), r.ID)
	tr, note := evs[len(evs)-2], evs[len(evs)-1]
	if tr.Kind != platform.EventTransition || tr.From != platform.Failed || tr.To != platform.Forgotten || tr.Actor.ID != admin.ID ||
		tr.Message != "forgotten by admin: the target server was decommissioned" {
		t.Errorf("forget event = %+v", tr)
	}
	want := "The name orders-db is free again. What the postgres driver made for #1 may still exist: " +
		"database=" + platformtest.Identifier(r) + ", host=127.0.0.1, port=5432, username=" + platformtest.Identifier(r) + "; check the target and remove it by hand."
	if note.Kind != platform.EventNote || note.Message != want {
		t.Errorf("left-behind note = %q,\nwant %q", note.Message, want)
	}
	// The name is free: the same request can be made again.
	if _, _, err := f.Engine.Submit(context.Background(), bob, pgRequest("orders-db", "payments", "development")); err != nil {
		t.Errorf("Submit after forget = %v, want the name free", err)
	}
}

func TestForgetStuckDeletion(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
	if _, err := f.Engine.Delete(context.Background(), bob, "orders-db"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Engine.Forget(context.Background(), admin, r.Ref(), "deprovisioning hangs"); err != nil {
		t.Fatalf("Forget(deleting) = %v", err)
	}
	state(t, f, r.ID, platform.Forgotten)
	// The deprovisioning job that was still due leaves it alone.
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil || f.Driver.Count(platformtest.OpDeprovision) != 0 {
		t.Errorf("Deprovision after forget = %v with %d calls", err, f.Driver.Count(platformtest.OpDeprovision))
	}
}

func TestForgetRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ready  bool
		actor  platform.Actor
		reason string
		code   platform.Code
		want   string
	}{
		{"by a member", false, bob, "stuck", platform.Forbidden,
			"Only admins can forget a resource; ask an admin (admin), or delete it with /idp delete orders-db."},
		{"by an approver", false, approver, "stuck", platform.Forbidden,
			"Only admins can forget a resource; ask an admin (admin), or delete it with /idp delete orders-db."},
		{"without a reason", false, admin, "  ", platform.Invalid,
			"forget needs --reason <text>: say why it cannot be deprovisioned."},
		{"a ready one", true, admin, "not needed", platform.Conflict,
			"orders-db #1 is ready: delete it instead, with /idp delete #1."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := platformtest.Engine(t)
			var r *platform.Resource
			if tc.ready {
				r = ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
			} else {
				r = failedDeletion(t, f)
			}
			before, _ := f.Store.Events(context.Background(), r.ID)
			_, err := f.Engine.Forget(context.Background(), tc.actor, "orders-db", tc.reason)
			if platform.ErrorCode(err) != tc.code || platform.ErrorMessage(err) != tc.want {
				t.Errorf("Forget = %v (%s), want %s %q", err, platform.ErrorCode(err), tc.code, tc.want)
			}
			after, _ := f.Store.Events(context.Background(), r.ID)
			if len(after) != len(before) {
				t.Errorf("a refused forget recorded %d events", len(after)-len(before))
			}
			state(t, f, r.ID, r.State)
		})
	}
}
