package console_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/console"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// session is a console whose input is written line by line while it runs.
type session struct {
	w    *io.PipeWriter
	out  *buffer
	done chan error
}

// start runs c until the session is closed.
func start(t *testing.T, c *console.Console, router *commands.Router, w *io.PipeWriter, out *buffer) *session {
	t.Helper()
	s := &session{w: w, out: out, done: make(chan error, 1)}
	go func() { s.done <- c.Run(context.Background(), router) }()
	t.Cleanup(func() { s.close(t) })
	return s
}

// open starts a console for actor on the harness's engine. Its own
// requests' threads are not delivered to it (the harness's console has
// them).
func (h *harness) open(t *testing.T, actor platform.Actor) *session {
	t.Helper()
	r, w := io.Pipe()
	out := &buffer{}
	c := console.New(console.Config{
		Engine: h.f.Engine, In: r, Out: out, Actor: actor, Wait: 5 * time.Second,
	})
	return start(t, c, commands.NewRouter(h.f.Engine, commands.Options{Now: h.f.Clock.Peek}), w, out)
}

// type_ sends a command line and waits until the output matches want.
func (s *session) type_(t *testing.T, line, want string) {
	t.Helper()
	before := len(s.out.String())
	fmt.Fprintln(s.w, line)
	s.expect(t, before, want)
}

// expect waits until the output after offset matches pattern.
func (s *session) expect(t *testing.T, offset int, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(5 * time.Second)
	for !re.MatchString(s.out.String()[offset:]) {
		if time.Now().After(deadline) {
			t.Fatalf("output lacks %q; output:\n%s", pattern, s.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *session) close(t *testing.T) {
	t.Helper()
	if s.w == nil {
		return
	}
	s.w.Close()
	s.w = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("console did not end; output:\n%s", s.out.String())
	}
}

// requester opens the harness's own console for actor as a session.
func requester(t *testing.T, actor platform.Actor, opts ...platformtest.Option) (*harness, *session) {
	t.Helper()
	r, w := io.Pipe()
	h := newHarness(t, actor, r, false, 5*time.Second, opts...)
	return h, start(t, h.c, h.router, w, h.out)
}

func TestConsoleApproveFlow(t *testing.T) {
	t.Parallel()
	h, bob := requester(t, platformtest.Bob)
	bob.type_(t, "create postgresql-database name=orders-db env=production high_availability=true",
		`(?m)^  `+clock+`  #1 orders-db  awaiting_approval  requested by bob; needs 1 approval\(s\)\n    \[Approve\] /idp approve 1  \[Reject\] /idp reject 1 <reason>$`)
	bob.type_(t, "approve 1", `Only approvers and platform admins can approve requests\.`)

	approver := h.open(t, platformtest.Approver)
	approver.type_(t, "list", `#1  orders-db  postgresql-database  payments/production  awaiting_approval`)
	approver.type_(t, "approve 1", `Approved orders-db #1: provisioning starts\. bob is told in the request's thread\.`)
	h.f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Ready })
	h.f.Flush(5 * time.Second)
	inOrder(t, bob.out.String(),
		`(?m)^  `+clock+`  #1 orders-db  provisioning  approved by approver \(1 of 1\); provisioning starts$`,
		`(?m)^  `+clock+`  #1 orders-db  provisioning  creating role payments_production_orders_db$`,
		`(?m)^  `+clock+`  #1 orders-db  ready  ready$`,
		`(?m)^  🔒 only bob sees this \(#1 orders-db\): url=postgres://`,
	)
	if strings.Contains(bob.out.String(), "resuming provisioning") {
		t.Errorf("an approved request's thread says it resumes:\n%s", bob.out.String())
	}
	bob.type_(t, "audit 1", `(?s)awaiting_approval → provisioning  console:approver\n\s+approved by approver \(1 of 1\)`)
	// The approver's console waits, when its input ends, only for the
	// approver's own requests: bob's story is told at bob's.
	approver.close(t)
	if out := approver.out.String(); strings.Contains(out, "waiting up to") || strings.Contains(out, "#1 orders-db: ready") {
		t.Errorf("the approver's console waited for bob's request:\n%s", out)
	}
}

func TestConsoleReject(t *testing.T) {
	t.Parallel()
	h, bob := requester(t, platformtest.Bob)
	bob.type_(t, "create postgresql-database name=orders-db env=production", `awaiting_approval`)
	admin := h.open(t, platformtest.Admin)
	admin.type_(t, "reject 1", `Give a reason, which the requester will read: /idp reject <id> <reason>\.`)
	admin.type_(t, `reject 1 "too big for a first try"`, `Rejected orders-db #1\. bob is told in the request's thread\.`)
	h.f.Flush(5 * time.Second)
	bob.expect(t, 0, `(?m)^  `+clock+`  #1 orders-db  rejected  rejected by admin: too big for a first try$`)
	bob.close(t)
	if !strings.Contains(bob.out.String(), "#1 orders-db: rejected by admin: too big for a first try\n") {
		t.Errorf("summary at the end of input:\n%s", bob.out.String())
	}
	if n := len(h.f.Driver.Calls()); n != 0 {
		t.Errorf("a rejected request reached the driver %d times", n)
	}
}

func TestConsoleSelfApprovalRefused(t *testing.T) {
	t.Parallel()
	org := platformtest.Org()
	org.Approvers = append(org.Approvers, platformtest.Bob.ID)
	h, bob := requester(t, platformtest.Bob, platformtest.WithOrg(org))
	bob.type_(t, "create postgresql-database name=orders-db env=production", `awaiting_approval`)
	bob.type_(t, "approve 1", `You cannot approve your own request; another approver must decide on #1\.`)
	bob.type_(t, "reject 1 changed my mind", `You cannot reject your own request; another approver must decide on #1\.`)
	if got := h.resource(t, 1); got.State != platform.AwaitingApproval {
		t.Errorf("after self-approval: %s", got.State)
	}
}

func TestConsoleApprovalReminderAndExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, bob := requester(t, platformtest.Bob)
	bob.type_(t, "create postgresql-database name=orders-db env=production", `awaiting_approval`)
	h.f.Clock.Advance(platform.DefaultRemindAfter)
	if _, err := h.f.Engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	bob.expect(t, 0, `(?m)^  `+clock+`  #1 orders-db  reminder  still awaiting approval after 1d: needs 1 more approval\(s\) from an approver; it expires without a decision in 2d\n    \[Approve\] /idp approve 1`)
	h.f.Clock.Advance(platform.DefaultExpireAfter - platform.DefaultRemindAfter)
	if _, err := h.f.Engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	bob.expect(t, 0, `(?m)^  `+clock+`  #1 orders-db  expired  no approval decision within 3d$`)
	approver := h.open(t, platformtest.Approver)
	approver.type_(t, "approve 1", `orders-db #1 is already expired \(no approval decision within 3d\)\.`)
}

func TestConsoleTTLExpiryAndExtend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, bob := requester(t, platformtest.Bob)
	bob.type_(t, "create postgresql-database name=scratch-db", `Expires     2026-03-09 13:02:00 UTC \(in 6d23h\)`)
	r := h.f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Ready })
	h.f.Clock.Advance(r.ExpiresAt.Sub(h.f.Clock.Peek()) - 12*time.Hour)
	if sw, err := h.f.Engine.Sweep(ctx); err != nil || len(sw.Warned) != 1 {
		t.Fatalf("Sweep = %+v, %v", sw, err)
	}
	bob.expect(t, 0, `(?m)^  `+clock+`  #1 scratch-db  expiring  expires in 12h \(2026-03-09 13:02 UTC\) and will then be deleted; keep it longer with /idp extend 1 7d\n    \[Extend 7d\] /idp extend 1 7d$`)
	bob.type_(t, "extend 1 7d", `Extended scratch-db #1 by 7d: it now expires 2026-03-16 13:02:00 UTC \(in 7d1\dh\)\.`)
	bob.expect(t, 0, `(?m)^  `+clock+`  #1 scratch-db  note  expiry extended by 7d to 2026-03-16 13:02 UTC by bob$`)
	h.f.Clock.Advance(13 * time.Hour)
	if sw, _ := h.f.Engine.Sweep(ctx); len(sw.Deprovisioned) != 0 {
		t.Fatalf("deleted at the old expiry: %+v", sw)
	}
	h.f.Clock.Advance(7 * 24 * time.Hour)
	if sw, err := h.f.Engine.Sweep(ctx); err != nil || len(sw.Deprovisioned) != 1 {
		t.Fatalf("Sweep at the new expiry = %+v, %v", sw, err)
	}
	h.f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted })
	h.f.Flush(5 * time.Second)
	inOrder(t, bob.out.String(),
		`(?m)^  `+clock+`  #1 scratch-db  deleting  expired \(TTL\)$`,
		`(?m)^  `+clock+`  #1 scratch-db  deleting  dropping database payments_development_scratch_db$`,
		`(?m)^  `+clock+`  #1 scratch-db  deleted  deleted$`,
	)
	bob.type_(t, "status 1", `Reason +expired \(TTL\)`)
}

func TestConsoleDependencyRefusal(t *testing.T) {
	t.Parallel()
	h, bob := requester(t, platformtest.Bob, platformtest.WithDriver("kubernetes", platformtest.NewDriver()))
	bob.type_(t, "create api-gateway name=orders-gw env=staging",
		`upstream: api-gateway depends on web-application, and team payments has no\s+ready web-application in staging: create a web-application in\s+payments/staging first \(rule dependencies\)`)
	bob.type_(t, "create web-application name=orders-api env=staging", `Requested orders-api #1`)
	h.f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Ready })
	bob.type_(t, "create api-gateway name=orders-gw env=staging upstream=orders-ap", `did you mean orders-api\?`)
	bob.type_(t, "create api-gateway name=orders-gw env=staging upstream=orders-api", `Requested orders-gw #2`)
	h.f.WaitState(2, 5*time.Second, func(s platform.State) bool { return s == platform.Ready })
	bob.type_(t, "delete orders-api --yes", `orders-api #1 cannot be deleted: orders-gw #2 \(api-gateway\) depends on it\.\s+Delete\s+it first\.`)
	if got := h.resource(t, 1); got.State != platform.Ready {
		t.Errorf("the depended-on web-application is %s", got.State)
	}
}

func TestConsolePoster(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	out := &buffer{}
	c := notifier(console.New(console.Config{Out: out, Engine: f.Engine, Actor: platformtest.Approver}))
	r := &platform.Resource{ID: 3, Name: "orders-db", Service: "postgresql-database", Team: "payments", Environment: "production", Requester: platformtest.Bob, SelfService: true}
	// Bob, not an approver, does not see the approvals channel: his
	// console leaves the card to an approver's.
	bobs := notifier(console.New(console.Config{Out: &buffer{}, Engine: f.Engine, Actor: platformtest.Bob}))
	var deferred interface{ DeferFor() time.Duration }
	if _, err := bobs.Post(context.Background(), "approvals", commands.ApprovalCard(r, 1, "")); !errors.As(err, &deferred) {
		t.Errorf("Post to approvals at bob's console = %v, want a deferral", err)
	}
	if _, err := bobs.Post(context.Background(), "support", commands.Reply{Title: "Support ticket #1"}); !errors.As(err, &deferred) {
		t.Errorf("Post to support at bob's console = %v, want a deferral", err)
	}
	if _, err := bobs.Post(context.Background(), "console", commands.Reply{Title: "How likely are you to recommend the platform?"}); err != nil {
		t.Errorf("Post of a survey at bob's console = %v", err)
	}
	ref, err := c.Post(context.Background(), "approvals", commands.ApprovalCard(r, 1, ""))
	if err != nil || ref != "post-1" {
		t.Fatalf("Post = %q, %v", ref, err)
	}
	if err := c.PostInThread(context.Background(), "approvals", ref, commands.Reply{Title: "approved by approver"}); err != nil {
		t.Fatal(err)
	}
	inOrder(t, out.String(),
		`(?m)^\[#approvals\] Approval needed: orders-db #3, postgresql-database for payments in production$`,
		`(?m)^  Requested by  bob \(console:bob\)$`,
		`(?m)^  \[Approve\] /idp approve 3$`,
		`(?m)^  \[Reject\] /idp reject 3 <reason>$`,
		`(?m)^\[#approvals › post-1\] approved by approver$`,
	)
}
