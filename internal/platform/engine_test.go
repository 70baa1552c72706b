package platform_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

var (
	alice    = platformtest.Alice
	bob      = platformtest.Bob
	carol    = platformtest.Carol
	admin    = platformtest.Admin
	approver = platformtest.Approver
	outsider = platformtest.Outsider
)

func pgRequest(name, team, env string) platform.Request {
	return platform.Request{Service: "postgresql-database", Name: name, Team: team, Environment: env, Origin: platform.Origin{Platform: "console"}}
}

// submit submits a request that must succeed.
func submit(t *testing.T, f *platformtest.Fixture, actor platform.Actor, req platform.Request) *platform.Resource {
	t.Helper()
	r, _, err := f.Engine.Submit(context.Background(), actor, req)
	if err != nil {
		t.Fatalf("Submit(%s %s): %v", req.Service, req.Name, err)
	}
	return r
}

// ready submits and provisions a resource.
func ready(t *testing.T, f *platformtest.Fixture, actor platform.Actor, req platform.Request) *platform.Resource {
	t.Helper()
	r := submit(t, f, actor, req)
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
		t.Fatalf("Provision(#%d): %v", r.ID, err)
	}
	return state(t, f, r.ID, platform.Ready)
}

// state returns resource id, failing unless it is in want.
func state(t *testing.T, f *platformtest.Fixture, id int64, want platform.State) *platform.Resource {
	t.Helper()
	r, err := f.Store.Resource(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != want {
		t.Fatalf("#%d is %s (reason %q), want %s", id, r.State, r.Reason, want)
	}
	return r
}

func count(t *testing.T, f *platformtest.Fixture) int {
	t.Helper()
	rs, err := f.Store.Resources(context.Background(), platform.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

func TestPlanRejectsBadNames(t *testing.T) {
	t.Parallel()
	const shape = "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (like orders-db)"
	tests := []struct{ name, want string }{
		{"", "is required"},
		{"Orders", shape},
		{"orders_db", shape},
		{"-orders", shape},
		{"orders-", shape},
		{"orders db", shape},
		{"x'; DROP TABLE resources; --", shape},
		{`orders"db`, shape},
		{"$(rm -rf /)", shape},
		{"`id`", shape},
		{"a|b&c>d", shape},
		{"orders\ndb", shape},
		{"orders\x00db", shape},
		{"ördërs", shape},
		{"数据库", shape},
		{"🐘", shape},
		{strings.Repeat("a", 64), "must be at most 63 characters (got 64)"},
		{strings.Repeat("x", 10*1024), "must be at most 63 characters (got 10240)"},
	}
	f := platformtest.Engine(t)
	for _, tt := range tests {
		p, err := f.Engine.Plan(context.Background(), alice, pgRequest(tt.name, "payments", "development"))
		if err != nil {
			t.Fatalf("Plan(%.20q): %v", tt.name, err)
		}
		if diff := cmp.Diff([]platform.FieldError{{Field: "name", Message: tt.want}}, p.Errors); diff != "" {
			t.Errorf("Plan(%.20q) errors mismatch (-want +got):\n%s", tt.name, diff)
		}
		_, _, err = f.Engine.Submit(context.Background(), alice, pgRequest(tt.name, "payments", "development"))
		if platform.ErrorCode(err) != platform.Invalid {
			t.Errorf("Submit(%.20q) = %v, want invalid", tt.name, err)
		}
	}
	if n := count(t, f); n != 0 {
		t.Errorf("%d resources recorded after invalid submits, want 0", n)
	}
	for _, good := range []string{"a", "orders-db", "db1", "1db", strings.Repeat("a", 63)} {
		if p, err := f.Engine.Plan(context.Background(), alice, pgRequest(good, "payments", "development")); err != nil || p.Err() != nil {
			t.Errorf("Plan(%q) = %v, %v; want valid", good, err, p.Err())
		}
	}
}

func TestPlanTeamAndEnvironment(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	tests := []struct {
		desc     string
		actor    platform.Actor
		req      platform.Request
		want     []platform.FieldError
		team     string
		env      string
		selfServ bool
	}{
		{desc: "member", actor: bob, req: pgRequest("db", "payments", "staging"), team: "payments", env: "staging", selfServ: true},
		{desc: "not a member", actor: bob, req: pgRequest("db", "platform", "staging"),
			want: []platform.FieldError{{Field: "team", Message: "you are not in team platform"}}},
		{desc: "member by email", actor: carol, req: pgRequest("db", "platform", "staging"), team: "platform", env: "staging", selfServ: true},
		{desc: "only team is the default", actor: bob, req: pgRequest("db", "", ""), team: "payments", env: "development", selfServ: true},
		{desc: "two teams need a choice", actor: alice, req: pgRequest("db", "", "staging"),
			want: []platform.FieldError{{Field: "team", Message: "is required (one of payments, platform)"}}},
		{desc: "no team at all", actor: outsider, req: pgRequest("db", "", "staging"),
			want: []platform.FieldError{{Field: "team", Message: "you are not a member of any team; ask the platform team to add you"}}},
		{desc: "typo in team", actor: alice, req: pgRequest("db", "paymnts", "staging"),
			want: []platform.FieldError{{Field: "team", Message: `there is no team "paymnts" (did you mean payments?)`}}},
		{desc: "admin for any team", actor: admin, req: pgRequest("db", "payments", "staging"), team: "payments", env: "staging", selfServ: false},
		{desc: "on behalf needs admin", actor: bob, req: func() platform.Request { r := pgRequest("db", "payments", "staging"); r.OnBehalf = true; return r }(),
			want: []platform.FieldError{{Field: "team", Message: "only platform admins may act on behalf of a team"}}},
		{desc: "unknown environment with did-you-mean", actor: bob, req: pgRequest("db", "payments", "prod"),
			want: []platform.FieldError{{Field: "environment", Message: `there is no environment "prod" (did you mean production?)`}}},
		{desc: "unknown environment", actor: bob, req: pgRequest("db", "payments", "qa"),
			want: []platform.FieldError{{Field: "environment", Message: `there is no environment "qa" (one of development, staging, production)`}}},
		{desc: "every field wrong", actor: bob, req: platform.Request{Service: "postgresql-database", Name: "DB", Team: "platform", Environment: "qa",
			Parameters: map[string]any{"backup_retention_days": int64(99)}},
			want: []platform.FieldError{
				{Field: "name", Message: "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (like orders-db)"},
				{Field: "team", Message: "you are not in team platform"},
				{Field: "environment", Message: `there is no environment "qa" (one of development, staging, production)`},
				{Field: "backup_retention_days", Message: "must be 1–35 (got 99)"},
			}},
		{desc: "unknown parameter", actor: bob, req: platform.Request{Service: "postgresql-database", Name: "db", Team: "payments", Environment: "staging",
			Parameters: map[string]any{"sise": "large"}},
			want: []platform.FieldError{{Field: "sise", Message: "is not a parameter of postgresql-database (did you mean size?)"}}},
	}
	for _, tt := range tests {
		p, err := f.Engine.Plan(context.Background(), tt.actor, tt.req)
		if err != nil {
			t.Fatalf("%s: Plan: %v", tt.desc, err)
		}
		if diff := cmp.Diff(tt.want, p.Errors); diff != "" {
			t.Errorf("%s: errors mismatch (-want +got):\n%s", tt.desc, diff)
		}
		if tt.want != nil {
			if platform.ErrorCode(p.Err()) != platform.Invalid {
				t.Errorf("%s: Err() = %v, want invalid", tt.desc, p.Err())
			}
			continue
		}
		if p.Resource.Team != tt.team || p.Resource.Environment != tt.env || p.Resource.SelfService != tt.selfServ {
			t.Errorf("%s: resource team %q env %q self-service %v; want %q %q %v", tt.desc, p.Resource.Team, p.Resource.Environment, p.Resource.SelfService, tt.team, tt.env, tt.selfServ)
		}
	}
	if n := count(t, f); n != 0 {
		t.Errorf("Plan recorded %d resources, want 0", n)
	}
}

func TestPlanReportsQuotaApprovalsAndDefaults(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	ready(t, f, bob, pgRequest("one", "payments", "development"))
	p, err := f.Engine.Plan(context.Background(), bob, platform.Request{Service: "postgresql-database", Name: "two", Team: "payments", Environment: "production",
		Parameters: map[string]any{"high_availability": true}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Err() != nil {
		t.Fatalf("Plan.Err() = %v", p.Err())
	}
	if p.Usage != 1 || p.Quota != 5 || !p.HasQuota || p.Approvals != 1 || p.Driver != "postgres" {
		t.Errorf("plan usage %d quota %d/%v approvals %d driver %q; want 1, 5/true, 1, postgres", p.Usage, p.Quota, p.HasQuota, p.Approvals, p.Driver)
	}
	wantParams := map[string]any{"size": "small", "high_availability": true, "backup_retention_days": int64(7)}
	if diff := cmp.Diff(wantParams, p.Resource.Parameters); diff != "" {
		t.Errorf("parameters mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]platform.Verdict{{Rule: "quota", Outcome: platform.Allow, Field: "team", Message: "payments: 1 of 5 postgresql-database"}}, p.Verdicts); diff != "" {
		t.Errorf("verdicts mismatch (-want +got):\n%s", diff)
	}
	dev, err := f.Engine.Plan(context.Background(), bob, pgRequest("three", "payments", "development"))
	if err != nil {
		t.Fatal(err)
	}
	if want := dev.Resource.CreatedAt; !want.IsZero() {
		t.Errorf("a plan has a creation time %v", want)
	}
	if dev.Resource.ExpiresAt.IsZero() || dev.Approvals != 0 {
		t.Errorf("development plan: expires %v approvals %d; want a TTL and no approval", dev.Resource.ExpiresAt, dev.Approvals)
	}
}

func TestPlanUnavailable(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	web := platform.Request{Service: "web-application", Name: "shop", Team: "payments", Environment: "development"}
	p, err := f.Engine.Plan(context.Background(), bob, web)
	if err != nil {
		t.Fatal(err)
	}
	const want = "web-application is unavailable: no kubernetes target configured"
	if platform.ErrorCode(p.Err()) != platform.Unavailable || platform.ErrorMessage(p.Err()) != want {
		t.Errorf("Plan(web-application).Err() = %v, want unavailable %q", p.Err(), want)
	}
	if _, _, err := f.Engine.Submit(context.Background(), bob, web); platform.ErrorMessage(err) != want {
		t.Errorf("Submit(web-application) = %v, want %q", err, want)
	}
	svc, _ := f.Engine.Catalog().Lookup("web-application")
	if err := f.Engine.Availability(svc); platform.ErrorMessage(err) != want {
		t.Errorf("Availability(web-application) = %v, want %q", err, want)
	}
	pg, _ := f.Engine.Catalog().Lookup("postgresql-database")
	if err := f.Engine.Availability(pg); err != nil {
		t.Errorf("Availability(postgresql-database) = %v, want nil", err)
	}
	f.Driver.SetUnavailable("no postgres target configured")
	if err := f.Engine.Availability(pg); platform.ErrorMessage(err) != "postgresql-database is unavailable: no postgres target configured" {
		t.Errorf("Availability with an unavailable driver = %v", err)
	}
	if n := count(t, f); n != 0 {
		t.Errorf("%d resources recorded, want 0", n)
	}
}

func TestSubmitUnknownService(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	_, _, err := f.Engine.Submit(context.Background(), bob, platform.Request{Service: "postgres", Name: "db", Team: "payments"})
	if platform.ErrorCode(err) != platform.NotFound || !strings.Contains(err.Error(), "Did you mean postgresql-database?") {
		t.Errorf("Submit(postgres) = %v, want NotFound with a suggestion", err)
	}
}

func TestSubmitQuota(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	for i := range 5 {
		submit(t, f, bob, pgRequest(fmt.Sprintf("db%d", i), "payments", "development"))
	}
	_, p, err := f.Engine.Submit(context.Background(), bob, pgRequest("db5", "payments", "development"))
	if platform.ErrorCode(err) != platform.Forbidden {
		t.Fatalf("sixth Submit = %v, want forbidden", err)
	}
	want := []platform.FieldError{{Field: "team", Message: "team payments has 5 of 5 postgresql-database", Rule: "quota"}}
	if diff := cmp.Diff(want, platform.ErrorFields(err)); diff != "" {
		t.Errorf("denial mismatch (-want +got):\n%s", diff)
	}
	if p == nil || p.Usage != 5 || len(p.Denials()) != 1 {
		t.Errorf("plan of the denied request = %+v, want usage 5 and one denial", p)
	}
	// Another team's quota is its own.
	submit(t, f, alice, pgRequest("db5", "platform", "development"))
	// Deleting frees a slot.
	r := state(t, f, 1, platform.Pending)
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Engine.Delete(context.Background(), bob, "#1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Engine.Submit(context.Background(), bob, pgRequest("db5", "payments", "development")); platform.ErrorCode(err) != platform.Forbidden {
		t.Errorf("Submit while #1 is deleting = %v, want forbidden (deleting still counts)", err)
	}
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	submit(t, f, bob, pgRequest("db5", "payments", "development"))
}

func TestSubmitTeamQuotaOverride(t *testing.T) {
	t.Parallel()
	org := platformtest.Org()
	org.Teams[0].Quotas = map[string]int{"postgresql-database": 1}
	f := platformtest.Engine(t, platformtest.WithOrg(org))
	submit(t, f, bob, pgRequest("db1", "payments", "development"))
	_, _, err := f.Engine.Submit(context.Background(), bob, pgRequest("db2", "payments", "development"))
	if got := platform.ErrorFields(err); len(got) != 1 || got[0].Message != "team payments has 1 of 1 postgresql-database" {
		t.Errorf("Submit over an overridden quota = %v", err)
	}
}

func TestSubmitConcurrentNeverExceedsQuota(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		denied  int
	)
	for i := range n {
		wg.Go(func() {
			_, _, err := f.Engine.Submit(context.Background(), bob, pgRequest(fmt.Sprintf("db%d", i), "payments", "development"))
			mu.Lock()
			defer mu.Unlock()
			switch platform.ErrorCode(err) {
			case "":
				created++
			case platform.Forbidden:
				denied++
			default:
				t.Errorf("Submit: %v", err)
			}
		})
	}
	wg.Wait()
	if created != 5 || denied != n-5 {
		t.Errorf("created %d, denied %d; want 5 and %d", created, denied, n-5)
	}
	if u, _ := f.Store.Usage(context.Background(), "payments", "postgresql-database"); u != 5 {
		t.Errorf("usage = %d, want 5", u)
	}
}

func TestSubmitDuplicateName(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	first := submit(t, f, bob, pgRequest("orders-db", "payments", "development"))
	_, _, err := f.Engine.Submit(context.Background(), bob, pgRequest("orders-db", "payments", "development"))
	if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != "team payments already has a postgresql-database called orders-db in development (#1)" {
		t.Errorf("duplicate Submit = %v", err)
	}
	// The same name is fine in another environment or team.
	submit(t, f, bob, pgRequest("orders-db", "payments", "staging"))
	submit(t, f, alice, pgRequest("orders-db", "platform", "development"))
	// And again once the first is gone.
	if err := f.Engine.Provision(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Engine.Delete(context.Background(), bob, "#1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Deprovision(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	submit(t, f, bob, pgRequest("orders-db", "payments", "development"))
}

func TestSubmitRecordsRequest(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := submit(t, f, bob, platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments", Environment: "production",
		Parameters: map[string]any{"high_availability": true, "size": "large"}, Origin: platform.Origin{Platform: "slack", Channel: "C1"}})
	got := state(t, f, r.ID, platform.AwaitingApproval)
	want := &platform.Resource{
		ID: 1, Service: "postgresql-database", ServiceType: "database", Name: "orders-db", Team: "payments", Environment: "production",
		Parameters: map[string]any{"size": "large", "high_availability": true, "backup_retention_days": int64(7)},
		State:      platform.AwaitingApproval, Requester: bob, SelfService: true, Origin: platform.Origin{Platform: "slack", Channel: "C1"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(platform.Resource{}, "CreatedAt", "UpdatedAt")); diff != "" {
		t.Errorf("resource mismatch (-want +got):\n%s", diff)
	}
	evs, _ := f.Store.Events(context.Background(), r.ID)
	wantEv := []platform.Event{{ID: 1, ResourceID: 1, Actor: bob, Kind: platform.EventTransition, To: platform.AwaitingApproval, Message: "requested by bob; needs 1 approval(s)"}}
	if diff := cmp.Diff(wantEv, evs, cmpopts.IgnoreFields(platform.Event{}, "At")); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	// An approval-waiting request is not provisioned by a stray job.
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil || f.Driver.Count(platformtest.OpProvision) != 0 {
		t.Errorf("Provision(awaiting approval) = %v with %d driver calls; want nil and none", err, f.Driver.Count(platformtest.OpProvision))
	}
}

type policyFunc func(platform.PolicyInput) ([]platform.Verdict, error)

func (p policyFunc) Evaluate(_ context.Context, in platform.PolicyInput) ([]platform.Verdict, error) {
	return p(in)
}

func TestSubmitPolicies(t *testing.T) {
	t.Parallel()
	ha := policyFunc(func(in platform.PolicyInput) ([]platform.Verdict, error) {
		if in.Environment != "production" {
			return nil, nil
		}
		v := platform.Verdict{Rule: "production-high-availability", Outcome: platform.Allow, Field: "high_availability"}
		if in.Parameters["high_availability"] != true {
			v.Outcome, v.Message = platform.Deny, "Production resources must have high_availability enabled"
		}
		return []platform.Verdict{v}, nil
	})
	warn := policyFunc(func(in platform.PolicyInput) ([]platform.Verdict, error) {
		return []platform.Verdict{{Rule: "size-advice", Outcome: platform.Warn, Message: "large is expensive", Field: "size"}}, nil
	})
	f := platformtest.Engine(t, platformtest.WithPolicies(ha, warn))
	_, _, err := f.Engine.Submit(context.Background(), bob, pgRequest("db", "payments", "production"))
	want := []platform.FieldError{{Field: "high_availability", Message: "Production resources must have high_availability enabled", Rule: "production-high-availability"}}
	if platform.ErrorCode(err) != platform.Forbidden || !cmp.Equal(want, platform.ErrorFields(err)) {
		t.Errorf("Submit without HA in production = %v, want %v", err, want)
	}
	r := submit(t, f, bob, pgRequest("db", "payments", "development"))
	evs, _ := f.Store.Events(context.Background(), r.ID)
	if len(evs) != 2 || evs[1].Kind != platform.EventVerdict || evs[1].Message != "size-advice (warn): large is expensive" {
		t.Errorf("events = %+v, want the warning recorded", evs)
	}

	broken := policyFunc(func(platform.PolicyInput) ([]platform.Verdict, error) { return nil, errors.New("cel: boom") })
	g := platformtest.Engine(t, platformtest.WithPolicies(broken))
	if _, _, err := g.Engine.Submit(context.Background(), bob, pgRequest("db", "payments", "development")); platform.ErrorCode(err) != platform.Internal {
		t.Errorf("Submit with a broken policy = %v, want internal", err)
	}
	if platform.ErrorMessage(errors.New("cel: boom")) != "Something went wrong" {
		t.Error("an internal error's text reaches users")
	}
}

func TestSubmitStoreDown(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	f.Store.Fail = func(string) error { return errors.New("dial tcp 127.0.0.1:5432: connection refused") }
	_, _, err := f.Engine.Submit(context.Background(), bob, pgRequest("db", "payments", "development"))
	if platform.ErrorCode(err) != platform.Internal || platform.ErrorMessage(err) != "Something went wrong" {
		t.Errorf("Submit with the store down = %v (%s)", err, platform.ErrorCode(err))
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	pay := submit(t, f, bob, pgRequest("orders-db", "payments", "development"))
	plat := submit(t, f, alice, pgRequest("metrics-db", "platform", "development"))
	submit(t, f, bob, pgRequest("shared", "payments", "development"))
	submit(t, f, bob, pgRequest("shared", "payments", "staging"))
	tests := []struct {
		actor   platform.Actor
		ref     string
		want    int64
		code    platform.Code
		message string
	}{
		{actor: bob, ref: "#1", want: pay.ID},
		{actor: bob, ref: "1", want: pay.ID},
		{actor: bob, ref: " orders-db ", want: pay.ID},
		{actor: alice, ref: "orders-db", want: pay.ID},
		{actor: admin, ref: "metrics-db", want: plat.ID},
		{actor: approver, ref: "#2", want: plat.ID},
		{actor: bob, ref: "#2", code: platform.NotFound, message: `There is no resource "#2" that you can see. Try /idp list.`},
		{actor: bob, ref: "metrics-db", code: platform.NotFound, message: `There is no resource "metrics-db" that you can see. Try /idp list.`},
		{actor: carol, ref: "orders-db", code: platform.NotFound},
		{actor: outsider, ref: "#1", code: platform.NotFound},
		{actor: outsider, ref: "orders-db", code: platform.NotFound},
		{actor: bob, ref: "#99", code: platform.NotFound},
		{actor: bob, ref: "#-1", code: platform.NotFound},
		{actor: bob, ref: "x'; DROP TABLE resources; --", code: platform.NotFound},
		{actor: bob, ref: strings.Repeat("a", 10000), code: platform.NotFound},
		{actor: bob, ref: "", code: platform.Invalid, message: "Which resource? Give its name or #id."},
		{actor: bob, ref: "shared", code: platform.Conflict, message: "Several resources are called shared: #4 (postgresql-database, payments/staging), #3 (postgresql-database, payments/development). Use the #id."},
	}
	for _, tt := range tests {
		r, err := f.Engine.Find(context.Background(), tt.actor, tt.ref)
		if tt.code != "" {
			if platform.ErrorCode(err) != tt.code || tt.message != "" && platform.ErrorMessage(err) != tt.message {
				t.Errorf("Find(%s, %.20q) = %v, %v; want %s %q", tt.actor.Name, tt.ref, r, err, tt.code, tt.message)
			}
			continue
		}
		if err != nil || r.ID != tt.want {
			t.Errorf("Find(%s, %q) = %v, %v; want #%d", tt.actor.Name, tt.ref, r, err, tt.want)
		}
	}
}

func TestFindDeletedByName(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := ready(t, f, bob, pgRequest("old-db", "payments", "development"))
	if _, err := f.Engine.Delete(context.Background(), bob, "old-db"); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.Engine.Find(context.Background(), bob, "old-db")
	if err != nil || got.ID != r.ID || got.State != platform.Deleted {
		t.Errorf("Find(deleted name) = %v, %v; want #%d deleted", got, err, r.ID)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	a := ready(t, f, bob, pgRequest("a", "payments", "development"))
	submit(t, f, alice, pgRequest("b", "payments", "staging"))
	submit(t, f, alice, pgRequest("c", "platform", "development"))
	if _, err := f.Engine.Delete(context.Background(), bob, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Deprovision(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	names := func(rs []*platform.Resource) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	tests := []struct {
		actor platform.Actor
		opts  platform.ListOptions
		want  []string
		code  platform.Code
	}{
		{actor: alice, want: []string{"c", "b"}},
		{actor: alice, opts: platform.ListOptions{All: true}, want: []string{"c", "b", "a"}},
		{actor: bob, want: []string{"b"}},
		{actor: bob, opts: platform.ListOptions{Mine: true, All: true}, want: []string{"a"}},
		{actor: alice, opts: platform.ListOptions{Team: "platform"}, want: []string{"c"}},
		{actor: alice, opts: platform.ListOptions{Environment: "staging"}, want: []string{"b"}},
		{actor: alice, opts: platform.ListOptions{Limit: 1}, want: []string{"c"}},
		{actor: admin, want: []string{"c", "b"}},
		{actor: bob, opts: platform.ListOptions{Team: "platform"}, code: platform.Forbidden},
		{actor: outsider, want: nil},
	}
	for _, tt := range tests {
		rs, err := f.Engine.List(context.Background(), tt.actor, tt.opts)
		if platform.ErrorCode(err) != tt.code {
			t.Errorf("List(%s, %+v) error = %v, want code %q", tt.actor.Name, tt.opts, err, tt.code)
			continue
		}
		if diff := cmp.Diff(tt.want, names(rs)); diff != "" {
			t.Errorf("List(%s, %+v) mismatch (-want +got):\n%s", tt.actor.Name, tt.opts, diff)
		}
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	pending := submit(t, f, bob, pgRequest("pending-db", "payments", "development"))
	r := ready(t, f, bob, pgRequest("orders-db", "payments", "development"))
	prod := submit(t, f, bob, platform.Request{Service: "postgresql-database", Name: "prod-db", Team: "payments", Environment: "production"})
	tests := []struct {
		actor   platform.Actor
		ref     string
		code    platform.Code
		message string
	}{
		{bob, pending.Ref(), platform.Conflict, "pending-db #1 is pending; delete it once it is ready or failed."},
		{bob, prod.Ref(), platform.Conflict, "prod-db #3 is awaiting_approval; delete it once it is ready or failed."},
		{carol, "orders-db", platform.NotFound, `There is no resource "orders-db" that you can see. Try /idp list.`},
		{approver, "orders-db", platform.Forbidden, "You are not in team payments, which owns orders-db."},
		{outsider, "#2", platform.NotFound, `There is no resource "#2" that you can see. Try /idp list.`},
	}
	for _, tt := range tests {
		_, err := f.Engine.Delete(context.Background(), tt.actor, tt.ref)
		if platform.ErrorCode(err) != tt.code || platform.ErrorMessage(err) != tt.message {
			t.Errorf("Delete(%s, %s) = %v, want %s %q", tt.actor.Name, tt.ref, err, tt.code, tt.message)
		}
	}
	state(t, f, r.ID, platform.Ready)
	got, err := f.Engine.Delete(context.Background(), bob, "orders-db")
	if err != nil || got.State != platform.Deleting {
		t.Fatalf("Delete(orders-db) = %v, %v; want deleting", got, err)
	}
	if _, err := f.Engine.Delete(context.Background(), bob, "#2"); platform.ErrorMessage(err) != "orders-db #2 is already being deleted." {
		t.Errorf("second Delete = %v", err)
	}
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Engine.Delete(context.Background(), bob, "#2"); platform.ErrorMessage(err) != "orders-db #2 is already deleted." {
		t.Errorf("Delete after deletion = %v", err)
	}
	evs, _ := f.Store.Events(context.Background(), r.ID)
	var last platform.Event
	for _, ev := range evs {
		if ev.To == platform.Deleting {
			last = ev
		}
	}
	if !cmp.Equal(last.Actor, bob) || last.From != platform.Ready || last.To != platform.Deleting || last.Message != "deletion requested by bob" {
		t.Errorf("deletion event = %+v", last)
	}
	// Admins may delete any team's resource.
	other := ready(t, f, alice, pgRequest("metrics-db", "platform", "development"))
	if _, err := f.Engine.Delete(context.Background(), admin, other.Ref()); err != nil {
		t.Errorf("admin Delete = %v", err)
	}
}

func TestProvisionLifecycle(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := submit(t, f, bob, platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments", Environment: "development",
		Parameters: map[string]any{"size": "medium"}})
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	got := state(t, f, r.ID, platform.Ready)
	wantOut := map[string]string{"host": "127.0.0.1", "port": "5432", "database": "payments_development_orders_db", "username": "payments_development_orders_db"}
	if diff := cmp.Diff(wantOut, got.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	if got.ReadyAt.IsZero() || got.ProvisionDuration() <= 0 {
		t.Errorf("ReadyAt %v, duration %v; want set and positive", got.ReadyAt, got.ProvisionDuration())
	}
	calls := f.Driver.Calls()
	wantCalls := []platformtest.Call{{Op: platformtest.OpProvision, ResourceID: 1, Service: "postgresql-database", Name: "orders-db", Team: "payments", Environment: "development",
		Parameters: map[string]any{"size": "medium", "high_availability": false, "backup_retention_days": int64(7)}}}
	if diff := cmp.Diff(wantCalls, calls, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("driver calls mismatch (-want +got):\n%s", diff)
	}
	evs, err := f.Store.Events(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Kind     platform.EventKind
		From, To platform.State
		Message  string
	}
	var lines []line
	for _, ev := range evs {
		lines = append(lines, line{ev.Kind, ev.From, ev.To, ev.Message})
	}
	wantLines := []line{
		{platform.EventTransition, "", platform.Pending, "requested by bob"},
		{platform.EventTransition, platform.Pending, platform.Provisioning, "provisioning started"},
		{platform.EventStep, "", "", "creating role payments_development_orders_db"},
		{platform.EventStep, "", "", "creating database payments_development_orders_db"},
		{platform.EventTransition, platform.Provisioning, platform.Ready, "ready"},
		{platform.EventSecret, "", "", ""},
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	secret := evs[len(evs)-1]
	if len(secret.Sealed) == 0 || bytes.Contains(secret.Sealed, []byte("pw-1-orders-db")) {
		t.Errorf("sealed secret %q is empty or holds the password in plain text", secret.Sealed)
	}
	opened, err := f.Engine.Secrets(secret)
	if err != nil {
		t.Fatal(err)
	}
	wantSecrets := map[string]string{"password": "pw-1-orders-db", "url": "postgres://payments_development_orders_db:pw-1-orders-db@127.0.0.1:5432/payments_development_orders_db?sslmode=disable"}
	if diff := cmp.Diff(wantSecrets, opened); diff != "" {
		t.Errorf("opened secrets mismatch (-want +got):\n%s", diff)
	}
	moved := secret
	moved.ResourceID = 2
	if _, err := f.Engine.Secrets(moved); err == nil {
		t.Error("a secret sealed for #1 opened as #2's")
	}
	// Provisioning a ready resource again does nothing.
	if err := f.Engine.Provision(context.Background(), r.ID); err != nil || f.Driver.Count(platformtest.OpProvision) != 1 {
		t.Errorf("second Provision = %v with %d driver calls; want nil and 1", err, f.Driver.Count(platformtest.OpProvision))
	}
}

func TestProvisionFailures(t *testing.T) {
	t.Parallel()
	t.Run("permanent", func(t *testing.T) {
		t.Parallel()
		f := platformtest.Engine(t)
		f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the postgres target refused: permission denied to create role"), 1)
		r := submit(t, f, bob, pgRequest("db", "payments", "development"))
		if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
			t.Fatalf("Provision = %v, want nil (the failure is recorded)", err)
		}
		got := state(t, f, r.ID, platform.Failed)
		if got.Reason != "the postgres target refused: permission denied to create role" {
			t.Errorf("reason = %q", got.Reason)
		}
		if u, _ := f.Store.Usage(context.Background(), "payments", "postgresql-database"); u != 0 {
			t.Errorf("a failed resource counts towards the quota: usage %d", u)
		}
	})
	t.Run("transient then resumed", func(t *testing.T) {
		t.Parallel()
		f := platformtest.Engine(t)
		f.Driver.Fail(platformtest.OpProvision, platformtest.Transient("dial tcp: connection refused"), 1)
		r := submit(t, f, bob, pgRequest("db", "payments", "development"))
		err := f.Engine.Provision(context.Background(), r.ID)
		if err == nil || platform.IsPermanent(err) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Provision = %v, want a transient error", err)
		}
		state(t, f, r.ID, platform.Provisioning)
		if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
			t.Fatal(err)
		}
		state(t, f, r.ID, platform.Ready)
		evs, _ := f.Store.Events(context.Background(), r.ID)
		var resumed int
		for _, ev := range evs {
			if ev.Message == "resuming provisioning" {
				resumed++
			}
		}
		if resumed != 1 || f.Driver.Count(platformtest.OpProvision) != 2 {
			t.Errorf("resumed %d times with %d driver calls; want 1 and 2", resumed, f.Driver.Count(platformtest.OpProvision))
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		f := platformtest.Engine(t)
		release := f.Driver.Hold()
		defer release()
		r := submit(t, f, bob, pgRequest("db", "payments", "development"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Engine.Provision(ctx, r.ID) }()
		f.Driver.WaitCalls(t, platformtest.OpProvision, 1, 5*time.Second)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Provision after cancel = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Provision did not return after cancel")
		}
		state(t, f, r.ID, platform.Provisioning)
	})
	t.Run("driver unavailable", func(t *testing.T) {
		t.Parallel()
		f := platformtest.Engine(t)
		r := submit(t, f, bob, pgRequest("db", "payments", "development"))
		f.Driver.SetUnavailable("no postgres target configured")
		if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
			t.Fatal(err)
		}
		if got := state(t, f, r.ID, platform.Failed); got.Reason != "postgresql-database is unavailable: no postgres target configured" {
			t.Errorf("reason = %q", got.Reason)
		}
	})
	t.Run("no sealer", func(t *testing.T) {
		t.Parallel()
		f := platformtest.Engine(t, platformtest.WithoutSealer())
		r := submit(t, f, bob, pgRequest("db", "payments", "development"))
		if err := f.Engine.Provision(context.Background(), r.ID); err != nil {
			t.Fatal(err)
		}
		if got := state(t, f, r.ID, platform.Failed); got.Reason != "connection details could not be delivered: no secret key configured" {
			t.Errorf("reason = %q", got.Reason)
		}
	})
	t.Run("fail is idempotent", func(t *testing.T) {
		t.Parallel()
		f := platformtest.Engine(t)
		r := ready(t, f, bob, pgRequest("db", "payments", "development"))
		if err := f.Engine.Fail(context.Background(), r.ID, "late failure"); err != nil {
			t.Errorf("Fail(ready) = %v, want nil", err)
		}
		state(t, f, r.ID, platform.Ready)
	})
}

func TestDeprovision(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := ready(t, f, bob, pgRequest("db", "payments", "development"))
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil || f.Driver.Count(platformtest.OpDeprovision) != 0 {
		t.Errorf("Deprovision(ready) = %v with %d calls; want nil and none", err, f.Driver.Count(platformtest.OpDeprovision))
	}
	if _, err := f.Engine.Delete(context.Background(), bob, "db"); err != nil {
		t.Fatal(err)
	}
	f.Driver.Fail(platformtest.OpDeprovision, platformtest.Transient("timeout"), 1)
	if err := f.Engine.Deprovision(context.Background(), r.ID); err == nil {
		t.Fatal("Deprovision with a transient failure = nil")
	}
	state(t, f, r.ID, platform.Deleting)
	if err := f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	state(t, f, r.ID, platform.Deleted)
	if n := f.Driver.Count(platformtest.OpDeprovision); n != 2 {
		t.Errorf("%d deprovision calls, want 2", n)
	}

	g := platformtest.Engine(t)
	r2 := ready(t, g, bob, pgRequest("db", "payments", "development"))
	g.Driver.Fail(platformtest.OpDeprovision, platformtest.Permanent("database is in use by a replication slot"), 1)
	if _, err := g.Engine.Delete(context.Background(), bob, "db"); err != nil {
		t.Fatal(err)
	}
	if err := g.Engine.Deprovision(context.Background(), r2.ID); err != nil {
		t.Fatal(err)
	}
	if got := state(t, g, r2.ID, platform.Failed); got.Reason != "deprovisioning failed: database is in use by a replication slot" {
		t.Errorf("reason = %q", got.Reason)
	}
	// A failed deletion may be retried.
	if _, err := g.Engine.Delete(context.Background(), bob, "db"); err != nil {
		t.Errorf("Delete(failed) = %v", err)
	}
}

func TestDriverTimeout(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	f.Driver.AttemptTimeout = 42 * time.Second
	r := submit(t, f, bob, pgRequest("db", "payments", "development"))
	if got := f.Engine.DriverTimeout(context.Background(), r.ID, time.Minute); got != 42*time.Second {
		t.Errorf("DriverTimeout = %v, want 42s", got)
	}
	if got := f.Engine.DriverTimeout(context.Background(), 99, time.Minute); got != time.Minute {
		t.Errorf("DriverTimeout(unknown) = %v, want the fallback", got)
	}
}

func TestSubmitIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	req := pgRequest("db", "payments", "development")
	req.IdempotencyKey = "view-V123"
	first := submit(t, f, bob, req)
	again, p, err := f.Engine.Submit(context.Background(), bob, req)
	if err != nil || again.ID != first.ID || p != nil {
		t.Errorf("resubmit = #%v, %v, %v; want #%d, nil plan, nil", again, p, err, first.ID)
	}
	if n := count(t, f); n != 1 {
		t.Errorf("%d resources after a redelivered submit, want 1", n)
	}
}

// envDriver is a driver with a target for some environments only.
type envDriver struct {
	*platformtest.Driver
	targets map[string]bool
}

func (d envDriver) CheckEnvironment(env string) error {
	if !d.targets[env] {
		return platform.Errorf(platform.Unavailable, "no test target configured for %s", env)
	}
	return nil
}

func TestPlanRefusesAnEnvironmentWithoutTarget(t *testing.T) {
	t.Parallel()
	d := envDriver{Driver: platformtest.NewDriver(), targets: map[string]bool{"development": true}}
	f := platformtest.Engine(t, platformtest.WithDriver("postgres", d))
	ctx := context.Background()
	req := platform.Request{Service: "postgresql-database", Name: "env-db", Team: "payments", Environment: "staging"}
	p, err := f.Engine.Plan(ctx, platformtest.Bob, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := platform.ErrorMessage(p.Err()); !strings.Contains(got, "unavailable in staging: no test target configured for staging") {
		t.Errorf("Plan in staging: Err = %q, want it unavailable in staging", got)
	}
	req.Environment = "development"
	if p, err = f.Engine.Plan(ctx, platformtest.Bob, req); err != nil || p.Err() != nil {
		t.Errorf("Plan in development = %v, %v; want allowed", err, p.Err())
	}
	svc, _ := f.Engine.Catalog().Lookup("postgresql-database")
	if err := f.Engine.Availability(svc); err != nil {
		t.Errorf("Availability = %v, want available (development has a target)", err)
	}
}
