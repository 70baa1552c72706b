package commands_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

var carol = platformtest.Carol

// tickets is an in-memory TicketStore.
type tickets struct {
	mu   sync.Mutex
	list []commands.Ticket
	err  error
}

func (s *tickets) CreateTicket(_ context.Context, t commands.Ticket) (commands.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return commands.Ticket{}, s.err
	}
	t.ID = int64(len(s.list) + 1)
	s.list = append(s.list, t)
	return t, nil
}

// counter is a SupportMetrics.
type counter map[string]int

func (c counter) SupportTicket(category string) { c[category]++ }

func newGovEnv(t *testing.T, opts commands.Options, fopts ...platformtest.Option) *env {
	t.Helper()
	f := platformtest.Engine(t, fopts...)
	opts.Now = f.Clock.Peek
	return &env{f: f, router: commands.NewRouter(f.Engine, opts)}
}

func sectionHeadings(r commands.Reply) []string {
	var out []string
	for _, s := range r.Sections {
		out = append(out, s.Heading)
	}
	return out
}

func TestHelpShowsOnlyWhatYouMayRun(t *testing.T) {
	t.Parallel()
	var ran []string
	e := newGovEnv(t, commands.Options{Verbs: []commands.Verb{
		{Name: "survey", Usage: "survey start", Help: "Admins: start a survey.", Example: "survey start", Role: commands.Admins,
			Run: func(_ context.Context, req commands.Request, args []string) commands.Reply {
				ran = append(ran, req.Actor.ID+" "+strings.Join(args, "|"))
				return commands.Reply{Title: "started"}
			}},
		{Name: "create", Usage: "shadow", Run: func(context.Context, commands.Request, []string) commands.Reply {
			return commands.Reply{Title: "shadowed"}
		}},
	}})
	base := []string{"/idp help [command]", "/idp catalog [type|service]", "/idp create <service> [key=value ...] [--dry-run]", "/idp list [--team T] [--env E] [--state S] [--mine] [--all] [--pending] [--after #id|--before #id]", "/idp home",
		"/idp status <name|#id>", "/idp delete <name|#id> [--yes]", "/idp update <name|#id> [key=value ...]", "/idp extend <name|#id> <duration>",
		"/idp retry <name|#id>", "/idp credentials <name|#id> [--rotate]", "/idp audit <name|#id> [--before N|--after N]", "/idp support <category> <text>"}
	governance := []string{"/idp approve <#id>", "/idp reject <#id> <reason>"}
	tests := []struct {
		actor platform.Actor
		want  []string
	}{
		{alice, base},
		{outsider, base},
		{approver, append(slices.Clone(base), governance...)},
		{admin, append(append(slices.Clone(base), "/idp approve <#id>", "/idp forget <name|#id> --reason <text>", "/idp reject <#id> <reason>"), "/idp survey start")},
	}
	for _, tt := range tests {
		reply := e.run(tt.actor, "help")
		got := sectionHeadings(reply)
		if diff := cmp.Diff(append(slices.Clone(tt.want), "Tips"), got); diff != "" {
			t.Errorf("help for %s mismatch (-want +got):\n%s", tt.actor.ID, diff)
		}
		if forTeam := strings.Contains(reply.Text(), "--for-team T: admins: request for team T"); forTeam != (tt.actor.ID == admin.ID) {
			t.Errorf("help for %s mentions --for-team: %v", tt.actor.ID, forTeam)
		}
	}
	if text := e.run(alice, "help approve").Text(); !strings.Contains(strings.Join(strings.Fields(text), " "), "(Not for you: approvers only.)") {
		t.Errorf("help approve for a member:\n%s", text)
	}
	if got := e.run(admin, `survey start "two words"`).Title; got != "started" || !slices.Equal(ran, []string{"console:admin start|two words"}) {
		t.Errorf("added verb: %q, ran %q", got, ran)
	}
	if got := e.run(alice, "create").Title; got == "shadowed" {
		t.Error("an added verb replaced a built-in one")
	}
	if got := e.run(alice, "survy").Title; got != `Unknown command "survy". Did you mean survey? See /idp help.` {
		t.Errorf("typo of an added verb = %q", got)
	}
}

func TestApproveRejectCommands(t *testing.T) {
	t.Parallel()
	e := newGovEnv(t, commands.Options{})
	created := e.run(bob, "create postgresql-database name=orders-db env=production")
	if created.Err != nil || created.Resource.State != platform.AwaitingApproval {
		t.Fatalf("production create:\n%s", created.Text())
	}
	if !strings.Contains(created.Text(), "The approvers were asked; you are told in this thread when they decide.") {
		t.Errorf("created reply does not say approval is pending:\n%s", created.Text())
	}
	e.run(bob, "create postgresql-database name=other-db env=production")
	tests := []struct {
		actor platform.Actor
		text  string
		title string
		code  platform.Code
	}{
		{bob, "approve #1", "Only approvers and platform admins can approve requests.", platform.Forbidden},
		{carol, "approve #1", `There is no resource "#1" that you can see. Try /idp list.`, platform.NotFound},
		{approver, "approve", "Which resource? Use /idp approve <name> or /idp approve #<id>; /idp list shows them.", platform.Invalid},
		{approver, "approve 1 2", "approve takes one resource, got 2. Use the #id when names are ambiguous.", platform.Invalid},
		{approver, "reject", "Which request? Use /idp reject <#id> <reason>.", platform.Invalid},
		{approver, "reject 1", "Give a reason, which the requester will read: /idp reject <id> <reason>.", platform.Invalid},
		{approver, "approve 1", "Approved orders-db #1: provisioning starts. bob is told in the request's thread.", ""},
		{approver, "approve 1", "orders-db #1 is provisioning; only requests awaiting approval can be approved.", platform.Conflict},
		{admin, `reject 2 "too big for now" please`, "Rejected other-db #2. bob is told in the request's thread.", ""},
	}
	for _, tt := range tests {
		reply := e.run(tt.actor, tt.text)
		if reply.Title != tt.title || platform.ErrorCode(reply.Err) != tt.code {
			t.Errorf("%s as %s = %q (%v), want %q", tt.text, tt.actor.ID, reply.Title, reply.Err, tt.title)
		}
	}
	r, _ := e.f.Store.Resource(context.Background(), 2)
	if r.State != platform.Rejected || r.Reason != "rejected by admin: too big for now please" {
		t.Errorf("rejected request: %s %q", r.State, r.Reason)
	}
}

func TestDryRunNamesTheApprovals(t *testing.T) {
	t.Parallel()
	services := platformtest.Services()
	for _, s := range services {
		s.Approvals = 2
	}
	cat, err := platform.NewCatalog(services...)
	if err != nil {
		t.Fatal(err)
	}
	e := newGovEnv(t, commands.Options{}, platformtest.WithCatalog(cat))
	e.mustCreate(t, bob, "create postgresql-database name=one-db")
	text := strings.Join(strings.Fields(e.run(bob, "create postgresql-database name=two-db --dry-run").Text()), " ")
	for _, want := range []string{
		"✓ quota (allow): payments: 1 of 5 postgresql-database",
		"Quota payments: 1 of 5 postgresql-database used; 3 left after this request",
		"Approvals 2 approvals needed before provisioning, each from a different approver (console:approver) or a platform admin, never the requester",
		"Would create Service postgresql-database (database) Name two-db Team payments Environment development",
		"Expires after 7d",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run lacks %q:\n%s", want, text)
		}
	}
}

func TestSelfApprovalRefused(t *testing.T) {
	t.Parallel()
	org := platformtest.Org()
	org.Approvers = append(org.Approvers, bob.ID)
	e := newGovEnv(t, commands.Options{}, platformtest.WithOrg(org))
	e.run(bob, "create postgresql-database name=orders-db env=production")
	for _, text := range []string{"approve 1", "reject 1 withdrawn"} {
		reply := e.run(bob, text)
		if platform.ErrorCode(reply.Err) != platform.Forbidden || !strings.HasPrefix(reply.Title, "You cannot ") || !strings.Contains(reply.Title, "your own request") {
			t.Errorf("%s by the requester = %q", text, reply.Title)
		}
	}
}

func TestExtendCommand(t *testing.T) {
	t.Parallel()
	e := newGovEnv(t, commands.Options{})
	e.mustCreate(t, bob, "create postgresql-database name=scratch-db")
	tests := []struct {
		actor platform.Actor
		text  string
		title string
	}{
		{bob, "extend scratch-db", "Use /idp extend <name|#id> <duration>, like /idp extend scratch-db 7d."},
		{bob, "extend scratch-db soon", `"soon" is not a duration; use one like 7d, 36h or 2w.`},
		{carol, "extend 1 1d", `There is no resource "1" that you can see. Try /idp list.`},
		{bob, "extend scratch-db 40d", "scratch-db #1 can be kept at most 30d from now"},
		{bob, "extend scratch-db 2d", "Extended scratch-db #1 by 2d: it now expires 2026-03-11 13:02:"},
	}
	for _, tt := range tests {
		if got := e.run(tt.actor, tt.text).Title; !strings.HasPrefix(got, tt.title) {
			t.Errorf("%s = %q, want %q", tt.text, got, tt.title)
		}
	}
}

func TestAuditCommand(t *testing.T) {
	t.Parallel()
	e := newGovEnv(t, commands.Options{}, platformtest.WithPolicies(warnPolicy{}))
	reply := e.run(bob, "create postgresql-database name=orders-db env=production")
	if reply.Err != nil {
		t.Fatal(reply.Text())
	}
	e.run(approver, "approve 1")
	if err := e.f.Engine.Provision(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	audit := e.run(alice, "audit orders-db")
	text := audit.Text()
	for _, want := range []string{
		"Audit of orders-db #1 (postgresql-database of team payments in production): 7\nevents.",
		"Requested by  bob (console:bob), self-service",
		"History (UTC)",
		"2026-03-02 13:02:01  new → awaiting_approval  console:bob\n      requested by bob; needs 1 approval(s)",
		"  verdict  system:idpbot\n      small-in-production (warn): prefer medium in production",
		"  awaiting_approval → provisioning  console:approver\n      approved by approver (1 of 1); provisioning starts",
		"  step  system:idpbot\n      creating role payments_production_orders_db",
		"  provisioning → ready  system:idpbot\n      ready",
		"  secret  system:idpbot\n      connection details sent to bob privately",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("audit lacks %q:\n%s", want, text)
		}
	}
	if flat := strings.Join(strings.Fields(text), " "); !strings.Contains(flat, "Decisions 2026-03-02 13:02:05 approved by approver (1 of 1); provisioning starts (console:approver)") {
		t.Errorf("audit lacks the decision:\n%s", text)
	}
	if !audit.Ephemeral {
		t.Error("audit is shown to everyone in the channel")
	}
	// Another team's member learns nothing, not even that it exists.
	for _, text := range []string{"audit orders-db", "audit #1", "status #1", "extend #1 1d", "approve #1", "reject #1 no"} {
		reply := e.run(carol, text)
		if platform.ErrorCode(reply.Err) != platform.NotFound || strings.Contains(reply.Title, "payments") || strings.Contains(reply.Title, "production") {
			t.Errorf("%s as carol = %q (%v), want a NotFound that reveals nothing", text, reply.Title, reply.Err)
		}
		if missing := e.run(carol, strings.Replace(strings.Replace(text, "#1", "#99", 1), "orders-db", "nothing-db", 1)).Title; strings.ReplaceAll(strings.ReplaceAll(missing, "#99", "#1"), "nothing-db", "orders-db") != reply.Title {
			t.Errorf("%s as carol = %q differs from a missing resource's %q", text, reply.Title, missing)
		}
	}
}

// warnPolicy warns about small production databases.
type warnPolicy struct{}

func (warnPolicy) Evaluate(_ context.Context, in platform.PolicyInput) ([]platform.Verdict, error) {
	if in.Environment != "production" || in.Parameters["size"] != "small" {
		return nil, nil
	}
	return []platform.Verdict{{Rule: "small-in-production", Outcome: platform.Warn, Message: "prefer medium in production", Field: "size"}}, nil
}

func TestSupportCommand(t *testing.T) {
	t.Parallel()
	store, metrics := &tickets{}, counter{}
	e := newGovEnv(t, commands.Options{Tickets: store, Metrics: metrics})
	tests := []struct {
		text  string
		title string
		code  platform.Code
	}{
		{"support", "What do you need help with? Use /idp support <category> <text>, with a category of access, bug, question, request, other.", platform.Invalid},
		{"support acess cannot log in", `There is no support category "acess". Did you mean access? Categories: access, bug, question, request, other.`, platform.Invalid},
		{"support billing why", `There is no support category "billing". Categories: access, bug, question, request, other.`, platform.Invalid},
		{"support bug", "Describe the problem after the category, like /idp support bug I cannot reach orders-db.", platform.Invalid},
		{"support bug " + strings.Repeat("x", 2001), "The text is 2001 characters long; keep it under 2000, and put details in a link.", platform.Invalid},
		{`support Access "I cannot see" the dashboards`, "Support ticket #1 (access) recorded. The platform team sees it in their support channel and will get back to you.", ""},
	}
	for _, tt := range tests {
		reply := e.router.Handle(context.Background(), commands.Request{Actor: bob, Platform: "slack", Channel: "C1", Text: tt.text, IdempotencyKey: "k1"})
		if reply.Title != tt.title || platform.ErrorCode(reply.Err) != tt.code {
			t.Errorf("%.40s = %q (%v), want %q", tt.text, reply.Title, reply.Err, tt.title)
		}
	}
	want := []commands.Ticket{{ID: 1, Category: "access", Text: "I cannot see the dashboards", Requester: bob, Platform: "slack", Channel: "C1", Teams: []string{"payments"}, IdempotencyKey: "k1"}}
	if diff := cmp.Diff(want, store.list); diff != "" {
		t.Errorf("tickets mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counter{"access": 1}, metrics); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	store.err = errors.New("connection refused")
	if reply := e.run(bob, "support bug broken"); reply.ErrRef == "" || len(store.list) != 1 || metrics["bug"] != 0 {
		t.Errorf("a store failure: %q, %d tickets, %v", reply.Title, len(store.list), metrics)
	}
	custom := newGovEnv(t, commands.Options{SupportCategories: []string{"outage"}})
	if got := custom.run(bob, "support outage down").Title; got != "Support tickets are not set up here; ask the platform team directly." {
		t.Errorf("support without a store = %q", got)
	}
	if got := custom.run(bob, "support bug x").Title; got != `There is no support category "bug". Categories: outage.` {
		t.Errorf("configured categories: %q", got)
	}
}

func TestCreateForTeam(t *testing.T) {
	t.Parallel()
	e := newGovEnv(t, commands.Options{})
	if got := e.run(bob, "create postgresql-database name=x-db --for-team payments").Title; got != "Only platform admins can request on behalf of a team (--for-team); request for one of your teams instead." {
		t.Errorf("member --for-team = %q", got)
	}
	if got := e.run(admin, "create postgresql-database name=x-db team=platform --for-team payments").Title; got != "team=platform and --for-team payments disagree; give the team once." {
		t.Errorf("conflicting teams = %q", got)
	}
	reply := e.run(admin, "create postgresql-database name=x-db --for-team payments")
	if reply.Err != nil || reply.Resource.SelfService || reply.Resource.Team != "payments" || !strings.Contains(reply.Text(), "Requested   by admin on behalf of team payments") {
		t.Fatalf("admin --for-team:\n%s", reply.Text())
	}
	dry := e.run(admin, "create postgresql-database name=y-db --for-team payments --dry-run")
	if !strings.Contains(dry.Text(), "on behalf of team payments (not self-service)") {
		t.Errorf("dry run --for-team:\n%s", dry.Text())
	}
	// An admin who is a member of the team still requests on its behalf.
	org := platformtest.Org()
	org.Admins = append(org.Admins, alice.ID)
	e2 := newGovEnv(t, commands.Options{}, platformtest.WithOrg(org))
	if r := e2.run(alice, "create postgresql-database name=z-db --for-team payments").Resource; r == nil || r.SelfService {
		t.Errorf("member admin --for-team: %+v", r)
	}
	if r := e2.run(alice, "create postgresql-database name=w-db team=payments").Resource; r == nil || !r.SelfService {
		t.Errorf("member admin for their own team: %+v", r)
	}
}

func TestGatewayDependsOnWebApplication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGovEnv(t, commands.Options{}, platformtest.WithDriver("kubernetes", platformtest.NewDriver()))
	form, err := e.router.Form(ctx, bob, "api-gateway")
	if err != nil {
		t.Fatal(err)
	}
	up, _ := form.Field("upstream")
	if up.Kind != platform.KindString || !up.Required || up.Description != "Your teams have no ready web-application yet: create one first (/idp create web-application)" {
		t.Errorf("upstream without web-applications: %+v", up)
	}
	got := e.run(bob, "create api-gateway name=orders-gw env=staging")
	if len(got.Errors) != 1 || got.Errors[0].Field != "upstream" || !strings.Contains(got.Errors[0].Message, "create a web-application in payments/staging first") {
		t.Errorf("gateway without a web-application:\n%s", got.Text())
	}
	e.mustCreate(t, bob, "create web-application name=orders-api env=staging")
	e.mustCreate(t, bob, "create web-application name=shop-api env=development")
	e.mustCreate(t, alice, "create web-application name=infra-api team=platform env=staging")
	for _, tt := range []struct {
		actor platform.Actor
		want  []string
	}{{bob, []string{"orders-api", "shop-api"}}, {alice, []string{"infra-api", "orders-api", "shop-api"}}, {admin, []string{"infra-api", "orders-api", "shop-api"}}, {carol, []string{"infra-api"}}} {
		form, err := e.router.Form(ctx, tt.actor, "api-gateway")
		if err != nil {
			t.Fatal(err)
		}
		up, _ := form.Field("upstream")
		if diff := cmp.Diff(tt.want, up.Options); diff != "" || up.Kind != platform.KindEnum {
			t.Errorf("upstream options for %s (%s) mismatch (-want +got):\n%s", tt.actor.ID, up.Kind, diff)
		}
	}
	bad := e.run(bob, "create api-gateway name=orders-gw env=staging upstream=shop-api")
	if len(bad.Errors) != 1 || bad.Errors[0].Message != `team payments has no web-application "shop-api" in staging (ready: orders-api)` {
		t.Errorf("gateway with an upstream in another environment:\n%s", bad.Text())
	}
	dry := e.run(bob, "create api-gateway name=orders-gw env=staging upstream=orders-api --dry-run")
	if dry.Err != nil || !strings.Contains(dry.Text(), "Depends on   web-application orders-api #1 (ready)") {
		t.Errorf("dry run of a gateway:\n%s", dry.Text())
	}
	e.mustCreate(t, bob, "create api-gateway name=orders-gw env=staging upstream=orders-api")
	for _, text := range []string{"delete orders-api", "delete orders-api --yes"} {
		reply := e.run(bob, text)
		if platform.ErrorCode(reply.Err) != platform.Conflict || reply.Title != "orders-api #1 cannot be deleted: orders-gw #4 (api-gateway) depends on it. Delete it first." {
			t.Errorf("%s = %q", text, reply.Title)
		}
	}
}

func TestEventActionsAndCards(t *testing.T) {
	t.Parallel()
	r := &platform.Resource{ID: 12, Name: "orders-db", Service: "postgresql-database", Team: "payments", Environment: "production",
		Requester: bob, SelfService: true, Parameters: map[string]any{"size": "small"}, CreatedAt: platformtest.Start}
	approve := []commands.Action{{Label: "Approve", Command: "approve 12", Style: "primary"}, {Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"}}
	tests := []struct {
		ev   platform.Event
		want []commands.Action
	}{
		{platform.Event{Kind: platform.EventTransition, To: platform.AwaitingApproval}, approve},
		{platform.Event{Kind: platform.EventReminder}, approve},
		{platform.Event{Kind: platform.EventExpiring}, []commands.Action{{Label: "Extend 7d", Command: "extend 12 7d", Style: "primary"}}},
		{platform.Event{Kind: platform.EventTransition, From: platform.AwaitingApproval, To: platform.Provisioning}, nil},
		{platform.Event{Kind: platform.EventTransition, To: platform.Ready}, nil},
		{platform.Event{Kind: platform.EventNote}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, commands.EventActions(r, tt.ev)); diff != "" {
			t.Errorf("EventActions(%s %s) mismatch (-want +got):\n%s", tt.ev.Kind, tt.ev.To, diff)
		}
	}
	card := commands.ApprovalCard(r, 2, "")
	text := card.Text()
	for _, want := range []string{"Approval needed: orders-db #12, postgresql-database for payments in production", "Requested by  bob (console:bob)", "Approvals     2 approvals needed, never from the requester", "Parameters    size=small", "[Approve] /idp approve 12", "[Reject] /idp reject 12 <reason>"} {
		if !strings.Contains(text, want) {
			t.Errorf("approval card lacks %q:\n%s", want, text)
		}
	}
	if got := commands.ApprovalCard(r, 1, "still awaiting approval after 1d").Title; got != "Reminder: orders-db #12 (postgresql-database for payments in production) still awaiting approval after 1d" {
		t.Errorf("reminder card title = %q", got)
	}
	ticket := commands.TicketCard(commands.Ticket{ID: 7, Category: "access", Text: "cannot log in", Requester: bob, Teams: []string{"payments"}, Platform: "slack", Channel: "C1", CreatedAt: platformtest.Start})
	if got := ticket.Text(); !strings.Contains(got, "Support ticket #7 (access) from bob\n\ncannot log in\n\nFrom      bob (console:bob)\nTeams     payments\nAsked in  slack C1\nAt        2026-03-02 13:02 UTC") {
		t.Errorf("ticket card:\n%s", got)
	}
	// The console's channel is the console itself: it is named once.
	console := commands.TicketCard(commands.Ticket{ID: 8, Category: "bug", Text: "x", Requester: bob, Platform: "console", Channel: "console"})
	if got := console.Text(); !strings.Contains(got, "Asked in  console\n") {
		t.Errorf("console ticket card:\n%s", got)
	}
}
