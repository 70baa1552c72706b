package platform_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// approverMember approves requests and is a member of payments, so that
// the self-approval check is what stops them.
var approverMember = platform.Actor{ID: "console:pat", Name: "pat"}

// governedOrg is the fixture org with approverMember added to payments
// and the approvers, and a second approver.
func governedOrg() *platform.Org {
	org := platformtest.Org()
	org.Teams[0].Members = append(org.Teams[0].Members, approverMember.ID)
	org.Approvers = append(org.Approvers, approverMember.ID, "slack-usergroup:S0APPROVERS")
	return org
}

// awaiting submits a production request that must wait for approval.
func awaiting(t *testing.T, f *platformtest.Fixture, actor platform.Actor, name string) *platform.Resource {
	t.Helper()
	r := submit(t, f, actor, pgRequest(name, "payments", "production"))
	if r.State != platform.AwaitingApproval {
		t.Fatalf("%s is %s, want awaiting_approval", name, r.State)
	}
	return r
}

func TestApproveRoles(t *testing.T) {
	t.Parallel()
	groupApprover := platform.Actor{ID: "slack:U0GROUP", Name: "gina", Groups: []string{"slack-usergroup:S0APPROVERS"}}
	tests := []struct {
		name      string
		requester platform.Actor
		actor     platform.Actor
		code      platform.Code
		msg       string
	}{
		{"outsider cannot even see it", bob, outsider, platform.NotFound, `There is no resource "#1" that you can see. Try /idp list.`},
		{"team member is no approver", bob, alice, platform.Forbidden, "Only approvers and platform admins can approve requests."},
		{"requester is no approver", bob, bob, platform.Forbidden, "Only approvers and platform admins can approve requests."},
		{"approver cannot approve their own request", approverMember, approverMember, platform.Forbidden, "You cannot approve your own request; another approver must decide on #1."},
		{"same person on another platform", approverMember, platform.Actor{ID: "slack:U0PAT", Email: "pat@example.com"}, platform.Forbidden, ""},
		{"approver", bob, approver, "", ""},
		{"admin", bob, admin, "", ""},
		{"approver by slack user group", bob, groupApprover, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			org := governedOrg()
			if tt.name == "same person on another platform" {
				org.Approvers = append(org.Approvers, "slack:U0PAT")
				approverMember := approverMember
				approverMember.Email = "PAT@example.com"
				tt.requester = approverMember
			}
			f := platformtest.Engine(t, platformtest.WithOrg(org))
			r := awaiting(t, f, tt.requester, "orders-db")
			got, st, err := f.Engine.Approve(context.Background(), tt.actor, "#1")
			if platform.ErrorCode(err) != tt.code || tt.msg != "" && platform.ErrorMessage(err) != tt.msg {
				t.Fatalf("Approve as %s = %v (%s), want code %q %q", tt.actor.ID, err, platform.ErrorCode(err), tt.code, tt.msg)
			}
			if tt.code != "" {
				state(t, f, r.ID, platform.AwaitingApproval)
				return
			}
			if got.State != platform.Provisioning || st.Needed != 1 || len(st.Approvers) != 1 || st.Approvers[0].ID != tt.actor.ID {
				t.Errorf("Approve = %s, %+v; want provisioning approved by %s", got.State, st, tt.actor.ID)
			}
		})
	}
}

func TestApproveStartsProvisioning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := platformtest.Engine(t, platformtest.WithJobs(1))
	r := awaiting(t, f, bob, "orders-db")
	got, _, err := f.Engine.Approve(ctx, approver, r.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if got.State != platform.Provisioning {
		t.Fatalf("after Approve: %s", got.State)
	}
	r = f.Settle(r.ID, 5*time.Second)
	if r.State != platform.Ready {
		t.Fatalf("approved request ended %s (%s)", r.State, r.Reason)
	}
	evs, _ := f.Store.Events(ctx, r.ID)
	var got2 []string
	for _, ev := range evs {
		if ev.Kind == platform.EventTransition || ev.Kind == platform.EventStep {
			got2 = append(got2, string(ev.From)+"→"+string(ev.To)+" "+ev.Actor.ID+" "+ev.Message)
		}
	}
	want := []string{
		"→awaiting_approval console:bob requested by bob; needs 1 approval(s)",
		"awaiting_approval→provisioning console:approver approved by approver (1 of 1); provisioning starts",
		"→ system:idpbot creating role payments_production_orders_db",
		"→ system:idpbot creating database payments_production_orders_db",
		"provisioning→ready system:idpbot ready",
	}
	if diff := cmp.Diff(want, got2); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if _, _, err := f.Engine.Approve(ctx, admin, r.Ref()); platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("approving a ready resource = %v, want Conflict", err)
	}
}

// twoApprovals returns a fixture whose postgresql-database needs two
// approvals in every environment.
func twoApprovals(t *testing.T, opts ...platformtest.Option) *platformtest.Fixture {
	t.Helper()
	services := platformtest.Services()
	for _, s := range services {
		if s.Name == "postgresql-database" {
			s.Approvals = 2
		}
	}
	cat, err := platform.NewCatalog(services...)
	if err != nil {
		t.Fatal(err)
	}
	return platformtest.Engine(t, append([]platformtest.Option{platformtest.WithCatalog(cat), platformtest.WithOrg(governedOrg())}, opts...)...)
}

func TestApproveNeedsDistinctApprovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := twoApprovals(t)
	r := submit(t, f, bob, pgRequest("orders-db", "payments", "staging"))
	if r.State != platform.AwaitingApproval {
		t.Fatalf("service approvals ignored: %s", r.State)
	}
	got, st, err := f.Engine.Approve(ctx, approver, "orders-db")
	if err != nil || got.State != platform.AwaitingApproval || st.Missing() != 1 {
		t.Fatalf("first approval = %v, %+v, %v; want still awaiting, 1 missing", got, st, err)
	}
	_, _, err = f.Engine.Approve(ctx, approver, "orders-db")
	if platform.ErrorCode(err) != platform.Conflict || !strings.Contains(platform.ErrorMessage(err), "You have already approved orders-db #1; it needs 1 more") {
		t.Fatalf("second approval by the same approver = %v", err)
	}
	got, st, err = f.Engine.Approve(ctx, admin, "#1")
	if err != nil || got.State != platform.Provisioning {
		t.Fatalf("approval by a second approver = %v, %v", got, err)
	}
	if diff := cmp.Diff([]string{approver.ID, admin.ID}, actorIDs(st.Approvers)); diff != "" {
		t.Errorf("approvers mismatch (-want +got):\n%s", diff)
	}
	evs, _ := f.Store.Events(ctx, r.ID)
	if ev := evs[1]; ev.Kind != platform.EventApproval || ev.Actor.ID != approver.ID || ev.Message != "approved by approver (1 of 2)" {
		t.Errorf("first approval event = %+v", ev)
	}
	if ev := evs[2]; ev.Kind != platform.EventTransition || ev.Actor.ID != admin.ID || ev.Message != "approved by approver, admin (2 of 2); provisioning starts" {
		t.Errorf("completing approval event = %+v", ev)
	}
}

func actorIDs(as []platform.Actor) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func TestConcurrentApprovalsMoveOnOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for i := range 20 {
		f := twoApprovals(t)
		r := submit(t, f, bob, pgRequest("orders-db", "payments", "staging"))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, a := range []platform.Actor{approver, admin} {
			wg.Go(func() { _, _, errs[j] = f.Engine.Approve(ctx, a, r.Ref()) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: concurrent approval = %v", i, err)
			}
		}
		got := state(t, f, r.ID, platform.Provisioning)
		evs, _ := f.Store.Events(ctx, got.ID)
		moves := 0
		for _, ev := range evs {
			if ev.To == platform.Provisioning {
				moves++
			}
		}
		if moves != 1 {
			t.Fatalf("round %d: %d transitions to provisioning, want 1", i, moves)
		}
	}
}

func TestReject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := platformtest.Engine(t, platformtest.WithOrg(governedOrg()))
	r := awaiting(t, f, approverMember, "orders-db")
	tests := []struct {
		actor  platform.Actor
		reason string
		code   platform.Code
		msg    string
	}{
		{approver, "   ", platform.Invalid, "Give a reason, which the requester will read: /idp reject <id> <reason>."},
		{approver, strings.Repeat("x", platform.MaxReasonLength+1), platform.Invalid, "The reason is 501 characters long; keep it under 500."},
		{alice, "no", platform.Forbidden, "Only approvers and platform admins can reject requests."},
		{outsider, "no", platform.NotFound, `There is no resource "#1" that you can see. Try /idp list.`},
		{approverMember, "changed my mind", platform.Forbidden, "You cannot reject your own request; another approver must decide on #1."},
	}
	for _, tt := range tests {
		_, err := f.Engine.Reject(ctx, tt.actor, "#1", tt.reason)
		if platform.ErrorCode(err) != tt.code || platform.ErrorMessage(err) != tt.msg {
			t.Errorf("Reject as %s (%.10q) = %v, want %s %q", tt.actor.ID, tt.reason, err, tt.code, tt.msg)
		}
	}
	state(t, f, r.ID, platform.AwaitingApproval)
	got, err := f.Engine.Reject(ctx, approver, "orders-db", "too big for\nstaging  ")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != platform.Rejected || got.Reason != "rejected by approver: too big for staging" {
		t.Errorf("Reject = %s %q", got.State, got.Reason)
	}
	evs, _ := f.Store.Events(ctx, r.ID)
	if last := evs[len(evs)-1]; last.Actor.ID != approver.ID || last.To != platform.Rejected || last.Message != got.Reason {
		t.Errorf("rejection event = %+v", last)
	}
	_, _, err = f.Engine.Approve(ctx, admin, "#1")
	if platform.ErrorMessage(err) != "orders-db #1 is already rejected (rejected by approver: too big for staging)." {
		t.Errorf("approving a rejected request = %v", err)
	}
}

func TestSweepRemindsOnceThenExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := platformtest.Engine(t)
	r := awaiting(t, f, bob, "orders-db")
	kinds := func() []platform.EventKind {
		evs, _ := f.Store.Events(ctx, r.ID)
		var out []platform.EventKind
		for _, ev := range evs {
			out = append(out, ev.Kind)
		}
		return out
	}
	if sw, err := f.Engine.Sweep(ctx); err != nil || len(sw.Reminded)+len(sw.Expired) != 0 {
		t.Fatalf("fresh sweep = %+v, %v; want nothing done", sw, err)
	}
	f.Clock.Advance(platform.DefaultRemindAfter)
	for range 2 {
		if _, err := f.Engine.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]platform.EventKind{platform.EventTransition, platform.EventReminder}, kinds()); diff != "" {
		t.Errorf("events after two sweeps past the reminder (-want +got):\n%s", diff)
	}
	evs, _ := f.Store.Events(ctx, r.ID)
	if msg := evs[1].Message; msg != "still awaiting approval after 1d: needs 1 more approval(s) from an approver; it expires without a decision in 2d" {
		t.Errorf("reminder = %q", msg)
	}
	f.Clock.Advance(platform.DefaultExpireAfter - platform.DefaultRemindAfter)
	sw, err := f.Engine.Sweep(ctx)
	if err != nil || len(sw.Expired) != 1 {
		t.Fatalf("sweep at 72h = %+v, %v", sw, err)
	}
	got := state(t, f, r.ID, platform.Expired)
	if got.Reason != "no approval decision within 3d" {
		t.Errorf("expired reason = %q", got.Reason)
	}
}

func TestSweepExpiresResourcesAfterWarning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := platformtest.Engine(t, platformtest.WithJobs(1))
	r := submit(t, f, bob, pgRequest("scratch-db", "payments", "development"))
	r = f.Settle(r.ID, 5*time.Second)
	if r.State != platform.Ready || r.ExpiresAt.IsZero() {
		t.Fatalf("dev resource: %s, expires %v", r.State, r.ExpiresAt)
	}
	untilWarning := r.ExpiresAt.Sub(f.Clock.Peek()) - platform.DefaultWarnBefore
	f.Clock.Advance(untilWarning - time.Hour)
	if sw, _ := f.Engine.Sweep(ctx); len(sw.Warned) != 0 {
		t.Fatalf("warned %v an hour before the warning window", sw.Warned)
	}
	f.Clock.Advance(2 * time.Hour)
	if sw, err := f.Engine.Sweep(ctx); err != nil || len(sw.Warned) != 1 {
		t.Fatalf("sweep in the warning window = %+v, %v", sw, err)
	}
	if sw, _ := f.Engine.Sweep(ctx); len(sw.Warned) != 0 {
		t.Fatal("warned twice for one expiry")
	}
	evs, _ := f.Store.Events(ctx, r.ID)
	warning := evs[len(evs)-1]
	if warning.Kind != platform.EventExpiring || !strings.Contains(warning.Message, "keep it longer with /idp extend 1 7d") {
		t.Errorf("warning = %+v", warning)
	}

	// Extended: no deletion at the old expiry, a new warning before the new one.
	ext, err := f.Engine.Extend(ctx, bob, "scratch-db", 2*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.ExpiresAt.Add(48 * time.Hour); !ext.ExpiresAt.Equal(want) {
		t.Errorf("extended expiry = %v, want %v", ext.ExpiresAt, want)
	}
	f.Clock.Advance(platform.DefaultWarnBefore)
	if sw, _ := f.Engine.Sweep(ctx); len(sw.Deprovisioned)+len(sw.Warned) != 0 {
		t.Fatalf("sweep after the old expiry = %+v, want nothing", sw)
	}
	f.Clock.Advance(24 * time.Hour)
	if sw, _ := f.Engine.Sweep(ctx); len(sw.Warned) != 1 {
		t.Fatalf("no warning before the new expiry: %+v", sw)
	}
	f.Clock.Advance(24 * time.Hour)
	if sw, err := f.Engine.Sweep(ctx); err != nil || len(sw.Deprovisioned) != 1 {
		t.Fatalf("sweep at expiry = %+v, %v", sw, err)
	}
	got := f.WaitState(r.ID, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted })
	if got.Reason != platform.ExpiredReason {
		t.Errorf("deleted resource reason = %q, want %q", got.Reason, platform.ExpiredReason)
	}
	evs, _ = f.Store.Events(ctx, r.ID)
	var deleting platform.Event
	for _, ev := range evs {
		if ev.To == platform.Deleting {
			deleting = ev
		}
	}
	if deleting.Actor.ID != platform.System.ID || deleting.Message != "expired (TTL)" {
		t.Errorf("deleting event = %+v", deleting)
	}
	if calls := f.Driver.Calls(); calls[len(calls)-1].Op != platformtest.OpDeprovision {
		t.Errorf("driver calls = %+v, want a deprovision last", calls)
	}
}

func TestExtend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := platformtest.Engine(t)
	dev := ready(t, f, bob, pgRequest("scratch-db", "payments", "development"))
	stg := ready(t, f, bob, pgRequest("kept-db", "payments", "staging"))
	tests := []struct {
		actor platform.Actor
		ref   string
		d     time.Duration
		code  platform.Code
		msg   string
	}{
		{outsider, dev.Ref(), time.Hour, platform.NotFound, `There is no resource "#1" that you can see. Try /idp list.`},
		{carol, dev.Ref(), time.Hour, platform.NotFound, `There is no resource "#1" that you can see. Try /idp list.`},
		{approver, dev.Ref(), time.Hour, platform.Forbidden, "You are not in team payments, which owns scratch-db."},
		{bob, stg.Ref(), time.Hour, platform.Conflict, "kept-db #2 has no expiry; there is nothing to extend."},
		{bob, dev.Ref(), 0, platform.Invalid, "Give a positive duration to extend by, like 7d or 12h."},
		{bob, dev.Ref(), 30 * 24 * time.Hour, platform.Invalid, "scratch-db #1 can be kept at most 30d from now"},
		{bob, dev.Ref(), 7 * 24 * time.Hour, "", ""},
		{alice, "scratch-db", time.Hour, "", ""},
		{admin, dev.Ref(), time.Hour, "", ""},
	}
	want := dev.ExpiresAt
	for _, tt := range tests {
		got, err := f.Engine.Extend(ctx, tt.actor, tt.ref, tt.d)
		if platform.ErrorCode(err) != tt.code || !strings.HasPrefix(platform.ErrorMessage(err), tt.msg) {
			t.Errorf("Extend(%s, %s, %v) = %v, want %s %q", tt.actor.ID, tt.ref, tt.d, err, tt.code, tt.msg)
			continue
		}
		if err == nil {
			want = want.Add(tt.d)
			if !got.ExpiresAt.Equal(want) || got.State != platform.Ready {
				t.Errorf("Extend(%s, %v): expires %v (%s), want %v", tt.actor.ID, tt.d, got.ExpiresAt, got.State, want)
			}
		}
	}
	evs, _ := f.Store.Events(ctx, dev.ID)
	last := evs[len(evs)-1]
	if last.Kind != platform.EventNote || last.Actor.ID != admin.ID || !strings.HasPrefix(last.Message, "expiry extended by 1h to ") {
		t.Errorf("extension event = %+v", last)
	}
}

func TestApprovalKeepsFullTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	services := platformtest.Services()
	for _, s := range services {
		s.TTL = 48 * time.Hour
	}
	cat, _ := platform.NewCatalog(services...)
	f := platformtest.Engine(t, platformtest.WithCatalog(cat))
	r := awaiting(t, f, bob, "orders-db")
	f.Clock.Advance(10 * time.Hour)
	got, _, err := f.Engine.Approve(ctx, approver, r.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if d := got.ExpiresAt.Sub(f.Clock.Peek()); d < 47*time.Hour || d > 48*time.Hour {
		t.Errorf("after approval the resource expires in %v, want the full 48h TTL", d)
	}
}

func TestDurations(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want time.Duration
		text string
	}{
		{"7d", 7 * 24 * time.Hour, "7d"},
		{"2w", 14 * 24 * time.Hour, "14d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"36h", 36 * time.Hour, "1d12h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{" 3D ", 3 * 24 * time.Hour, "3d"},
	} {
		got, err := platform.ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := platform.FormatDuration(got); s != tt.text {
			t.Errorf("FormatDuration(%v) = %q, want %q", got, s, tt.text)
		}
	}
	for _, bad := range []string{"", "soon", "-3d", "3x", "d", "1.5d", "99999d"} {
		if d, err := platform.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}
