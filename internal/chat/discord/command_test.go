package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func TestCommandsGolden(t *testing.T) {
	t.Parallel()
	l := newLayout(realCatalog(t), testOrg())
	if !l.grouped {
		t.Fatal("the shipped catalog is not laid out as one subcommand per service")
	}
	golden(t, "commands", []*discordgo.ApplicationCommand{l.command})
	checkCommand(t, l.command)
}

func TestServiceOptionsAreTheForm(t *testing.T) {
	t.Parallel()
	l := newLayout(realCatalog(t), testOrg())
	create := l.command.Options[0]
	if create.Type != discordgo.ApplicationCommandOptionSubCommandGroup || create.Name != "create" {
		t.Fatalf("first option = %s %s, want the create group", create.Type, create.Name)
	}
	var db *discordgo.ApplicationCommandOption
	var names []string
	for _, sub := range create.Options {
		names = append(names, sub.Name)
		if sub.Name == "postgresql-database" {
			db = sub
		}
	}
	if diff := cmp.Diff(realCatalog(t).Names(), names); diff != "" {
		t.Errorf("create subcommands mismatch (-want +got):\n%s", diff)
	}
	type opt struct {
		Name     string
		Type     discordgo.ApplicationCommandOptionType
		Required bool
		Choices  string
		Min, Max string
	}
	var got []opt
	for _, o := range db.Options {
		var choices []string
		for _, c := range o.Choices {
			choices = append(choices, fmt.Sprint(c.Value))
		}
		o2 := opt{Name: o.Name, Type: o.Type, Required: o.Required, Choices: strings.Join(choices, ",")}
		if o.MinValue != nil {
			o2.Min = fmt.Sprint(*o.MinValue)
		}
		if o.MaxValue != 0 {
			o2.Max = fmt.Sprint(o.MaxValue)
		}
		got = append(got, o2)
	}
	want := []opt{
		{Name: "name", Type: discordgo.ApplicationCommandOptionString, Required: true},
		{Name: "team", Type: discordgo.ApplicationCommandOptionString, Choices: "payments,platform"},
		{Name: "environment", Type: discordgo.ApplicationCommandOptionString, Choices: "development,staging,production"},
		{Name: "size", Type: discordgo.ApplicationCommandOptionString, Choices: "small,medium,large"},
		{Name: "high_availability", Type: discordgo.ApplicationCommandOptionBoolean},
		{Name: "backup_retention_days", Type: discordgo.ApplicationCommandOptionInteger, Min: "1", Max: "35"},
		{Name: "dry_run", Type: discordgo.ApplicationCommandOptionBoolean},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("postgresql-database options mismatch (-want +got):\n%s", diff)
	}
	if d := db.Options[5].Description; !strings.HasSuffix(d, "(default 7)") {
		t.Errorf("backup_retention_days description %q does not give the default", d)
	}
	if db.Options[0].MaxLength != platform.MaxNameLength {
		t.Errorf("name max_length = %d, want %d", db.Options[0].MaxLength, platform.MaxNameLength)
	}
}

// bigCatalog returns n services with long descriptions and many
// parameters.
func bigCatalog(t *testing.T, n, params int) *platform.Catalog {
	t.Helper()
	var svcs []*platform.ServiceDefinition
	for i := range n {
		svc := &platform.ServiceDefinition{Name: fmt.Sprintf("service-%02d", i), Title: fmt.Sprintf("Service %d", i), Type: "compute",
			Description: strings.Repeat("A very long description of what this service does. ", 10)}
		for j := range params {
			svc.Fields = append(svc.Fields, platform.Field{Name: fmt.Sprintf("param_%02d", j), Kind: platform.KindEnum,
				Description: strings.Repeat("Explains the parameter at length. ", 8), Options: []string{"one", "two", "three"}, Default: "one"})
		}
		svcs = append(svcs, svc)
	}
	c, err := platform.NewCatalog(svcs...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCommandsKeepDiscordLimits(t *testing.T) {
	t.Parallel()
	manyTeams := testOrg()
	for i := range 30 {
		manyTeams.Teams = append(manyTeams.Teams, platform.Team{Name: fmt.Sprintf("team-%02d", i)})
	}
	long := strings.Repeat("x", 300)
	odd, err := platform.NewCatalog(
		&platform.ServiceDefinition{Name: "notes", Title: long, Description: long, Fields: []platform.Field{
			{Name: "text", Kind: platform.KindString, MaxLength: 2000, Description: long},
			{Name: "choice", Kind: platform.KindEnum, Options: manyValues(40)},
		}},
		&platform.ServiceDefinition{Name: "counter", Fields: []platform.Field{
			{Name: "count", Kind: platform.KindInteger, Min: platformtest.Int(-1 << 60), Max: platformtest.Int(1 << 60), Required: true},
			{Name: "label", Kind: platform.KindString, MinLength: 2, MaxLength: 20},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		cat         *platform.Catalog
		org         *platform.Org
		grouped     bool
		modal       []string
		teamChoices bool
	}{
		{name: "shipped", cat: realCatalog(t), org: testOrg(), grouped: true, teamChoices: true},
		{name: "30 services", cat: bigCatalog(t, 30, 2), org: testOrg(), grouped: false, teamChoices: true},
		{name: "8000 characters with descriptions", cat: bigCatalog(t, 10, 4), org: testOrg(), grouped: true, teamChoices: true},
		{name: "8000 characters without", cat: bigCatalog(t, 20, 20), org: testOrg(), grouped: false, teamChoices: true},
		{name: "too many parameters", cat: bigCatalog(t, 2, 22), org: testOrg(), grouped: true, modal: []string{"service-00", "service-01"}, teamChoices: true},
		{name: "free text and long enum", cat: odd, org: manyTeams, grouped: true, modal: []string{"notes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLayout(tc.cat, tc.org)
			if l.grouped != tc.grouped {
				t.Errorf("grouped = %v, want %v", l.grouped, tc.grouped)
			}
			var modal []string
			for _, s := range tc.cat.Names() {
				if l.inModal(s) {
					modal = append(modal, s)
				}
			}
			if diff := cmp.Diff(tc.modal, modal); diff != "" {
				t.Errorf("services asked in a modal mismatch (-want +got):\n%s", diff)
			}
			checkCommand(t, l.command)
			list := l.command.Options[2]
			if team := list.Options[0]; (len(team.Choices) > 0) != tc.teamChoices || team.Autocomplete == tc.teamChoices {
				t.Errorf("list team option: %d choices, autocomplete %v; want choices %v", len(team.Choices), team.Autocomplete, tc.teamChoices)
			}
		})
	}
}

func manyValues(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("value-%02d", i)
	}
	return out
}

var commandNameRE = regexp.MustCompile(`^[-_\p{L}\p{N}]{1,32}$`)

// checkCommand checks the limits Discord enforces on a command, and that
// its registration body fits Discord's schema.
func checkCommand(t *testing.T, c *discordgo.ApplicationCommand) {
	t.Helper()
	if n := commandChars(c); n > maxCommandChars {
		t.Errorf("command has %d characters, more than %d", n, maxCommandChars)
	}
	var walk func(path string, opts []*discordgo.ApplicationCommandOption)
	walk = func(path string, opts []*discordgo.ApplicationCommandOption) {
		if len(opts) > maxOptions {
			t.Errorf("%s has %d options", path, len(opts))
		}
		optional := false
		for _, o := range opts {
			p := path + " " + o.Name
			if !commandNameRE.MatchString(o.Name) || strings.ToLower(o.Name) != o.Name {
				t.Errorf("%s: invalid name", p)
			}
			if n := utf8.RuneCountInString(o.Description); n < 1 || n > maxDescription {
				t.Errorf("%s: description of %d characters", p, n)
			}
			if len(o.Choices) > maxChoices || len(o.Choices) > 0 && o.Autocomplete {
				t.Errorf("%s: %d choices, autocomplete %v", p, len(o.Choices), o.Autocomplete)
			}
			if o.Type > discordgo.ApplicationCommandOptionSubCommandGroup {
				if optional && o.Required {
					t.Errorf("%s: required option after an optional one", p)
				}
				optional = optional || !o.Required
			}
			if o.MinValue != nil && (*o.MinValue < -maxInteger || *o.MinValue > maxInteger) || o.MaxValue < -maxInteger || o.MaxValue > maxInteger {
				t.Errorf("%s: bounds beyond ±2^53", p)
			}
			walk(p, o.Options)
		}
	}
	walk("/"+c.Name, c.Options)
	spec, err := discordtest.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	route, ok := spec.Route("PUT /applications/{application_id}/commands")
	if !ok {
		t.Fatal("no bulk overwrite route in the spec")
	}
	body, _ := json.Marshal([]*discordgo.ApplicationCommand{c})
	if err := spec.Validate(route, body); err != nil {
		t.Error(err)
	}
}

func TestRegisterCommands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		guild, route string
	}{
		{"", "PUT /applications/{application_id}/commands"},
		{discordtest.GuildID, "PUT /applications/{application_id}/guilds/{guild_id}/commands"},
	} {
		t.Run(tc.route, func(t *testing.T) {
			t.Parallel()
			f := fixture(t)
			h := newHarness(t, harnessConfig{engine: f.Engine, guild: tc.guild})
			for range 2 {
				if err := h.adapter.RegisterCommands(context.Background()); err != nil {
					t.Fatalf("RegisterCommands = %v", err)
				}
			}
			calls := h.fake.Calls()
			if len(calls) != 2 || calls[0].Route != tc.route || calls[1].Route != tc.route {
				t.Fatalf("calls = %+v, want two of %s", calls, tc.route)
			}
			if string(calls[0].Body) != string(calls[1].Body) {
				t.Errorf("registering twice sent different bodies:\n%s\n%s", calls[0].Body, calls[1].Body)
			}
			// The body registered is the golden one of TestCommandsGolden.
			var got, want any
			if err := json.Unmarshal(h.fake.Commands(tc.guild), &got); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join("testdata", "commands.golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("registered commands differ from testdata/commands.golden.json (-want +got):\n%s", diff)
			}
		})
	}
}
