package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// homeButtons returns each item's title and button commands.
func homeButtons(items []commands.HomeItem) map[string][]string {
	out := map[string][]string{}
	for _, it := range items {
		var cmds []string
		for _, a := range it.Actions {
			cmds = append(cmds, a.Command)
		}
		if it.Create != "" {
			cmds = append(cmds, "CREATE "+it.Create)
		}
		out[it.Title] = cmds
	}
	return out
}

func TestHomeOffersTheVerbsTheRouterHas(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, commands.Request, []string) commands.Reply { return commands.Reply{} }
	survey := func(_ context.Context, _ platform.Actor, platformName string) (*commands.HomeItem, error) {
		return &commands.HomeItem{Title: "Survey #1 on " + platformName, Actions: []commands.Action{{Label: "9", Command: "nps 9"}}}, nil
	}
	for _, tt := range []struct {
		name  string
		verbs []commands.Verb
		ready []string
		fail  []string
	}{
		{"built-in verbs", nil,
			[]string{"status 1", "update 1", "extend 1 7d", "delete 1"}, []string{"status 2", "retry 2", "delete 2"}},
		{"update and retry shadowed by plugins", []commands.Verb{{Name: "update", Run: noop}, {Name: "retry", Run: noop}},
			[]string{"status 1", "update 1", "extend 1 7d", "delete 1"}, []string{"status 2", "retry 2", "delete 2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newGovEnv(t, commands.Options{Verbs: tt.verbs, Survey: survey})
			e.mustCreate(t, bob, "create postgresql-database name=orders-db")
			e.f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("permission denied"), 1)
			rep := e.run(bob, "create postgresql-database name=broken-db")
			_ = e.f.Engine.Provision(context.Background(), rep.Resource.ID)
			e.run(alice, "create postgresql-database name=prod-db team=payments env=production")
			e.run(carol, "create postgresql-database name=platform-db team=platform env=production")

			h, err := e.router.Home(context.Background(), commands.Request{Actor: bob, Platform: "slack"})
			if err != nil {
				t.Fatal(err)
			}
			got := homeButtons(h.Resources)
			want := map[string][]string{"orders-db #1": tt.ready, "broken-db #2": tt.fail, "prod-db #3": {"status 3"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("bob's resources mismatch (-want +got):\n%s", diff)
			}
			if h.Approver || len(h.Approvals) != 0 {
				t.Errorf("bob approves nothing, home has %d approvals", len(h.Approvals))
			}
			if h.Survey == nil || h.Survey.Title != "Survey #1 on slack" {
				t.Errorf("survey = %+v", h.Survey)
			}
			services := homeButtons(h.Services)
			if c := services["PostgreSQL Database (postgresql-database)"]; len(c) != 1 || c[0] != "CREATE postgresql-database" {
				t.Errorf("catalog = %v", services)
			}

			h, err = e.router.Home(context.Background(), commands.Request{Actor: approver, Platform: "slack"})
			if err != nil {
				t.Fatal(err)
			}
			var titles []string
			for _, it := range h.Approvals {
				titles = append(titles, it.Title)
			}
			if diff := cmp.Diff([]string{"prod-db #3", "platform-db #4"}, titles); diff != "" || !h.Approver || len(h.Resources) != 0 {
				t.Errorf("approver's approvals mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHomeCommand(t *testing.T) {
	t.Parallel()
	e := newGovEnv(t, commands.Options{})
	e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	rep := e.run(bob, "home")
	text := rep.Text()
	for _, want := range []string{"Your idpbot home", "Your teams' resources", "orders-db #1", "Catalog"} {
		if !strings.Contains(text, want) {
			t.Errorf("home lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Waiting for your approval") {
		t.Errorf("bob's home shows approvals:\n%s", text)
	}
	var labels []string
	for _, a := range rep.Actions {
		labels = append(labels, a.Label)
	}
	if !strings.Contains(strings.Join(labels, ","), "Status #1") {
		t.Errorf("home buttons = %v", labels)
	}
	if text := e.run(approver, "home").Text(); !strings.Contains(text, "Nothing waits for your approval.") {
		t.Errorf("approver's home:\n%s", text)
	}
	if rep := e.run(bob, "home x"); platform.ErrorCode(rep.Err) != platform.Invalid {
		t.Errorf("home x = %q", rep.Title)
	}
}
