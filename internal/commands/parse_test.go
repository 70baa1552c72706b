package commands

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "   \t\n ", want: nil},
		{in: "create postgresql-database", want: []string{"create", "postgresql-database"}},
		{in: "  list\t--team   payments\r\n", want: []string{"list", "--team", "payments"}},
		{in: `create x description="two words" name=db`, want: []string{"create", "x", "description=two words", "name=db"}},
		{in: `create x 'description=it''s'`, want: []string{"create", "x", "description=its"}},
		{in: `a "say \"hi\"" "back\\slash" "keep\n"`, want: []string{"a", `say "hi"`, `back\slash`, `keep\n`}},
		{in: `a 'no $(expansion) or \escapes'`, want: []string{"a", `no $(expansion) or \escapes`}},
		{in: `a one\ word \"x\"`, want: []string{"a", "one word", `"x"`}},
		{in: `a "" ''`, want: []string{"a", "", ""}},
		{in: `a trailing\`, want: []string{"a", `trailing\`}},
		{in: "create x description=“smart quotes” name=‘db’", want: []string{"create", "x", "description=smart quotes", "name=db"}},
		{in: "status 数据库 ördërs 🐘", want: []string{"status", "数据库", "ördërs", "🐘"}},
		{in: "create x name=db;rm -rf /", want: []string{"create", "x", "name=db;rm", "-rf", "/"}},
		{in: `create "unterminated`, wantErr: `The command has an unterminated quote ("); close it or remove it.`},
		{in: `create 'unterminated`, wantErr: `The command has an unterminated quote ('); close it or remove it.`},
		{in: "create “smart", wantErr: `The command has an unterminated quote (“); close it or remove it.`},
		{in: "status a\x00b", wantErr: "The command contains a control character (U+0000); remove it and try again."},
		{in: "status \x1b[31mred", wantErr: "The command contains a control character (U+001B); remove it and try again."},
		{in: "status a\u0085", wantErr: "The command contains a control character (U+0085); remove it and try again."},
		{in: "status \uFEFFx", wantErr: "The command contains a control character (U+FEFF); remove it and try again."},
		{in: "status \xff\xfe", wantErr: "The command is not valid UTF-8 text."},
		{in: strings.Repeat("a", MaxCommandLength+1), wantErr: "The command is too long (65537 bytes; the limit is 65536)."},
	}
	for _, tt := range tests {
		got, err := split(tt.in)
		if tt.wantErr != "" {
			if platform.ErrorCode(err) != platform.Invalid || platform.ErrorMessage(err) != tt.wantErr {
				t.Errorf("split(%.40q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("split(%q) error: %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("split(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	listFlags := []flagSpec{{name: "team", value: "T"}, {name: "env", aliases: []string{"environment"}, value: "E"}, {name: "mine"}, {name: "all"}}
	tests := []struct {
		words     string
		specs     []flagSpec
		wantPos   []string
		wantFlags map[string]string
		wantErr   string
	}{
		{words: "--team payments --mine", specs: listFlags, wantFlags: map[string]string{"team": "payments", "mine": ""}},
		{words: "--team=payments --environment=prod", specs: listFlags, wantFlags: map[string]string{"team": "payments", "env": "prod"}},
		{words: "-all", specs: listFlags, wantFlags: map[string]string{"all": ""}},
		{words: "--TEAM payments", specs: listFlags, wantFlags: map[string]string{"team": "payments"}},
		{words: "a -- --team b", specs: listFlags, wantPos: []string{"a", "--team", "b"}, wantFlags: map[string]string{}},
		{words: "#-1 -5 -", specs: listFlags, wantPos: []string{"#-1", "-5", "-"}, wantFlags: map[string]string{}},
		{words: "--team", specs: listFlags, wantErr: "--team needs a value, like --team T."},
		{words: "--team --mine", specs: listFlags, wantErr: "--team needs a value, like --team T."},
		{words: "--team=", specs: listFlags, wantErr: "--team needs a value, like --team T."},
		{words: "--team a --team b", specs: listFlags, wantErr: "--team is given twice."},
		{words: "--mine=yes", specs: listFlags, wantErr: "--mine takes no value."},
		{words: "--tema x", specs: listFlags, wantErr: `Unknown option "--tema" for list. Did you mean --team? Options: --team T, --env E, --mine, --all.`},
		{words: "--zzzzzz", specs: listFlags, wantErr: `Unknown option "--zzzzzz" for list. Options: --team T, --env E, --mine, --all.`},
		{words: "--yes", specs: nil, wantErr: `Unknown option "--yes": list takes no options.`},
		{words: "--" + strings.Repeat("x", 100), specs: listFlags, wantErr: `Unknown option "--` + strings.Repeat("x", 30) + `…" for list. Options: --team T, --env E, --mine, --all.`},
	}
	for _, tt := range tests {
		got, err := parseArgs("list", strings.Fields(tt.words), tt.specs)
		if tt.wantErr != "" {
			if platform.ErrorMessage(err) != tt.wantErr {
				t.Errorf("parseArgs(%q) error = %v, want %q", tt.words, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseArgs(%q) error: %v", tt.words, err)
			continue
		}
		if diff := cmp.Diff(tt.wantPos, got.pos); diff != "" {
			t.Errorf("parseArgs(%q) positional mismatch (-want +got):\n%s", tt.words, diff)
		}
		if diff := cmp.Diff(tt.wantFlags, got.flags); diff != "" {
			t.Errorf("parseArgs(%q) flags mismatch (-want +got):\n%s", tt.words, diff)
		}
	}
}

func TestReplyTextFitsWidth(t *testing.T) {
	t.Parallel()
	r := Reply{
		Title: strings.Repeat("word ", 40),
		Sections: []Section{
			{Heading: "Heading", Text: strings.Repeat("x", 200), Fields: []KV{{Key: "Key", Value: strings.Repeat("value ", 30) + "\nsecond line"}}},
			{Fields: []KV{{Key: strings.Repeat("k", 70), Value: "v"}}},
		},
		Err:    platform.Errorf(platform.Invalid, "bad"),
		Errors: []platform.FieldError{{Field: "name", Message: strings.Repeat("long message ", 20), Rule: "naming"}},
	}
	text := r.Text()
	for _, line := range strings.Split(text, "\n") {
		if n := len([]rune(line)); n > Width {
			t.Errorf("line of %d runes: %q", n, line)
		}
	}
	for _, want := range []string{"second line", "(rule naming)", "• name: long message"} {
		if !strings.Contains(text, want) {
			t.Errorf("Text() lacks %q:\n%s", want, text)
		}
	}
}

// TestSplitWithoutQuotesIsSplitQuoted checks split's shortcut for a command
// with no quote or escape: the same words as the full tokenizer, whatever
// the spaces between them.
func TestSplitWithoutQuotesIsSplitQuoted(t *testing.T) {
	for _, s := range []string{
		"help", " help ", "create postgresql-database name=orders-db size=small",
		"list\t--team\npayments", "status\u00a0orders-db", "audit\u2003#12\u3000x", "créer ünïcode 🚀 db",
		"a\r\nb", "", " ", "\u2028", "x=1 y=2,3", "--dry-run -h ?",
	} {
		got, err := split(s)
		if err != nil {
			t.Fatalf("split(%q): %v", s, err)
		}
		want, err := splitQuoted(s)
		if err != nil {
			t.Fatalf("splitQuoted(%q): %v", s, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("split(%q) differs from splitQuoted (-want +got):\n%s", s, diff)
		}
	}
}
