package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// rotating is a fake driver that can rotate credentials.
type rotating struct {
	*platformtest.Driver
	n atomic.Int32
}

func (d *rotating) Rotate(context.Context, platform.Job) (map[string]string, error) {
	n := d.n.Add(1)
	return map[string]string{"url": fmt.Sprintf("postgres://u:rotated-%d@h/db", n)}, nil
}

// failDeletion makes a ready resource's deprovisioning fail.
func (e *env) failDeletion(t *testing.T, r *platform.Resource) {
	t.Helper()
	e.f.Driver.Fail(platformtest.OpDeprovision, platformtest.Permanent("database is in use"), 1)
	if rep := e.run(bob, "delete "+r.Ref()+" --yes"); rep.Err != nil {
		t.Fatal(rep.Text())
	}
	if err := e.f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
}

func (e *env) resource(t *testing.T, id int64) *platform.Resource {
	t.Helper()
	r, err := e.f.Store.Resource(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) events(t *testing.T, id int64) int {
	t.Helper()
	evs, err := e.f.Store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func TestRetryCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the script exited with status 1"), 1)
	rep := e.run(bob, "create postgresql-database name=orders-db team=payments environment=development")
	if rep.Err != nil {
		t.Fatal(rep.Text())
	}
	id := rep.Resource.ID
	if err := e.f.Engine.Provision(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	rep = e.run(alice, "retry orders-db")
	if rep.Err != nil || rep.Title != "Retrying the provisioning of orders-db #1 (postgresql-database of team payments in development)." {
		t.Fatalf("retry = %q", rep.Text())
	}
	if err := e.f.Engine.Provision(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := e.resource(t, id).State; got != platform.Ready {
		t.Errorf("after the retry: %s, want ready", got)
	}
	audit := e.run(bob, "audit orders-db").Text()
	if !strings.Contains(audit, "failed → provisioning  console:alice") || !strings.Contains(audit, "retry of provisioning by alice") {
		t.Errorf("audit does not show the retry and who:\n%s", audit)
	}
}

// Item 8 of issue 12: each refusal says what to do instead, and nothing
// changes.
func TestDay2Refusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		failed bool // the resource's deletion failed; else it is ready
		actor  platform.Actor
		cmd    string
		want   string
	}{
		{"retry a ready one", false, bob, "retry orders-db", "orders-db is ready; nothing to retry."},
		{"retry another team's", true, approver, "retry orders-db",
			"You are not in team payments, which owns orders-db #1: only its members or a platform admin can retry it."},
		{"rotate another team's", false, approver, "credentials orders-db --rotate",
			"You are not in team payments, which owns orders-db #1: only its members or a platform admin can rotate its credentials."},
		{"rotate a failed one", true, bob, "credentials orders-db --rotate",
			"orders-db #1 is failed; credentials can be rotated only while it is ready."},
		{"forget by a non-admin", true, bob, `forget orders-db --reason "gone"`,
			"Only admins can forget a resource; ask an admin (admin), or delete it with /idp delete orders-db."},
		{"forget without a reason", true, admin, "forget orders-db",
			"forget needs --reason <text>: say why it cannot be deprovisioned."},
		{"forget a ready one", false, admin, "forget orders-db --reason unused",
			"orders-db #1 is ready: delete it instead, with /idp delete #1."},
		{"forget with an unquoted reason", true, admin, "forget orders-db the server is gone",
			`forget takes one resource and --reason <text>; quote a reason of several words, like --reason "the server is gone".`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, platformtest.WithDriver("postgres", &rotating{Driver: platformtest.NewDriver()}))
			r := e.mustCreate(t, bob, "create postgresql-database name=orders-db team=payments environment=development")
			if tc.failed {
				if _, err := e.f.Engine.Delete(context.Background(), bob, "orders-db"); err != nil {
					t.Fatal(err)
				}
				if err := e.f.Engine.Fail(context.Background(), r.ID, "deprovisioning failed: database is in use"); err != nil {
					t.Fatal(err)
				}
			}
			before, n := e.resource(t, r.ID), e.events(t, r.ID)
			rep := e.run(tc.actor, tc.cmd)
			if rep.Err == nil || rep.Title != tc.want {
				t.Errorf("%s = %q (err %v), want %q", tc.cmd, rep.Title, rep.Err, tc.want)
			}
			if after := e.resource(t, r.ID); after.State != before.State || e.events(t, r.ID) != n {
				t.Errorf("%s changed the resource: %s → %s, %d → %d events", tc.cmd, before.State, after.State, n, e.events(t, r.ID))
			}
		})
	}
}

func TestCredentialsCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, platformtest.WithDriver("postgres", &rotating{Driver: platformtest.NewDriver()}))
	r := e.mustCreate(t, bob, "create postgresql-database name=orders-db team=payments environment=development")
	rep := e.run(alice, "credentials orders-db")
	if rep.Err != nil || !rep.Ephemeral || rep.Title != "Credentials of orders-db #1 are shown only once." ||
		!strings.Contains(rep.Text(), "/idp credentials #1 --rotate") {
		t.Errorf("credentials = %q, want the explanation and how to rotate", rep.Text())
	}
	n := e.events(t, r.ID)
	if e.events(t, r.ID) != n {
		t.Error("credentials without --rotate recorded something")
	}
	rep = e.run(alice, "credentials orders-db --rotate")
	if rep.Err != nil || !rep.Ephemeral || strings.Contains(rep.Text(), "rotated-1") {
		t.Fatalf("credentials --rotate = %q", rep.Text())
	}
	evs, _ := e.f.Store.Events(context.Background(), r.ID)
	last := evs[len(evs)-1]
	secrets, err := e.f.Engine.Secrets(last)
	if last.Kind != platform.EventSecret || err != nil || secrets["url"] != "postgres://u:rotated-1@h/db" {
		t.Errorf("last event %s, secrets %v (%v); want the new url sealed for private delivery", last.Kind, secrets, err)
	}
}

func TestCredentialsOfADriverThatCannotRotate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCreate(t, bob, "create postgresql-database name=orders-db team=payments environment=development")
	const want = "The credentials of postgresql-database cannot be rotated by its driver; ask the platform team to reset them."
	rep := e.run(bob, "credentials orders-db --rotate")
	if rep.Title != want {
		t.Errorf("credentials --rotate = %q, want %q", rep.Title, want)
	}
	if rep := e.run(bob, "credentials orders-db"); len(rep.Sections) != 1 || !strings.Contains(rep.Sections[0].Text, want) || strings.Contains(rep.Text(), "--rotate") {
		text := rep.Text()
		t.Errorf("credentials = %q: it offers a rotation the driver cannot do", text)
	}
}

func TestForgetCommand(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{`forget %s --reason "the server is gone"`, `forget %d -- "the server is gone"`} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.mustCreate(t, bob, "create postgresql-database name=orders-db team=payments environment=development")
			e.failDeletion(t, r)
			arg := any(r.Ref())
			if strings.Contains(cmd, "%d") {
				arg = r.ID
			}
			rep := e.run(admin, fmt.Sprintf(cmd, arg))
			if rep.Err != nil || rep.Title != "Forgot orders-db #1: its name is free again." {
				t.Fatalf("forget = %q", rep.Text())
			}
			if got := e.resource(t, r.ID); got.State != platform.Forgotten || got.Reason != "the server is gone" {
				t.Errorf("after forget: %s (%q)", got.State, got.Reason)
			}
			if !strings.Contains(e.run(admin, "audit #1").Text(), "forgotten by admin: the server is gone") {
				t.Error("the audit does not say why it was forgotten")
			}
		})
	}
}

func TestFailedActions(t *testing.T) {
	t.Parallel()
	r := &platform.Resource{ID: 12}
	tests := []struct {
		from platform.State
		want []commands.Action
	}{
		{platform.Provisioning, []commands.Action{{Label: "Retry", Command: "retry 12", Style: "primary"}}},
		{platform.Deleting, []commands.Action{{Label: "Retry", Command: "retry 12", Style: "primary"},
			{Label: "Forget (admins)", Command: "forget 12", Style: "danger", Input: "Reason: why it cannot be deprovisioned"}}},
	}
	for _, tc := range tests {
		got := commands.EventActions(r, platform.Event{Kind: platform.EventTransition, From: tc.from, To: platform.Failed})
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("actions after a failed %s mismatch (-want +got):\n%s", tc.from, diff)
		}
	}
	// The forget button's command, with the reason typed, is a valid forget.
	cmd := commands.Action{Command: "forget 12", Input: "Reason"}.CommandWith(`the "old" server`)
	if cmd != `forget 12 -- "the \"old\" server"` {
		t.Errorf("CommandWith = %q", cmd)
	}
}
