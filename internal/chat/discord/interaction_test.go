package discord

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// ephemeralContent returns the content of an immediate ephemeral answer,
// failing the test for any other response.
func ephemeralContent(t *testing.T, resp response) string {
	t.Helper()
	if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data == nil {
		t.Fatalf("response = %+v, want a message", resp)
	}
	if resp.Data.Flags&discordgo.MessageFlagsEphemeral == 0 {
		t.Errorf("response flags = %d, want ephemeral", resp.Data.Flags)
	}
	return resp.Data.Content
}

func TestCreateWithInvalidOptionsNamesEachField(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for _, tc := range []struct {
		name string
		user discordtest.User
		opts []discordtest.Option
		want []string
	}{
		{"bad name and team", alice, create("postgresql-database",
			discordtest.String("name", "Orders_DB"), discordtest.String("team", "marketing"), discordtest.Integer("backup_retention_days", 99)),
			[]string{"**name**: must be lowercase", `**team**: there is no team "marketing"`, "**backup\\_retention\\_days**: must be 1–35 (got 99)"}},
		{"policy", alice, create("postgresql-database",
			discordtest.String("name", "orders-db"), discordtest.String("team", "payments"), discordtest.String("environment", "production")),
			[]string{"denied by policy", "Production resources must have high\\_availability enabled", "production-high-availability"}},
		{"no team", mallory, create("postgresql-database", discordtest.String("name", "orders-db")),
			[]string{"You are not a member of any team"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ephemeralContent(t, h.send(h.fake.Command(tc.user, testChannel, tc.opts...)))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer %q does not contain %q", got, w)
				}
			}
		})
	}
	if rs := f.Store.AllEvents(); len(rs) != 0 {
		t.Errorf("invalid requests recorded %d events", len(rs))
	}
}

func TestCreateByRoleAndDryRun(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	// bob is in team platform only through his role: the team defaults.
	dry := h.send(h.fake.Command(bob, testChannel, create("postgresql-database",
		discordtest.String("name", "bobs-db"), discordtest.Boolean("dry_run", true), discordtest.String("size", "large"))...))
	got := ephemeralContent(t, dry)
	_ = got
	for _, w := range []string{"Dry run: bobs-db would be created", "platform: 0 of 5 postgresql-database used"} {
		if !strings.Contains(dry.Data.text(), w) {
			t.Errorf("dry run answer %q does not contain %q", got, w)
		}
	}
	if evs := f.Store.AllEvents(); len(evs) != 0 {
		t.Fatalf("a dry run recorded %d events", len(evs))
	}
	in := h.fake.Command(bob, testChannel, create("postgresql-database",
		discordtest.String("name", "bobs-db"), discordtest.String("size", "large"), discordtest.Boolean("high_availability", true))...)
	resp := h.send(in)
	content := ephemeralContent(t, resp)
	if !strings.Contains(content, "Request #1 recorded: **bobs-db**, postgresql-database for platform in development") {
		t.Errorf("answer = %q, want the request recorded for platform", content)
	}
	r := f.Settle(1, 5*time.Second)
	want := platform.Actor{ID: "discord:" + bob.ID, Name: "bob", Groups: []string{"discord-role:1100000000000000299", "discord-role:" + platformRole}}
	if diff := cmp.Diff(want, r.Requester); diff != "" {
		t.Errorf("requester mismatch (-want +got):\n%s", diff)
	}
	if r.Parameters["size"] != "large" || r.Parameters["high_availability"] != true || fmt.Sprint(r.Parameters["backup_retention_days"]) != "7" {
		t.Errorf("parameters = %v, want size large, high_availability true and the default retention", r.Parameters)
	}
	if r.IdempotencyKey != "discord:interaction:"+in.ID+":discord:"+bob.ID {
		t.Errorf("idempotency key = %q", r.IdempotencyKey)
	}
	if r.Origin != (platform.Origin{Platform: Platform, Channel: testChannel}) {
		t.Errorf("origin = %+v", r.Origin)
	}
}

func TestDeferredAnswerEditsTheOriginal(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, ackBudget: -1})
	in := h.fake.Command(alice, testChannel, create("postgresql-database", discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)
	resp := h.send(in)
	if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource || resp.Data == nil || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
		t.Fatalf("response = %+v, want a deferred ephemeral message", resp)
	}
	var original string
	h.fake.WaitFor(5*time.Second, "the deferred answer", func() bool {
		a, _ := h.fake.Answer(in.ID)
		if a.Original != nil {
			original = a.Original.Content
		}
		return original != ""
	})
	if !strings.Contains(original, "Request #1 recorded: **orders-db**") {
		t.Errorf("edited original = %q, want the request recorded", original)
	}
}

func TestDeleteAsksToConfirm(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	f.Settle(1, 5*time.Second)

	resp := h.send(h.fake.Command(alice, testChannel, discordtest.Sub("delete", discordtest.String("name", "orders-db"))))
	content := ephemeralContent(t, resp)
	golden(t, "reply_confirm", resp.Data)
	if !strings.Contains(content, "Confirm deletion of orders-db #1") || len(resp.Data.rows()) != 1 {
		t.Fatalf("delete answer = %q with %d component rows, want a confirmation with buttons", content, len(resp.Data.rows()))
	}
	if got := f.Driver.Count(platformtest.OpDeprovision); got != 0 {
		t.Fatalf("asking to confirm deprovisioned %d times", got)
	}
	// Someone outside the team cannot confirm; the owner cancels, then
	// confirms.
	cancel := h.send(h.fake.Click(alice, testChannel, idCancel+"#1"))
	if cancel.Type != discordgo.InteractionResponseUpdateMessage || !strings.Contains(cancel.Data.Content, "cancelled") || string(cancel.Data.Components) != "[]" {
		t.Errorf("cancel = %+v, want the confirmation replaced without buttons", cancel.Data)
	}
	denied := h.send(h.fake.Click(mallory, testChannel, idDelete+"#1"))
	if !strings.Contains(denied.Data.Content, "There is no resource") {
		t.Errorf("mallory's confirmation = %q, want not found", denied.Data.Content)
	}
	ok := h.send(h.fake.Click(alice, testChannel, idDelete+"#1"))
	if ok.Type != discordgo.InteractionResponseUpdateMessage || !strings.Contains(ok.Data.Content, "Deleting **orders-db** #1") || string(ok.Data.Components) != "[]" {
		t.Errorf("confirm = %+v, want the deletion started and no buttons", ok.Data)
	}
	r := f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted })
	if r.State != platform.Deleted {
		t.Errorf("state = %s, want deleted", r.State)
	}
}

func TestAutocomplete(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "ledger-db"), discordtest.String("team", "platform"))...)))
	choices := func(u discordtest.User, opts ...discordtest.Option) []string {
		t.Helper()
		resp := h.send(h.fake.Autocomplete(u, testChannel, opts...))
		if resp.Type != discordgo.InteractionApplicationCommandAutocompleteResult {
			t.Fatalf("response type %d, want autocomplete results", resp.Type)
		}
		var out []string
		for _, c := range resp.Data.Choices {
			out = append(out, fmt.Sprintf("%s=%v", c.Name, c.Value))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		user discordtest.User
		opts []discordtest.Option
		want []string
	}{
		{"resources", alice, []discordtest.Option{discordtest.Sub("status", discordtest.Focused(discordtest.String("name", "db")))},
			[]string{"ledger-db #2 · postgresql-database · platform/development · pending=#2", "orders-db #1 · postgresql-database · payments/development · pending=#1"}},
		{"resources by name", alice, []discordtest.Option{discordtest.Sub("delete", discordtest.Focused(discordtest.String("name", "ord")))},
			[]string{"orders-db #1 · postgresql-database · payments/development · pending=#1"}},
		{"resources of the role's team", bob, []discordtest.Option{discordtest.Sub("status", discordtest.Focused(discordtest.String("name", "")))},
			[]string{"ledger-db #2 · postgresql-database · platform/development · pending=#2"}},
		{"teams", alice, create("postgresql-database", discordtest.Focused(discordtest.String("team", "pl"))),
			[]string{"platform=platform"}},
		{"nobody's teams", mallory, create("postgresql-database", discordtest.Focused(discordtest.String("team", ""))), nil},
		{"catalog filter", alice, []discordtest.Option{discordtest.Sub("catalog", discordtest.Focused(discordtest.String("filter", "data")))},
			[]string{"database=database", "postgresql-database=postgresql-database"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := choices(tc.user, tc.opts...)
			if strings.Contains(tc.name, "resources") {
				// Resource states move on in the background.
				for i := range got {
					got[i] = strings.NewReplacer("provisioning", "pending", "ready", "pending").Replace(got[i])
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("choices mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// longTextCatalog has a service whose form has free text, asked in a
// modal, and one whose form is too big for a modal too.
func longTextCatalog(t *testing.T) *platform.Catalog {
	t.Helper()
	c, err := platform.NewCatalog(
		&platform.ServiceDefinition{Name: "runbook", Title: "Runbook page", Type: "docs", Fields: []platform.Field{
			{Name: "body", Title: "Page body", Kind: platform.KindString, MaxLength: 2000, Required: true, Description: "Markdown"},
			{Name: "pages", Kind: platform.KindInteger, Min: platformtest.Int(1), Max: platformtest.Int(9), Default: int64(1)},
		}, Provisioners: []platform.Binding{{Driver: "postgres"}}},
		&platform.ServiceDefinition{Name: "wiki", Title: "Wiki", Type: "docs", Fields: []platform.Field{
			{Name: "body", Kind: platform.KindString, MaxLength: 2000},
			{Name: "title", Kind: platform.KindString},
			{Name: "tags", Kind: platform.KindString},
		}, Provisioners: []platform.Binding{{Driver: "postgres"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFreeTextOpensAModal(t *testing.T) {
	t.Parallel()
	f := fixture(t, platformtest.WithCatalog(longTextCatalog(t)))
	h := newHarness(t, harnessConfig{engine: f.Engine})
	resp := h.send(h.fake.Command(alice, testChannel, create("runbook")...))
	if resp.Type != discordgo.InteractionResponseModal {
		t.Fatalf("response type %d, want a modal", resp.Type)
	}
	golden(t, "modal_runbook", resp.Data)
	sub := h.fake.SubmitModal(alice, testChannel, resp.Data.CustomID, map[string]string{
		"name": "ops-runbook", "team": "payments", "environment": "staging", "body": "# Restart\n1. `kubectl rollout restart`", "pages": "",
	})
	content := ephemeralContent(t, h.send(sub))
	if !strings.Contains(content, "Request #1 recorded: **ops-runbook**") {
		t.Fatalf("modal submission answer = %q", content)
	}
	r := f.Settle(1, 5*time.Second)
	if r.Parameters["body"] != "# Restart\n1. `kubectl rollout restart`" || fmt.Sprint(r.Parameters["pages"]) != "1" {
		t.Errorf("parameters = %v", r.Parameters)
	}
	bad := h.send(h.fake.SubmitModal(alice, testChannel, resp.Data.CustomID, map[string]string{"name": "x_", "team": "payments", "environment": "staging", "body": "", "pages": "12"}))
	for _, w := range []string{"**name**", "**body**: is required", "**pages**: must be 1–9"} {
		if !strings.Contains(bad.Data.Content, w) {
			t.Errorf("invalid submission answer %q does not contain %q", bad.Data.Content, w)
		}
	}

	tooBig := ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("wiki")...)))
	if !strings.Contains(tooBig, "/idp run text:create wiki name=… key=value …") || !strings.Contains(tooBig, "name, team, environment, body, title, tags") {
		t.Errorf("answer for a form too big for a modal = %q", tooBig)
	}
	ran := ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, discordtest.Sub("run",
		discordtest.String("text", `create wiki name=team-wiki team=payments title="Team wiki" body='long text'`)))))
	if !strings.Contains(ran, "Request #2 recorded: **team-wiki**") {
		t.Errorf("run answer = %q", ran)
	}
}

func TestVerbsAsSubcommands(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)))
	f.Settle(1, 5*time.Second)
	for _, tc := range []struct {
		name string
		opts []discordtest.Option
		want []string
	}{
		{"help", []discordtest.Option{discordtest.Sub("help")}, []string{"idpbot: request infrastructure", "/idp create", "On Discord"}},
		{"help create", []discordtest.Option{discordtest.Sub("help", discordtest.String("command", "create"))}, []string{"/idp create <service>"}},
		{"catalog", []discordtest.Option{discordtest.Sub("catalog", discordtest.String("filter", "database"))}, []string{"type database", "PostgreSQL Database"}},
		{"list", []discordtest.Option{discordtest.Sub("list", discordtest.String("team", "payments"), discordtest.Boolean("mine", true))},
			[]string{"1 resource of team payments, requested by you", "orders-db", "payments/development"}},
		{"list other team", []discordtest.Option{discordtest.Sub("list", discordtest.String("team", "platform"))}, []string{"No resources of team platform"}},
		{"status", []discordtest.Option{discordtest.Sub("status", discordtest.String("name", "#1"))}, []string{"orders-db #1: ready", "History"}},
		{"status unknown", []discordtest.Option{discordtest.Sub("status", discordtest.String("name", "nope' --all"))}, []string{`There is no resource "nope' --all"`}},
		{"run", []discordtest.Option{discordtest.Sub("run", discordtest.String("text", "lst"))}, []string{"Unknown command", "Did you mean list?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.send(h.fake.Command(alice, testChannel, tc.opts...))
			ephemeralContent(t, resp)
			for _, w := range tc.want {
				if !strings.Contains(resp.Data.text(), w) {
					t.Errorf("answer %s does not contain %q", resp.Data.text(), w)
				}
			}
		})
	}
}

func TestRepliesGolden(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for _, tc := range []struct {
		name string
		opts []discordtest.Option
	}{
		{"reply_help", []discordtest.Option{discordtest.Sub("help")}},
		{"reply_catalog", []discordtest.Option{discordtest.Sub("catalog")}},
		{"reply_invalid", create("postgresql-database", discordtest.String("name", "-bad-"), discordtest.String("team", "payment"), discordtest.Integer("backup_retention_days", 0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.send(h.fake.Command(alice, testChannel, tc.opts...))
			ephemeralContent(t, resp)
			golden(t, tc.name, resp.Data)
		})
	}
}

func TestUnknownInteractionsAreAnswered(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for _, tc := range []struct {
		name string
		in   discordtest.Interaction
		want string
	}{
		{"stale button", h.fake.Click(alice, testChannel, "something:else"), "no longer handled"},
		{"stale modal", h.fake.SubmitModal(alice, testChannel, "old-modal", map[string]string{"a": "b"}), "no longer handled"},
		{"unknown service", h.fake.Command(alice, testChannel, create("mongodb", discordtest.String("name", "x"))...), `There is no service "mongodb"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ephemeralContent(t, h.send(tc.in)); !strings.Contains(got, tc.want) {
				t.Errorf("answer = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

// TestAutocompleteUpstream: api-gateway's upstream suggests the ready
// web-applications of the asker's teams, and nothing to someone in none.
func TestAutocompleteUpstream(t *testing.T) {
	t.Parallel()
	f := fixture(t, platformtest.WithDriver("kubernetes", platformtest.NewDriver()))
	h := newHarness(t, harnessConfig{engine: f.Engine})
	actor, _ := ActorOf(&discordgo.Interaction{Member: &discordgo.Member{User: &discordgo.User{ID: alice.ID, Username: alice.Username}, Roles: alice.Roles}})
	r, _, err := f.Engine.Submit(context.Background(), actor, platform.Request{Service: "web-application", Name: "orders-web",
		Team: "payments", Environment: "development", Parameters: map[string]any{"image": "nginx:1.27"}})
	if err != nil {
		t.Fatalf("Submit web-application = %v", err)
	}
	f.WaitState(r.ID, 10*time.Second, func(s platform.State) bool { return s == platform.Ready })
	for _, tc := range []struct {
		user discordtest.User
		want []string
	}{{alice, []string{"orders-web=orders-web"}}, {mallory, nil}} {
		resp := h.send(h.fake.Autocomplete(tc.user, testChannel, create("api-gateway", discordtest.Focused(discordtest.String("upstream", "ord")))...))
		var got []string
		for _, c := range resp.Data.Choices {
			got = append(got, fmt.Sprintf("%s=%v", c.Name, c.Value))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("upstream choices for %s mismatch (-want +got):\n%s", tc.user.Username, diff)
		}
	}
}
