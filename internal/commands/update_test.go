package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestUpdateCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.mustCreate(t, alice, "create postgresql-database name=orders-db team=payments environment=staging")

	reply := e.run(alice, "update orders-db")
	golden(t, "update_help", reply.Text())
	if help := e.run(alice, "help update").Text(); !strings.Contains(help, "/idp update <name|#id> [key=value ...]") || !strings.Contains(help, "update orders-db size=medium") {
		t.Errorf("help update does not show the usage and example:\n%s", help)
	}

	reply = e.run(alice, "update orders-db size=Medium backup_retention_days=14")
	if reply.Err != nil {
		t.Fatalf("update: %s", reply.Text())
	}
	golden(t, "update_applying", reply.Text())
	if err := e.f.Engine.ApplyUpdate(context.Background(), res.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := e.f.Store.Resource(context.Background(), res.ID)
	if got.State != platform.Ready || got.Parameters["size"] != "medium" || got.Parameters["backup_retention_days"] != int64(14) {
		t.Errorf("after the update: %s %v", got.State, got.Parameters)
	}
}

func TestUpdateCommandPendingApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	reply := e.run(bob, "create postgresql-database name=ledger-db team=payments environment=production")
	if reply.Err != nil {
		t.Fatal(reply.Text())
	}
	id := reply.Resource.ID
	if _, _, err := e.f.Engine.Approve(ctx, approver, reply.Resource.Ref()); err != nil {
		t.Fatal(err)
	}
	if err := e.f.Engine.Provision(ctx, id); err != nil {
		t.Fatal(err)
	}
	reply = e.run(bob, "update ledger-db size=large")
	if reply.Err != nil {
		t.Fatal(reply.Text())
	}
	golden(t, "update_pending", reply.Text())
	if r, _ := e.f.Store.Resource(ctx, id); r.State != platform.Ready || r.Parameters["size"] != "small" {
		t.Errorf("while the change waits: %s %v, want ready and small", r.State, r.Parameters)
	}
	// The approver's queue lists the change, with who asked for it and
	// what it changes; the requester's own queue does not.
	queue := e.run(approver, "list --pending").Text()
	for _, want := range []string{"1 request waiting for your approval", "ledger-db (change)", "#1 ledger-db: size: small → large"} {
		if !strings.Contains(queue, want) {
			t.Errorf("list --pending lacks %q:\n%s", want, queue)
		}
	}
	reply = e.run(approver, "approve ledger-db")
	if reply.Err != nil {
		t.Fatal(reply.Text())
	}
	if want := "Approved the change of ledger-db #1: the update starts"; !strings.HasPrefix(reply.Text(), want) {
		t.Errorf("approve reply = %q, want it to start %q", reply.Text(), want)
	}
	if queue := e.run(approver, "list --pending").Text(); !strings.Contains(queue, "Nothing waits") {
		t.Errorf("list --pending after the approval:\n%s", queue)
	}
	if r, _ := e.f.Store.Resource(ctx, id); r.State != platform.Updating {
		t.Errorf("after approval: %s, want updating", r.State)
	}
}

func TestUpdateCommandRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		actor  platform.Actor
		text   string
		title  string
		errors []platform.FieldError
	}{
		{alice, "update", "Which resource? Use /idp update <name|#id> key=value…, like /idp update orders-db size=medium.", nil},
		{alice, "update orders-db size", `Expected key=value, got "size". Example: /idp update orders-db size=medium.`, nil},
		{alice, "update orders-db size=huge sise=small team=platform", "The change of orders-db has 3 invalid fields; nothing was changed.", []platform.FieldError{
			{Field: "size", Message: "must be one of small, medium, large"},
			{Field: "sise", Message: "is not a parameter of postgresql-database (did you mean size?)"},
			{Field: "team", Message: "cannot be changed by an update: create a new resource instead"},
		}},
		{alice, "update orders-db size=small", "orders-db #1 already has size=small; nothing changed.", nil},
		{carol, "update orders-db size=medium", `There is no resource "orders-db" that you can see. Try /idp list.`, nil},
		{approver, "update orders-db size=medium", "You are not in team payments, which owns orders-db #1; ask one of its members to update it.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			res := e.mustCreate(t, alice, "create postgresql-database name=orders-db team=payments environment=staging")
			before, _ := e.f.Store.Resource(context.Background(), res.ID)
			reply := e.run(tt.actor, tt.text)
			if reply.Err == nil || reply.Title != tt.title {
				t.Errorf("%s = %q (err %v), want %q", tt.text, reply.Title, reply.Err, tt.title)
			}
			if diff := cmp.Diff(tt.errors, reply.Errors); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
			after, _ := e.f.Store.Resource(context.Background(), res.ID)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a refused update changed the resource (-before +after):\n%s", diff)
			}
		})
	}
}
