package platform_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// withKubernetes makes web-application and api-gateway available.
func withKubernetes(t *testing.T) *platformtest.Fixture {
	t.Helper()
	return platformtest.Engine(t, platformtest.WithDriver("kubernetes", platformtest.NewDriver()))
}

func gateway(name, upstream, env string) platform.Request {
	req := platform.Request{Service: "api-gateway", Name: name, Team: "payments", Environment: env, Parameters: map[string]any{}}
	if upstream != "" {
		req.Parameters["upstream"] = upstream
	}
	return req
}

func webapp(name, team, env string) platform.Request {
	return platform.Request{Service: "web-application", Name: name, Team: team, Environment: env}
}

func TestPlanDependencies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := withKubernetes(t)
	ready(t, f, bob, webapp("orders-api", "payments", "staging"))
	ready(t, f, alice, webapp("infra-api", "platform", "staging"))
	submit(t, f, bob, webapp("slow-api", "payments", "staging")) // pending, not ready
	tests := []struct {
		name string
		req  platform.Request
		want []platform.FieldError
	}{
		{"no web-application in that environment", gateway("orders-gw", "orders-api", "development"), []platform.FieldError{{Field: "upstream", Rule: "dependencies",
			Message: "api-gateway depends on web-application, and team payments has no ready web-application in development: create a web-application in payments/development first"}}},
		{"upstream missing", gateway("orders-gw", "", "staging"), []platform.FieldError{{Field: "upstream", Rule: "dependencies",
			Message: "is required: the web-application of team payments in staging this api-gateway fronts (one of orders-api)"}}},
		{"upstream names none", gateway("orders-gw", "order-api", "staging"), []platform.FieldError{{Field: "upstream", Rule: "dependencies",
			Message: `team payments has no web-application "order-api" in staging (ready: orders-api); did you mean orders-api?`}}},
		{"another team's web-application", gateway("orders-gw", "infra-api", "staging"), []platform.FieldError{{Field: "upstream", Rule: "dependencies",
			Message: `team payments has no web-application "infra-api" in staging (ready: orders-api)`}}},
		{"upstream not ready yet", gateway("orders-gw", "slow-api", "staging"), []platform.FieldError{{Field: "upstream", Rule: "dependencies",
			Message: "web-application slow-api #3 is pending; wait until it is ready"}}},
		{"ready upstream", gateway("orders-gw", "orders-api", "staging"), nil},
	}
	for _, tt := range tests {
		p, err := f.Engine.Plan(ctx, bob, tt.req)
		if err != nil {
			t.Fatalf("%s: Plan = %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, p.Errors); diff != "" {
			t.Errorf("%s: errors mismatch (-want +got):\n%s", tt.name, diff)
		}
		if tt.want == nil && (p.Upstream == nil || p.Upstream.Name != "orders-api") {
			t.Errorf("%s: Plan.Upstream = %v, want orders-api", tt.name, p.Upstream)
		}
	}
}

func TestDeleteRefusedWhileDependedOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := withKubernetes(t)
	api := ready(t, f, bob, webapp("orders-api", "payments", "staging"))
	other := ready(t, f, bob, webapp("orders-api", "payments", "development"))
	gw := ready(t, f, bob, gateway("orders-gw", "orders-api", "staging"))
	gw2 := ready(t, f, bob, gateway("orders-gw2", "orders-api", "staging"))

	_, err := f.Engine.Delete(ctx, bob, api.Ref())
	if platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != "orders-api #1 cannot be deleted: orders-gw #3 (api-gateway), orders-gw2 #4 (api-gateway) depend on it. Delete them first." {
		t.Fatalf("Delete(depended on) = %v", err)
	}
	// The same name in another environment is not depended on.
	if _, err := f.Engine.Delete(ctx, bob, other.Ref()); err != nil {
		t.Errorf("Delete(%s in development) = %v", other.Name, err)
	}
	if _, err := f.Engine.Delete(ctx, bob, gw.Ref()); err != nil {
		t.Fatal(err)
	}
	// A gateway that is being deleted still holds its upstream.
	if _, err := f.Engine.Delete(ctx, bob, api.Ref()); platform.ErrorCode(err) != platform.Conflict {
		t.Fatalf("Delete while a gateway is deleting = %v, want Conflict", err)
	}
	if err := f.Engine.Deprovision(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.Engine.Delete(ctx, bob, api.Ref())
	if platform.ErrorMessage(err) != "orders-api #1 cannot be deleted: orders-gw2 #4 (api-gateway) depends on it. Delete it first." {
		t.Fatalf("Delete with one dependent left = %v", err)
	}
	if _, err := f.Engine.Delete(ctx, bob, gw2.Ref()); err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Deprovision(ctx, gw2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Engine.Delete(ctx, bob, api.Ref()); err != nil {
		t.Errorf("Delete once nothing depends on it = %v", err)
	}
}

func TestOrgRoles(t *testing.T) {
	t.Parallel()
	org := &platform.Org{
		Teams: []platform.Team{
			{Name: "payments", Members: []string{"slack:U1", "email:Dev1@Example.com"}, Groups: []string{"discord-role:42"}},
		},
		Admins:    []string{"slack:U0ADMIN", "discord-role:7"},
		Approvers: []string{"slack-usergroup:S0APPROVERS", "email:lead@example.com"},
	}
	tests := []struct {
		name  string
		actor platform.Actor
		teams []string
		roles []string
	}{
		{"member by id", platform.Actor{ID: "slack:U1"}, []string{"payments"}, []string{"member"}},
		{"member by email, any case", platform.Actor{ID: "slack:U2", Email: "dev1@example.COM"}, []string{"payments"}, []string{"member"}},
		{"member by discord role", platform.Actor{ID: "discord:9", Groups: []string{"discord-role:42"}}, []string{"payments"}, []string{"member"}},
		{"admin by id", platform.Actor{ID: "slack:U0ADMIN"}, nil, []string{"admin"}},
		{"admin by discord role", platform.Actor{ID: "discord:8", Groups: []string{"discord-role:7"}}, nil, []string{"admin"}},
		{"approver by usergroup", platform.Actor{ID: "slack:U3", Groups: []string{"slack-usergroup:S0APPROVERS"}}, nil, []string{"approver"}},
		{"approver by email and member", platform.Actor{ID: "slack:U1", Email: "lead@example.com"}, []string{"payments"}, []string{"approver", "member"}},
		{"nobody", platform.Actor{ID: "slack:U4", Email: "x@example.com", Groups: []string{"slack-usergroup:OTHER"}}, nil, nil},
		{"empty id matches nothing", platform.Actor{}, nil, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.teams, org.TeamsOf(tt.actor)); diff != "" {
			t.Errorf("%s: TeamsOf mismatch (-want +got):\n%s", tt.name, diff)
		}
		if diff := cmp.Diff(tt.roles, org.Roles(tt.actor)); diff != "" {
			t.Errorf("%s: Roles mismatch (-want +got):\n%s", tt.name, diff)
		}
		if got, want := org.IsApprover(tt.actor), slices.Contains(tt.roles, "approver") || slices.Contains(tt.roles, "admin"); got != want {
			t.Errorf("%s: IsApprover = %v, want %v", tt.name, got, want)
		}
	}
	if diff := cmp.Diff([]string{"discord-role:42", "discord-role:7", "slack-usergroup:S0APPROVERS"}, org.Groups()); diff != "" {
		t.Errorf("Groups mismatch (-want +got):\n%s", diff)
	}
}

func TestPlanOnBehalf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := platformtest.Engine(t)
	req := pgRequest("orders-db", "payments", "staging")
	req.OnBehalf = true
	p, err := f.Engine.Plan(ctx, bob, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]platform.FieldError{{Field: "team", Message: "only platform admins may act on behalf of a team"}}, p.Errors); diff != "" {
		t.Errorf("member on behalf (-want +got):\n%s", diff)
	}
	r := submit(t, f, admin, req)
	if r.SelfService || r.Team != "payments" || r.Requester.ID != admin.ID {
		t.Errorf("admin on behalf: self-service %v, team %s, requester %s", r.SelfService, r.Team, r.Requester.ID)
	}
	if _, _, err := f.Engine.Submit(ctx, carol, pgRequest("x-db", "payments", "staging")); platform.ErrorFields(err)[0].Message != "you are not in team payments" {
		t.Errorf("carol for payments = %v", err)
	}
}
