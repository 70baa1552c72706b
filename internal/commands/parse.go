package commands

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// MaxCommandLength is the longest command text accepted, in bytes.
const MaxCommandLength = 64 << 10

// quotesAndEscapes are the characters that make split more than a split at
// spaces.
const quotesAndEscapes = `'"\‘’“”`

// split breaks a command into words the way a shell would: whitespace
// separates words; single quotes keep everything literally; double quotes
// allow \" and \\; outside quotes a backslash escapes the next character.
// Typographic quotes (“…”, ‘…’), which chat clients substitute, count as
// quotes. Every problem is an Invalid error saying what is wrong.
func split(s string) ([]string, error) {
	if len(s) > MaxCommandLength {
		return nil, platform.Errorf(platform.Invalid, "The command is too long (%d bytes; the limit is %d).", len(s), MaxCommandLength)
	}
	if !utf8.ValidString(s) {
		return nil, platform.Errorf(platform.Invalid, "The command is not valid UTF-8 text.")
	}
	for _, r := range s {
		if r != '\t' && r != '\n' && r != '\r' && (unicode.IsControl(r) || r == '\uFEFF') {
			return nil, platform.Errorf(platform.Invalid, "The command contains a control character (%U); remove it and try again.", r)
		}
	}
	if !strings.ContainsAny(s, quotesAndEscapes) {
		// nothing quoted or escaped: the words between spaces
		if words := strings.Fields(s); len(words) > 0 {
			return words, nil
		}
		return nil, nil
	}
	return splitQuoted(s)
}

// splitQuoted is split of a command with quotes or escapes in it.
func splitQuoted(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune // the closing quote we are inside, or 0
		opening rune
	)
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote == '\'' || quote == '’':
			if r == quote || quote == '’' && r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote != 0:
			switch {
			case r == quote || quote == '”' && r == '"':
				quote = 0
			case r == '\\' && i+1 < len(runes) && (runes[i+1] == '"' || runes[i+1] == '\\'):
				i++
				cur.WriteRune(runes[i])
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '‘':
			quote, opening, inWord = '\'', r, true
			if r == '‘' {
				quote = '’'
			}
		case r == '"' || r == '“':
			quote, opening, inWord = '"', r, true
			if r == '“' {
				quote = '”'
			}
		case r == '\\' && i+1 < len(runes):
			i++
			cur.WriteRune(runes[i])
			inWord = true
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, platform.Errorf(platform.Invalid, "The command has an unterminated quote (%c); close it or remove it.", opening)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// flagSpec describes an option a verb accepts.
type flagSpec struct {
	name    string // without dashes
	aliases []string
	value   string // placeholder for the value; "" for a switch
	help    string
	// role is who help mentions the option to.
	role Role
}

// args is a parsed command line: positional words and options.
type args struct {
	pos   []string
	flags map[string]string
}

func (a args) has(name string) bool { _, ok := a.flags[name]; return ok }

// parseArgs separates options from positional words. Options may appear
// anywhere, as --name, --name value or --name=value; "--" ends options.
func parseArgs(verb string, words []string, specs []flagSpec) (args, error) {
	a := args{flags: map[string]string{}}
	lookup := func(name string) (flagSpec, bool) {
		for _, s := range specs {
			if s.name == name || slices.Contains(s.aliases, name) {
				return s, true
			}
		}
		return flagSpec{}, false
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			a.pos = append(a.pos, words[i+1:]...)
			break
		}
		if !strings.HasPrefix(w, "-") || w == "-" || isNumber(w) {
			a.pos = append(a.pos, w)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		name = strings.ToLower(name)
		spec, ok := lookup(name)
		if !ok {
			return a, unknownFlag(verb, w, specs)
		}
		if _, dup := a.flags[spec.name]; dup {
			return a, platform.Errorf(platform.Invalid, "--%s is given twice.", spec.name)
		}
		switch {
		case spec.value == "" && hasValue:
			return a, platform.Errorf(platform.Invalid, "--%s takes no value.", spec.name)
		case spec.value != "" && !hasValue:
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				return a, platform.Errorf(platform.Invalid, "--%s needs a value, like --%s %s.", spec.name, spec.name, spec.value)
			}
			i++
			value = words[i]
		}
		if spec.value != "" && strings.TrimSpace(value) == "" {
			return a, platform.Errorf(platform.Invalid, "--%s needs a value, like --%s %s.", spec.name, spec.name, spec.value)
		}
		a.flags[spec.name] = value
	}
	return a, nil
}

func isNumber(s string) bool {
	if len(s) < 2 {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func unknownFlag(verb, flag string, specs []flagSpec) error {
	shown := quoteInput(flag, 32)
	if len(specs) == 0 {
		return platform.Errorf(platform.Invalid, "Unknown option %s: %s takes no options.", shown, verb)
	}
	var names, usage []string
	for _, s := range specs {
		names = append(names, "--"+s.name)
		u := "--" + s.name
		if s.value != "" {
			u += " " + s.value
		}
		usage = append(usage, u)
	}
	msg := fmt.Sprintf("Unknown option %s for %s.", shown, verb)
	if c := platform.Closest("--"+strings.TrimLeft(flag, "-"), names); c != "" {
		msg += fmt.Sprintf(" Did you mean %s?", c)
	}
	return platform.Errorf(platform.Invalid, "%s Options: %s.", msg, strings.Join(usage, ", "))
}

// quoteInput echoes user input back safely: quoted, and cut to n runes.
func quoteInput(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		s = string(r[:n]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
