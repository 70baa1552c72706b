package commands

import (
	"strings"
	"testing"
)

func TestActionCommandWithRoundTrips(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"too big for staging",
		`quote " and backslash \ and "both\"`,
		"ünïcödé — and emoji 🚀",
		"",
		"--yes; rm -rf / $(whoami) `id`",
		"--yes",
	} {
		a := Action{Label: "Reject", Command: "reject 12", Input: "Reason"}
		words, err := split(a.CommandWith(text))
		if err != nil {
			t.Fatalf("split(%q) = %v", a.CommandWith(text), err)
		}
		got, err := parseArgs("reject", words[1:], nil)
		if err != nil {
			t.Fatalf("parseArgs(%q) = %v", words[1:], err)
		}
		if words[0] != "reject" || len(got.pos) != 2 || got.pos[0] != "12" || got.pos[1] != text || len(got.flags) != 0 {
			t.Errorf("CommandWith(%q) parses into %q %v, want [12 %q] and no options", text, got.pos, got.flags, text)
		}
	}
	if got := (Action{Command: "approve 12"}).CommandWith("ignored"); got != "approve 12" {
		t.Errorf("CommandWith without Input = %q, want the command alone", got)
	}
}

func TestReplyTextShowsActions(t *testing.T) {
	t.Parallel()
	r := Reply{Title: "Approval needed", Actions: []Action{
		{Label: "Approve", Command: "approve 12", Style: "primary"},
		{Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"},
	}}
	got := r.Text()
	for _, want := range []string{"[Approve] /idp approve 12", "[Reject] /idp reject 12 <reason>"} {
		if !strings.Contains(got, want) {
			t.Errorf("Text() = %q, want it to contain %q", got, want)
		}
	}
}
