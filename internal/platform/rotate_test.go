package platform_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// rotating is a fake driver that can rotate credentials.
type rotating struct {
	*platformtest.Driver
	n   atomic.Int32
	err error
}

var _ platform.Rotator = (*rotating)(nil)

func (d *rotating) Rotate(_ context.Context, job platform.Job) (map[string]string, error) {
	if d.err != nil {
		return nil, d.err
	}
	n := d.n.Add(1)
	job.Step(fmt.Sprintf("setting a new password for %s", job.Resource.Name))
	return map[string]string{"password": fmt.Sprintf("new-%d", n), "url": fmt.Sprintf("postgres://u:new-%d@db.internal/db", n)}, nil
}

func TestRotate(t *testing.T) {
	t.Parallel()
	d := &rotating{Driver: platformtest.NewDriver()}
	f := platformtest.Engine(t, platformtest.WithDriver("postgres", d))
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
	before, _ := f.Store.Events(context.Background(), r.ID)
	if _, err := f.Engine.Rotate(context.Background(), alice, "orders-db"); err != nil {
		t.Fatalf("Rotate = %v", err)
	}
	evs, _ := f.Store.Events(context.Background(), r.ID)
	if len(evs) != len(before)+2 {
		t.Errorf("rotation recorded %d events, want 2: a note and the sealed credentials (no provisioning steps)", len(evs)-len(before))
	}
	note, secret := evs[len(evs)-2], evs[len(evs)-1]
	if note.Kind != platform.EventNote || note.Actor.ID != alice.ID ||
		note.Message != "credentials rotated by alice; the old ones no longer work. The new ones go to bob privately." {
		t.Errorf("rotation note = %+v", note)
	}
	if secret.Kind != platform.EventSecret || secret.Message != "" {
		t.Fatalf("last event = %+v, want a sealed secret", secret)
	}
	if strings.Contains(string(secret.Sealed), "new-1") {
		t.Error("the secret event holds the password in plain text")
	}
	got, err := f.Engine.Secrets(secret)
	if err != nil || got["url"] != "postgres://u:new-1@db.internal/db" {
		t.Errorf("Secrets = %v, %v; want the new url", got, err)
	}
	for _, ev := range evs {
		if strings.Contains(ev.Message, "new-1") {
			t.Errorf("event %q shows the password", ev.Message)
		}
	}
	state(t, f, r.ID, platform.Ready)
}

func TestRotateRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rotates bool
		failed  bool
		actor   platform.Actor
		code    platform.Code
		want    string
	}{
		{"another team's, seen by an approver", true, false, approver, platform.Forbidden,
			"You are not in team payments, which owns orders-db #1: only its members or a platform admin can rotate its credentials."},
		{"another team's, unseen", true, false, carol, platform.NotFound, `There is no resource "orders-db" that you can see. Try /idp list.`},
		{"not ready", true, true, bob, platform.Conflict, "orders-db #1 is failed; credentials can be rotated only while it is ready."},
		{"a driver that cannot", false, false, bob, platform.Invalid,
			"The credentials of postgresql-database cannot be rotated by its driver; ask the platform team to reset them."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var f *platformtest.Fixture
			if tc.rotates {
				f = platformtest.Engine(t, platformtest.WithDriver("postgres", &rotating{Driver: platformtest.NewDriver()}))
			} else {
				f = platformtest.Engine(t)
			}
			var r *platform.Resource
			if tc.failed {
				r = submit(t, f, bob, pgRequest("orders-db", "payments", "development"))
				if err := f.Engine.Fail(context.Background(), r.ID, "boom"); err != nil {
					t.Fatal(err)
				}
				r = state(t, f, r.ID, platform.Failed)
			} else {
				r = ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
			}
			before, _ := f.Store.Events(context.Background(), r.ID)
			_, err := f.Engine.Rotate(context.Background(), tc.actor, "orders-db")
			if platform.ErrorCode(err) != tc.code || platform.ErrorMessage(err) != tc.want {
				t.Errorf("Rotate = %v (%s), want %s %q", err, platform.ErrorCode(err), tc.code, tc.want)
			}
			after, _ := f.Store.Events(context.Background(), r.ID)
			if len(after) != len(before) {
				t.Errorf("a refused rotation recorded %d events", len(after)-len(before))
			}
		})
	}
}
