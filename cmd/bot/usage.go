package main

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
)

// binary is the name the bot ships as (the image's /idpbot, make build's
// bin/idpbot); usage and help name it.
const binary = "idpbot"

// subcommand is what `idpbot help NAME` says about one command.
type subcommand struct {
	name     string
	short    string // one line for the usage
	synopsis string // the command line, after the binary's name
	summary  string
	flags    []string // names of the global flags it reads
	example  string
}

// subcommands are the commands, in the order the usage lists them.
var subcommands = []subcommand{
	{name: "serve", short: "the server: chat adapters, /healthz, /readyz, /metrics and the jobs", synopsis: "serve [--config FILE]",
		summary: "Run the server: the Slack and Discord adapters, /healthz, /readyz, /metrics and the provisioning jobs.\n" +
			"Logs JSON unless stderr is a terminal (IDPBOT_LOG_FORMAT or log.format say otherwise).",
		flags:   []string{"config"},
		example: "DATABASE_URL=postgres://... SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... idpbot serve"},
	{name: "console", short: "the local console: type /idp commands in the terminal", synopsis: "console [--config FILE] [--user NAME] [--wait DUR]",
		summary: "Open the local console: type /idp commands in the terminal, or pipe them in.\n" +
			"With no command and no Slack/Discord credentials, idpbot opens the console too.",
		flags:   []string{"config", "user", "wait"},
		example: "printf '/idp create postgresql-database name=orders-db team=payments\\n' | idpbot console --user alice"},
	{name: "migrate", short: "apply database migrations and exit", synopsis: "migrate",
		summary: "Apply the database migrations to DATABASE_URL and exit (serve and console apply them at start too).",
		example: "DATABASE_URL=postgres://postgres@localhost:5432/idpbot idpbot migrate"},
	{name: "catalog", short: "check a catalog directory (default: the built-in catalog)", synopsis: "catalog validate [DIR]",
		summary: "Check a directory of catalog YAML files (default: the built-in catalog); print every problem and exit 1 if there is one.",
		example: "idpbot catalog validate ./catalog"},
	{name: "policy", short: "run a file of policy test cases against the config's rules", synopsis: "policy test [--config FILE] FILE",
		summary: "Run a file of policy test cases against the rules and quotas of the config; exit 1 if a case does not get its verdict.",
		flags:   []string{"config"},
		example: "idpbot policy test --config deploy/config.example.yaml deploy/policy-tests.yaml"},
	{name: "version", short: "print the version, commit and Go version", synopsis: "version",
		summary: "Print the version, the commit it was built from and its time, and the Go version.",
		example: "idpbot version"},
	{name: "help", short: "print this, or a command's synopsis, flags and example", synopsis: "help [COMMAND]",
		summary: "Print the usage, or the synopsis, flags and an example of COMMAND (same as idpbot COMMAND --help).",
		example: "idpbot help console"},
}

// flagHelp describes the global flags.
var flagHelp = map[string]string{
	"config": "--config FILE   config file (IDPBOT_CONFIG); default: built-in",
	"user":   "--user NAME     console user (IDPBOT_CONSOLE_USER); default: the OS user",
	"wait":   "--wait DUR      console: how long to wait for started requests when input ends (default 2m)",
}

func lookupSubcommand(name string) (subcommand, bool) {
	for _, s := range subcommands {
		if s.name == name {
			return s, true
		}
	}
	return subcommand{}, false
}

// usageText is the bot's usage: its commands and flags.
var usageText = func() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s [flags] [command]\n\ncommands:\n", binary)
	width := 0
	for _, s := range subcommands {
		width = max(width, len(s.command()))
	}
	fmt.Fprintf(&b, "  %-*s  %s\n", width, "(none)", "the console when no Slack/Discord credentials are set, else serve")
	for _, s := range subcommands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, s.command(), s.short)
	}
	b.WriteString("\nflags:\n")
	for _, name := range []string{"config", "user", "wait"} {
		fmt.Fprintf(&b, "  %s\n", flagHelp[name])
	}
	fmt.Fprintf(&b, "  --help          print this, or a command's help (%s COMMAND --help)", binary)
	return b.String()
}()

// flagsInSynopsis matches the flags of a synopsis, which the usage lists
// apart.
var flagsInSynopsis = regexp.MustCompile(` \[--[^]]*\]`)

// command is the synopsis without its flags.
func (s subcommand) command() string { return flagsInSynopsis.ReplaceAllString(s.synopsis, "") }

// helpText is what `idpbot help s` prints.
func (s subcommand) helpText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s %s\n\n%s\n", binary, s.synopsis, s.summary)
	if len(s.flags) > 0 {
		b.WriteString("\nflags:\n")
		for _, f := range s.flags {
			fmt.Fprintf(&b, "  %s\n", flagHelp[f])
		}
	}
	fmt.Fprintf(&b, "\nexample:\n  %s", s.example)
	return b.String()
}

// versionText describes the build: the version set at link time, the
// commit and its time (and whether the tree was modified) as the Go
// toolchain stamped them, and the Go version. A binary built without VCS
// information (outside a git checkout, or with -buildvcs=false) says so.
func versionText(version string, info *debug.BuildInfo, ok bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", binary, version)
	if !ok {
		b.WriteString("commit: unknown (no build information in the binary)\n")
		return b.String()
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	switch rev := settings["vcs.revision"]; {
	case rev == "":
		b.WriteString("commit: unknown (built without VCS information)\n")
	default:
		fmt.Fprintf(&b, "commit: %s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", modified")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "go: %s\n", info.GoVersion)
	return b.String()
}
