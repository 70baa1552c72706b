package commands

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// Reply is what a command answers, independent of any chat platform. Chat
// adapters render it (Block Kit, Discord embeds, plain text); Text is the
// plain rendering.
type Reply struct {
	// Title is the first line: what happened, or the error message.
	Title    string
	Sections []Section
	// Ephemeral replies are shown only to the person who asked.
	Ephemeral bool
	// Form asks the adapter to collect the fields of a request (a Slack
	// modal, Discord options, console prompts) and pass them to
	// Router.Submit.
	Form *Form
	// Confirm asks the person to confirm before the command runs.
	Confirm *Confirm
	// Errors are field-level problems, for inline display in a form.
	Errors []platform.FieldError
	// Err is the error the reply reports, for the adapter's boundary
	// (metrics, status codes); its chain is never shown to users.
	Err error
	// ErrRef is set for internal errors: the reference logged with the
	// error chain and shown as "Something went wrong (ref: …)".
	ErrRef string
	// Resource is set when a request was created or a deletion started.
	Resource *platform.Resource
	// Plan is set when a request was planned (dry run) or submitted.
	Plan *platform.Plan
	// Actions are buttons under the reply (Approve / Reject, NPS scores,
	// Extend): each runs a command as the person who clicks it.
	Actions []Action
	// Same, when set, says that every reply with this value is this
	// reply (help, for one set of roles): an adapter may keep what it
	// renders from it and reuse it. The reply is shared: never change it.
	// It is not part of the reply's JSON, whose hash keys posts
	// (thread.contentKey) and must not change across versions.
	Same string `json:"-"`
}

// Action is a button: clicking it runs Command (the text after "/idp") as
// the person who clicked, who must be allowed to run it like any command.
type Action struct {
	Label   string `json:"label"`
	Command string `json:"command"`
	// Style is "primary", "danger" or "" (plain).
	Style string `json:"style,omitempty"`
	// Input, when set, asks the clicker for one line of text first (a
	// reason, a comment) with this label; it is appended to Command as one
	// quoted argument.
	Input string `json:"input,omitempty"`
}

// CommandWith returns the command an Action runs once its input is text:
// the text is one quoted argument after "--", so that a reason such as
// "--yes" is never read as an option.
func (a Action) CommandWith(text string) string {
	if a.Input == "" {
		return a.Command
	}
	return a.Command + " -- " + Quote(text)
}

// Quote quotes s as one argument of a command line.
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Section is a titled part of a Reply: free text and key-value fields.
type Section struct {
	Heading string `json:"heading,omitempty"`
	Text    string `json:"text,omitempty"`
	Fields  []KV   `json:"fields,omitempty"`
}

// KV is one labelled value of a Section. A Value may span several lines.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Confirm asks for confirmation of a destructive command.
type Confirm struct {
	// Prompt is the question, without "[y/N]".
	Prompt string
	// Yes is the command text (after "/idp") that runs the command
	// confirmed.
	Yes string
}

// Width is the number of columns Text fits in.
const Width = 80

// Text renders the reply as plain text that reads well in 80 columns:
// the title, then each section with its body indented, then the field
// errors of a failed command, a confirmation hint or the form's fields.
func (r Reply) Text() string {
	var b strings.Builder
	writeWrapped(&b, r.Title, "", Width)
	for _, s := range r.Sections {
		indent := ""
		b.WriteString("\n")
		if s.Heading != "" {
			writeWrapped(&b, s.Heading, "", Width)
			indent = "  "
		}
		if s.Text != "" {
			writeWrapped(&b, s.Text, indent, Width)
		}
		writeFields(&b, s.Fields, indent)
	}
	if r.Err != nil && len(r.Errors) > 0 {
		for _, e := range r.Errors {
			wrapLine(&b, "• "+fieldErrorText(e), "  ", "    ", Width)
		}
	}
	if r.Confirm != nil {
		b.WriteString("\n")
		writeWrapped(&b, r.Confirm.Prompt, "", Width)
		writeWrapped(&b, "To confirm, run: /idp "+r.Confirm.Yes, "", Width)
	}
	if len(r.Actions) > 0 {
		b.WriteString("\n")
		for _, a := range r.Actions {
			cmd := "/idp " + a.Command
			if a.Input != "" {
				cmd += " <" + strings.ToLower(a.Input) + ">"
			}
			wrapLine(&b, "["+a.Label+"] "+cmd, "", "    ", Width)
		}
	}
	if r.Form != nil {
		names := make([]string, len(r.Form.Fields))
		for i, f := range r.Form.Fields {
			names[i] = f.Name
		}
		writeWrapped(&b, "Fields: "+strings.Join(names, ", "), "", Width)
	}
	return b.String()
}

// fieldErrorText renders a field error as "field: message (rule)".
func fieldErrorText(e platform.FieldError) string {
	s := e.Message
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if e.Rule != "" && !strings.Contains(e.Message, e.Rule) {
		s += " (rule " + e.Rule + ")"
	}
	return s
}

func writeFields(b *strings.Builder, fields []KV, indent string) {
	width := 0
	for _, f := range fields {
		width = max(width, utf8.RuneCountInString(f.Key))
	}
	for _, f := range fields {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.Key)+2)
		cont := indent + strings.Repeat(" ", width+2)
		lines := strings.Split(f.Value, "\n")
		first := indent + f.Key + pad
		if Width-utf8.RuneCountInString(cont) < 30 {
			// The key is too wide to keep values beside it.
			fmt.Fprintf(b, "%s%s\n", indent, f.Key)
			first, cont = indent+"    ", indent+"    "
		}
		for i, l := range lines {
			prefix := cont
			if i == 0 {
				prefix = first
			}
			wrapLine(b, l, prefix, cont, Width)
		}
	}
}

// writeWrapped writes text line by line, each wrapped to width and indented.
func writeWrapped(b *strings.Builder, text, indent string, width int) {
	if text == "" {
		return
	}
	for _, l := range strings.Split(text, "\n") {
		wrapLine(b, l, indent, indent+strings.Repeat(" ", hang(l)), width)
	}
}

// hang returns the column continuation lines of l are indented to: after
// the last run of two spaces in its first 40 runes (the start of the last
// column of a table-like line), or 0.
func hang(l string) int {
	r := []rune(l)
	col := 0
	for i := 1; i < min(len(r), 40); i++ {
		if r[i-1] == ' ' && r[i] == ' ' && i+1 < len(r) && r[i+1] != ' ' {
			col = i + 1
		}
	}
	return col
}

// wrapLine writes one line, breaking it at spaces (or anywhere, for a word
// longer than the line) so that no output line exceeds width runes.
func wrapLine(b *strings.Builder, line, first, rest string, width int) {
	prefix := first
	for {
		room := max(width-utf8.RuneCountInString(prefix), 20)
		r := []rune(line)
		if len(r) <= room {
			b.WriteString(strings.TrimRight(prefix+line, " "))
			b.WriteString("\n")
			return
		}
		cut := -1
		for i := room; i > room/3; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		next := 0
		if cut < 0 {
			cut, next = room, room
		} else {
			next = cut + 1
		}
		b.WriteString(strings.TrimRight(prefix+string(r[:cut]), " "))
		b.WriteString("\n")
		line = string(r[next:])
		prefix = rest
	}
}

// Tabular reports whether text is aligned in columns (two spaces between
// them on most of several lines), so that it reads well only in
// monospace: the adapters show such a section as code.
func Tabular(text string) bool {
	lines := strings.Split(text, "\n")
	if len(lines) < 2 {
		return false
	}
	n := 0
	for _, l := range lines {
		if strings.Contains(strings.TrimSpace(l), "  ") {
			n++
		}
	}
	return n*2 >= len(lines)
}
