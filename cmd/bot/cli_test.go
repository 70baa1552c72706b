package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs the bot with args and an empty environment.
func runCLI(args ...string) (stdout string, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

func TestHelpPrintsUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
		out, err := runCLI(args...)
		if err != nil || out != usageText+"\n" {
			t.Errorf("run(%q) = %q, %v; want the usage and no error", args, out, err)
		}
	}
	for _, want := range []string{"usage: idpbot [flags] [command]", "serve", "console", "migrate", "catalog validate [DIR]",
		"policy test", "version", "help [COMMAND]", "--config FILE", "--user NAME", "--wait DUR", "--help"} {
		if !strings.Contains(usageText, want) {
			t.Errorf("usage lacks %q:\n%s", want, usageText)
		}
	}
	if strings.Contains(usageText, "usage: bot") {
		t.Errorf("usage names the binary bot:\n%s", usageText)
	}
}

// Every subcommand's help, asked either way, gives its synopsis, its
// flags and an example, and exits 0 without running it.
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	for _, s := range subcommands {
		asked := [][]string{{s.name, "--help"}, {s.name, "-h"}, {"help", s.name}, {"--help", s.name}}
		if s.name == "catalog" || s.name == "policy" {
			asked = append(asked, []string{s.name, map[string]string{"catalog": "validate", "policy": "test"}[s.name], "--help"})
		}
		for _, args := range asked {
			out, err := runCLI(args...)
			if err != nil {
				t.Errorf("run(%q) = %v, want help", args, err)
				continue
			}
			wants := []string{"usage: idpbot " + s.synopsis + "\n", s.summary, "example:\n  " + s.example}
			for _, f := range s.flags {
				wants = append(wants, "flags:\n", flagHelp[f])
			}
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("run(%q) lacks %q:\n%s", args, want, out)
				}
			}
		}
	}
	// The flags shown are the ones the command reads.
	if out, _ := runCLI("console", "--help"); !strings.Contains(out, "--wait DUR") || !strings.Contains(out, "--user NAME") {
		t.Errorf("console help lacks its flags:\n%s", out)
	}
	if out, _ := runCLI("version", "--help"); strings.Contains(out, "flags:") {
		t.Errorf("version help shows flags it does not read:\n%s", out)
	}
}

// Mistakes on the command line exit 2 with the usage, to stderr (main
// prints errorText there).
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--frobnicate"}, "flag provided but not defined: -frobnicate"},
		{[]string{"serve", "--frobnicate"}, "flag provided but not defined: -frobnicate"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"frobnicate", "--help"}, `unknown command "frobnicate"`},
		{[]string{"help", "serve", "console"}, "help: want `help [COMMAND]`"},
		{[]string{"version", "extra"}, "version takes no arguments"},
		{[]string{"--wait", "soon"}, `invalid value "soon" for flag -wait`},
	} {
		out, err := runCLI(tc.args...)
		if exitCode(err) != 2 || !strings.Contains(errorText(err), tc.want) || !strings.Contains(errorText(err), usageText) {
			t.Errorf("run(%q) = %v (exit %d); want exit 2 saying %q, then the usage", tc.args, err, exitCode(err), tc.want)
		}
		if out != "" {
			t.Errorf("run(%q) wrote %q to stdout", tc.args, out)
		}
	}
}

func TestVersionText(t *testing.T) {
	t.Parallel()
	info := func(settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
		for i := 0; i < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"clean", info("vcs", "git", "vcs.revision", "c5d1f7d0e1", "vcs.time", "2026-12-06T04:00:00Z", "vcs.modified", "false"), true,
			"idpbot v1.2.3\ncommit: c5d1f7d0e1 (2026-12-06T04:00:00Z)\ngo: go1.26.8\n"},
		{"dirty", info("vcs.revision", "c5d1f7d0e1", "vcs.time", "2026-12-06T04:00:00Z", "vcs.modified", "true"), true,
			"idpbot v1.2.3\ncommit: c5d1f7d0e1 (2026-12-06T04:00:00Z), modified\ngo: go1.26.8\n"},
		{"no vcs", info("-trimpath", "true"), true,
			"idpbot v1.2.3\ncommit: unknown (built without VCS information)\ngo: go1.26.8\n"},
		{"no build info", nil, false, "idpbot v1.2.3\ncommit: unknown (no build information in the binary)\n"},
	} {
		if got := versionText("v1.2.3", tc.info, tc.ok); got != tc.want {
			t.Errorf("%s: versionText = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// version reads the binary's own build information.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	out, err := runCLI("version")
	info, ok := debug.ReadBuildInfo()
	if err != nil || !ok || out != versionText(version, info, ok) || !strings.HasPrefix(out, "idpbot dev\n") ||
		!strings.Contains(out, "go: "+info.GoVersion+"\n") {
		t.Errorf("version = %q, %v; want the version, commit and %s", out, err, info.GoVersion)
	}
}
