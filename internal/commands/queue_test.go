package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func TestListPendingOldestFirstWithAge(t *testing.T) {
	t.Parallel()
	org := platformtest.Org()
	// The approver is also in payments, so that one request is their own.
	org.Teams[0].Members = append(org.Teams[0].Members, approver.ID)
	org.Environments[1].Approvals = 2 // staging
	e := newGovEnv(t, commands.Options{}, platformtest.WithOrg(org))
	mustAwait := func(actor platform.Actor, text string) *platform.Resource {
		t.Helper()
		rep := e.run(actor, text)
		if rep.Err != nil || rep.Resource == nil || rep.Resource.State != platform.AwaitingApproval {
			t.Fatalf("%s:\n%s", text, rep.Text())
		}
		return rep.Resource
	}
	older := mustAwait(bob, "create postgresql-database name=orders-db env=production")
	e.f.Clock.Advance(time.Hour)
	mine := mustAwait(approver, "create postgresql-database name=approver-db env=production")
	e.f.Clock.Advance(10 * time.Minute)
	newer := mustAwait(alice, "create postgresql-database name=ledger-db team=payments env=production")
	e.f.Clock.Advance(2*time.Hour + 2*time.Minute)

	rep := e.run(approver, "list --pending")
	if rep.Err != nil {
		t.Fatalf("list --pending: %s", rep.Text())
	}
	lines := strings.Split(rep.Sections[0].Text, "\n")
	if len(lines) != 3 {
		t.Fatalf("list --pending rows:\n%s", rep.Sections[0].Text)
	}
	var got [][]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		got = append(got, []string{f[0], f[1], strings.Join(f[len(f)-2:], " ")})
	}
	// The clock steps a second on every reading, hence 3h 12m for a wait
	// of 3h 12m and a few seconds.
	want := [][]string{{older.Ref(), "orders-db", "3h 12m"}, {newer.Ref(), "ledger-db", "2h 2m"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("list --pending mismatch (-want +got):\n%s\n%s", diff, rep.Text())
	}
	if rep.Title != "2 requests waiting for your approval, oldest first:" {
		t.Errorf("title = %q", rep.Title)
	}
	var labels []string
	for _, a := range rep.Actions {
		labels = append(labels, a.Label+"="+a.Command)
	}
	wantLabels := []string{"Approve #1=approve 1", "Reject #1=reject 1", "Approve #3=approve 3", "Reject #3=reject 3"}
	if diff := cmp.Diff(wantLabels, labels); diff != "" {
		t.Errorf("actions mismatch (-want +got):\n%s", diff)
	}
	// The admin sees the approver's own request too.
	if text := e.run(admin, "list --pending").Text(); !strings.Contains(text, "approver-db") || !strings.Contains(text, "3 requests") {
		t.Errorf("admin's list --pending:\n%s", text)
	}
	_ = mine

	// A request the approver already approved (it needs two) leaves their
	// queue, not the admin's.
	web := mustAwait(bob, "create postgresql-database name=shop env=staging")
	if r := e.run(approver, "approve "+web.Ref()); r.Err != nil {
		t.Fatalf("approve: %s", r.Text())
	}
	if text := e.run(approver, "list --pending").Text(); strings.Contains(text, "shop") {
		t.Errorf("a request the approver approved is still in their queue:\n%s", text)
	}
	if text := e.run(admin, "list --pending").Text(); !strings.Contains(text, "shop") || !strings.Contains(text, "1 of 2") {
		t.Errorf("admin's queue lacks the half-approved request:\n%s", text)
	}
}

func TestListPendingAndStateErrors(t *testing.T) {
	t.Parallel()
	e := newGovEnv(t, commands.Options{})
	e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	e.run(bob, "create postgresql-database name=prod-db env=production")
	tests := []struct {
		actor platform.Actor
		text  string
		title string
		code  platform.Code
	}{
		{bob, "list --pending", "You are not an approver; /idp list shows your team's resources.", platform.Forbidden},
		{approver, "list --pending --team payments", "--pending shows every request waiting for you; use it without --team.", platform.Invalid},
		{bob, "list --state redy", `There is no state "redy". Did you mean ready? States: pending, awaiting_approval, provisioning, ready, updating, failed, deleting, deleted, rejected, expired, forgotten.`, platform.Invalid},
		{bob, "list --state", "--state needs a value, like --state S.", platform.Invalid},
		{bob, "list --state failed", "No resources of your teams, failed. Request one with /idp create <service>.", ""},
		{bob, "list --state ready", "1 resource of your teams, ready:", ""},
		{bob, "list --state Awaiting-Approval", "1 resource of your teams, awaiting_approval:", ""},
		{approver, "list --pending", "1 request waiting for your approval, oldest first:", ""},
	}
	for _, tt := range tests {
		rep := e.run(tt.actor, tt.text)
		if rep.Title != tt.title || platform.ErrorCode(rep.Err) != tt.code {
			t.Errorf("%s as %s = %q (%v), want %q", tt.text, tt.actor.ID, rep.Title, rep.Err, tt.title)
		}
	}
	if text := e.run(bob, "list --state ready").Text(); !strings.Contains(text, "orders-db") || strings.Contains(text, "prod-db") {
		t.Errorf("list --state ready:\n%s", text)
	}
	if n := e.count(t); n != 2 {
		t.Errorf("refused commands changed something: %d resources", n)
	}
	_ = context.Background
}
