package discord

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/platform"
)

// Discord's documented limits of application commands and modals.
const (
	maxOptions      = 25   // options (or subcommands) per command or subcommand
	maxChoices      = 25   // choices per option, and autocomplete results
	maxDescription  = 100  // command and option descriptions
	maxChoiceName   = 100  // choice names and string choice values
	maxCommandChars = 8000 // names, descriptions and choices of a command, together
	maxStringOption = 6000 // max_length of a string option
	maxModalInputs  = 5    // text inputs per modal
	maxModalTitle   = 45
	maxInputLabel   = 45
	maxPlaceholder  = 100
	maxTextInput    = 4000
	maxCustomID     = 100
	// longText is the longest string parameter asked as a command option
	// (an image reference fits; Discord itself allows 6000);
	// a longer one is free text, asked in a modal's paragraph input.
	longText = 300
	// maxInteger bounds integer options: Discord accepts -2^53..2^53.
	maxInteger = 1<<53 - 1
)

// CommandName is the application command idpbot registers: /idp.
const CommandName = "idp"

// Names of subcommands and options.
const (
	subCreate  = "create"
	subCatalog = "catalog"
	subList    = "list"
	subHome    = "home"
	subStatus  = "status"
	subDelete  = "delete"
	subUpdate  = "update"
	subRetry   = "retry"
	subCreds   = "credentials"
	subForget  = "forget"
	subHelp    = "help"
	subRun     = "run"

	optName        = "name"
	optTeam        = "team"
	optEnvironment = "environment"
	optDryRun      = "dry_run"
	optService     = "service"
	optValues      = "values"
	optFilter      = "filter"
	optEnv         = "env"
	optMine        = "mine"
	optAll         = "all"
	optPending     = "pending"
	optState       = "state"
	optCommand     = "command"
	optText        = "text"
	optRotate      = "rotate"
	optReason      = "reason"
)

// optionName is what Discord accepts as an option or subcommand name that
// is all lowercase.
var optionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// layout is the shape of the /idp command for a catalog and organisation,
// computed once: which services are subcommands with typed options and
// which open a modal, and whether teams and environments are choices.
type layout struct {
	// grouped is true when create is a subcommand group with one subcommand
	// per service; false when the catalog does not fit (more than 25
	// services, names Discord does not accept, or more than 8000
	// characters), and create takes a service option with autocomplete.
	grouped bool
	// why holds the services asked in a modal, and why: their subcommand
	// has no options and opens a modal of text inputs (at most 5 fields),
	// or explains how to use /idp run. The other services' form fields
	// are their subcommand's typed options.
	why     map[string]string
	teams   []string
	envs    []string
	catalog *platform.Catalog
	command *discordgo.ApplicationCommand
}

func newLayout(cat *platform.Catalog, org *platform.Org) *layout {
	l := &layout{catalog: cat, why: map[string]string{}}
	if org != nil {
		l.teams, l.envs = org.TeamNames(), org.EnvironmentNames()
	}
	var services []*platform.ServiceDefinition
	if cat != nil {
		services = cat.Services()
	}
	for _, svc := range services {
		if why := optionsMisfit(svc); why != "" {
			l.why[svc.Name] = why
		}
	}
	l.grouped = len(services) > 0 && len(services) <= maxOptions
	for _, svc := range services {
		if !optionName.MatchString(svc.Name) {
			l.grouped = false
		}
	}
	if l.grouped {
		l.command = l.build(false)
		if commandChars(l.command) > maxCommandChars {
			l.command = l.build(true)
		}
		if commandChars(l.command) <= maxCommandChars {
			return l
		}
		l.grouped = false
	}
	l.command = l.build(true)
	return l
}

// optionsMisfit says why svc's form cannot be typed options, or "".
func optionsMisfit(svc *platform.ServiceDefinition) string {
	if n := len(svc.Fields) + 4; n > maxOptions {
		return fmt.Sprintf("its form has %d fields, more than the %d options of a command", n-1, maxOptions)
	}
	for _, f := range svc.Fields {
		switch {
		case !optionName.MatchString(f.Name) || slices.Contains([]string{optName, optTeam, optEnvironment, optDryRun}, f.Name):
			return fmt.Sprintf("parameter %q cannot be a command option", f.Name)
		case f.Kind == platform.KindString && (f.MaxLength > longText):
			return fmt.Sprintf("parameter %s is free text of up to %d characters", f.Name, f.MaxLength)
		}
	}
	return ""
}

// inModal reports whether service's form is asked in a modal rather than
// as its subcommand's options.
func (l *layout) inModal(service string) bool { return l.why[service] != "" }

// build renders the command; terse keeps only titles as parameter
// descriptions, to fit the 8000-character limit.
func (l *layout) build(terse bool) *discordgo.ApplicationCommand {
	contexts := []discordgo.InteractionContextType{discordgo.InteractionContextGuild, discordgo.InteractionContextBotDM}
	integrations := []discordgo.ApplicationIntegrationType{discordgo.ApplicationIntegrationGuildInstall}
	var create *discordgo.ApplicationCommandOption
	if l.grouped {
		create = &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionSubCommandGroup, Name: subCreate,
			Description: "Request a resource from the service catalog"}
		for _, svc := range l.catalog.Services() {
			create.Options = append(create.Options, l.serviceCommand(svc, terse))
		}
	} else {
		create = &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subCreate,
			Description: "Request a resource from the service catalog",
			Options: []*discordgo.ApplicationCommandOption{
				{Type: discordgo.ApplicationCommandOptionString, Name: optService, Description: "The service to request (see /idp catalog)", Required: true, Autocomplete: true},
				{Type: discordgo.ApplicationCommandOptionString, Name: optValues, Description: "The form as key=value pairs: name=orders-db team=payments size=medium", MaxLength: maxStringOption},
				dryRunOption(),
			}}
	}
	return &discordgo.ApplicationCommand{
		Type:             discordgo.ChatApplicationCommand,
		Name:             CommandName,
		Description:      "Request and manage infrastructure from the platform's service catalog",
		Contexts:         &contexts,
		IntegrationTypes: &integrations,
		Options: []*discordgo.ApplicationCommandOption{
			create,
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subCatalog, Description: "List the services you can request, with their parameters and defaults",
				Options: []*discordgo.ApplicationCommandOption{l.catalogFilter()}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subList, Description: "List your teams' resources",
				Options: []*discordgo.ApplicationCommandOption{
					l.choiceOption(optTeam, "Only this team's resources", l.teams, false),
					l.choiceOption(optEnv, "Only resources in this environment", l.envs, false),
					{Type: discordgo.ApplicationCommandOptionBoolean, Name: optMine, Description: "Only resources you requested"},
					{Type: discordgo.ApplicationCommandOptionBoolean, Name: optAll, Description: "Include deleted, rejected and expired resources"},
					{Type: discordgo.ApplicationCommandOptionString, Name: optState, Description: "Only this state: ready, failed, …", MaxLength: 32},
					{Type: discordgo.ApplicationCommandOptionBoolean, Name: optPending, Description: "What waits for your approval"},
				}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subHome, Description: "Your resources, approvals, catalog"},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subStatus, Description: "Show a resource: state, parameters, outputs and recent history",
				Options: []*discordgo.ApplicationCommandOption{resourceOption("The resource's name or #id")}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subDelete, Description: "Delete a resource and deprovision what it made (asks to confirm)",
				Options: []*discordgo.ApplicationCommandOption{resourceOption("The resource to delete: its name or #id")}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subUpdate, Description: "Change a resource's parameters",
				Options: []*discordgo.ApplicationCommandOption{
					resourceOption("Its name or #id"),
					{Type: discordgo.ApplicationCommandOptionString, Name: optValues, Description: "key=value pairs: size=medium", MaxLength: maxStringOption},
				}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subRetry, Description: "Run again what failed",
				Options: []*discordgo.ApplicationCommandOption{resourceOption("Its name or #id")}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subCreds, Description: "About a resource's credentials; rotate them",
				Options: []*discordgo.ApplicationCommandOption{
					resourceOption("Its name or #id"),
					{Type: discordgo.ApplicationCommandOptionBoolean, Name: optRotate, Description: "Issue new ones, revoke the old"},
				}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subForget, Description: "Admins: forget what cannot be deprovisioned",
				Options: []*discordgo.ApplicationCommandOption{
					resourceOption("Its name or #id"),
					{Type: discordgo.ApplicationCommandOptionString, Name: optReason, Description: "Why", Required: true, MaxLength: maxStringOption},
				}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subHelp, Description: "Show the commands, or one command in detail",
				Options: []*discordgo.ApplicationCommandOption{
					l.choiceOption(optCommand, "The command to explain", []string{subCreate, subCatalog, subList, subStatus, subDelete, subUpdate, subRetry, subCreds, subForget, subHelp}, false),
				}},
			{Type: discordgo.ApplicationCommandOptionSubCommand, Name: subRun, Description: "Run an /idp command typed as text, e.g. create postgresql-database name=orders-db",
				Options: []*discordgo.ApplicationCommandOption{
					{Type: discordgo.ApplicationCommandOptionString, Name: optText, Description: "The command after /idp, as in the console", Required: true, MaxLength: maxStringOption},
				}},
		},
	}
}

func dryRunOption() *discordgo.ApplicationCommandOption {
	return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionBoolean, Name: optDryRun,
		Description: "Only check the request and the policies; create nothing"}
}

func resourceOption(desc string) *discordgo.ApplicationCommandOption {
	return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: optName, Description: desc,
		Required: true, Autocomplete: true, MaxLength: platform.MaxNameLength}
}

// catalogFilter is the catalog subcommand's type-or-service option: choices
// when they fit, autocomplete otherwise.
func (l *layout) catalogFilter() *discordgo.ApplicationCommandOption {
	var values []string
	if l.catalog != nil {
		values = append(l.catalog.Types(), l.catalog.Names()...)
	}
	return l.choiceOption(optFilter, "A service type (database, compute, …) or a service name", values, false)
}

// choiceOption is a string option whose values are choices when there are
// at most 25 of them that Discord accepts, and autocompleted otherwise.
func (l *layout) choiceOption(name, desc string, values []string, required bool) *discordgo.ApplicationCommandOption {
	o := &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: name, Description: clip(desc, maxDescription), Required: required}
	if !fitsChoices(values) {
		o.Autocomplete = true
		return o
	}
	for _, v := range values {
		o.Choices = append(o.Choices, &discordgo.ApplicationCommandOptionChoice{Name: v, Value: v})
	}
	return o
}

// fitsChoices reports whether values can be an option's choices.
func fitsChoices(values []string) bool {
	if len(values) == 0 || len(values) > maxChoices {
		return false
	}
	for _, v := range values {
		if v == "" || utf8.RuneCountInString(v) > maxChoiceName {
			return false
		}
	}
	return true
}

// serviceCommand is svc's subcommand of the create group: its form as
// options (required ones first, as Discord requires), or none when the form
// is asked in a modal.
func (l *layout) serviceCommand(svc *platform.ServiceDefinition, terse bool) *discordgo.ApplicationCommandOption {
	title := svc.Title
	if title == "" {
		title = svc.Name
	}
	desc := title
	if svc.Description != "" {
		desc += ": " + strings.Join(strings.Fields(svc.Description), " ")
	}
	sub := &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionSubCommand, Name: svc.Name}
	if l.inModal(svc.Name) {
		sub.Description = clipWithSuffix(desc, " (opens a form)", maxDescription)
		return sub
	}
	sub.Description = clip(desc, maxDescription)
	zero := 1
	name := &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: optName,
		Description: "Lowercase letters, digits and hyphens, like orders-db", Required: true, MinLength: &zero, MaxLength: platform.MaxNameLength}
	team := l.choiceOption(optTeam, "The team that owns it (default: your only team)", l.teams, false)
	envDesc := "Where it runs"
	if len(l.envs) > 0 {
		envDesc += " (default " + l.envs[0] + ")"
	}
	env := l.choiceOption(optEnvironment, envDesc, l.envs, false)
	var required, optional []*discordgo.ApplicationCommandOption
	for _, f := range svc.Fields {
		o := fieldOption(f, terse)
		if o.Required {
			required = append(required, o)
		} else {
			optional = append(optional, o)
		}
	}
	sub.Options = append([]*discordgo.ApplicationCommandOption{name}, required...)
	sub.Options = append(sub.Options, team, env)
	sub.Options = append(sub.Options, optional...)
	sub.Options = append(sub.Options, dryRunOption())
	return sub
}

// fieldOption renders a service parameter as a typed option: enum → string
// choices (autocomplete beyond 25), integer → integer with bounds, boolean →
// boolean, string → string with length bounds. A parameter with a default
// is optional.
func fieldOption(f platform.Field, terse bool) *discordgo.ApplicationCommandOption {
	o := &discordgo.ApplicationCommandOption{Name: f.Name, Required: f.Required && f.Default == nil}
	desc := f.Description
	if desc == "" || terse {
		desc = f.Label()
	}
	suffix := ""
	if f.Default != nil {
		suffix = " (default " + platform.FormatValue(f.Default) + ")"
	}
	o.Description = clipWithSuffix(strings.Join(strings.Fields(desc), " "), suffix, maxDescription)
	if f.Name == platform.UpstreamField {
		// The choices depend on who asks: their teams' ready upstreams.
		o.Type, o.Autocomplete = discordgo.ApplicationCommandOptionString, true
		o.MaxLength = platform.MaxNameLength
		return o
	}
	switch f.Kind {
	case platform.KindEnum:
		o.Type = discordgo.ApplicationCommandOptionString
		if fitsChoices(f.Options) {
			for _, v := range f.Options {
				o.Choices = append(o.Choices, &discordgo.ApplicationCommandOptionChoice{Name: v, Value: v})
			}
		} else {
			o.Autocomplete = true
		}
	case platform.KindBoolean:
		o.Type = discordgo.ApplicationCommandOptionBoolean
	case platform.KindInteger:
		o.Type = discordgo.ApplicationCommandOptionInteger
		if f.Min != nil {
			v := float64(min(max(*f.Min, -maxInteger), maxInteger))
			o.MinValue = &v
		}
		if f.Max != nil {
			// A maximum of exactly 0 cannot be sent (discordgo omits it);
			// the bot still checks it.
			o.MaxValue = float64(min(max(*f.Max, -maxInteger), maxInteger))
		}
	default:
		o.Type = discordgo.ApplicationCommandOptionString
		if f.MinLength > 0 {
			n := min(f.MinLength, maxStringOption)
			o.MinLength = &n
		}
		if f.MaxLength > 0 {
			o.MaxLength = min(f.MaxLength, maxStringOption)
		}
	}
	return o
}

// commandChars counts what Discord's 8000-character limit counts: names,
// descriptions and choice names and values, across the command.
func commandChars(c *discordgo.ApplicationCommand) int {
	n := utf8.RuneCountInString(c.Name) + utf8.RuneCountInString(c.Description)
	var walk func(opts []*discordgo.ApplicationCommandOption)
	walk = func(opts []*discordgo.ApplicationCommandOption) {
		for _, o := range opts {
			n += utf8.RuneCountInString(o.Name) + utf8.RuneCountInString(o.Description)
			for _, ch := range o.Choices {
				n += utf8.RuneCountInString(ch.Name) + utf8.RuneCountInString(fmt.Sprint(ch.Value))
			}
			walk(o.Options)
		}
	}
	walk(c.Options)
	return n
}

// Commands returns the application commands the adapter registers: /idp,
// built from the engine's catalog and organisation.
func (a *Adapter) Commands() []*discordgo.ApplicationCommand {
	return []*discordgo.ApplicationCommand{a.layout.command}
}

// RegisterCommands replaces the application's commands with Commands, in
// the configured guild (instant, for development) or globally. A bulk
// overwrite is idempotent: registering the same commands again changes
// nothing.
func (a *Adapter) RegisterCommands(ctx context.Context) error {
	cmds, err := a.s.ApplicationCommandBulkOverwrite(a.appID, a.guildID, a.Commands(), discordgo.WithContext(ctx))
	if err != nil {
		return a.apiErr("register commands", err)
	}
	scope := "globally"
	if a.guildID != "" {
		scope = "in guild " + a.guildID
	}
	a.log.InfoContext(ctx, "discord commands registered", "scope", scope, "commands", len(cmds), "grouped", a.layout.grouped)
	return nil
}

// clip shortens s to at most n runes, ending with "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// clipWithSuffix clips s so that s+suffix fits in n runes.
func clipWithSuffix(s, suffix string, n int) string {
	room := n - utf8.RuneCountInString(suffix)
	if room < 8 {
		return clip(s+suffix, n)
	}
	return clip(s, room) + suffix
}
