package thread

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Kind is what a Message is; each Transport renders every kind in its
// platform's own way, from the facts this package words once.
type Kind uint8

// The kinds of messages the Notifier sends.
const (
	// Root stands for a resource in its channel and is edited in place as
	// the resource changes state (RootOf).
	Root Kind = iota + 1
	// Event is one event of a resource's history, a reply in its thread
	// (LineOf), with the event's Actions as buttons.
	Event
	// Secret is a resource's connection details, for its requester only
	// (SecretOf).
	Secret
	// Note is a line of the bot's own in a resource's thread (NoteOf).
	Note
	// Post is a command reply posted outside any resource's story:
	// approval cards, support tickets, surveys, digests.
	Post
)

// Message is what the Notifier asks a Transport to post or edit. Which
// fields are set depends on Kind.
type Message struct {
	Kind     Kind
	Resource *platform.Resource // Root, Event, Secret, Note
	Event    platform.Event     // Event
	Actions  []commands.Action  // Event
	Secrets  map[string]string  // Secret
	Note     NoteKind           // Note
	Reply    commands.Reply     // Post
	// Lines, when set, are what an Event message tells instead of its
	// own Event: several events the Notifier coalesced into one reply
	// (the platform was busy), each an Event or a Note, in order.
	Lines []Message
}

// PartLines renders each part of m (Parts) as one line, an event's with
// event and a note's with note, skipping an event that shows no line:
// the text of a reply that tells several events.
func PartLines(m Message, event func(*platform.Resource, platform.Event) (string, bool), note func(Message) string) []string {
	var lines []string
	for _, part := range m.Parts() {
		if part.Kind == Note {
			lines = append(lines, note(part))
		} else if line, ok := event(part.Resource, part.Event); ok {
			lines = append(lines, line)
		}
	}
	return lines
}

// Parts returns the single messages m tells: its Lines, or itself.
func (m Message) Parts() []Message {
	if len(m.Lines) > 0 {
		return m.Lines
	}
	return []Message{m}
}

// Tone is the colour a platform gives a state where it can (Discord's
// embed colour).
type Tone uint8

// The tones of states.
const (
	Info Tone = iota
	Warning
	Success
	Danger
	Removing
	Muted
)

// Style is how a state or a line is shown: an icon, by its Slack short
// name (`:gear:`) and as the emoji other platforms show, a label and a
// tone.
type Style struct {
	Icon, Emoji, Label string
	Tone               Tone
}

var states = map[platform.State]Style{
	platform.Pending:          {"hourglass_flowing_sand", "⏳", "Pending", Info},
	platform.AwaitingApproval: {"raised_hand", "✋", "Awaiting approval", Warning},
	platform.Provisioning:     {"gear", "⚙️", "Provisioning", Info},
	platform.Ready:            {"white_check_mark", "✅", "Ready", Success},
	platform.Updating:         {"arrows_counterclockwise", "🔄", "Updating", Info},
	platform.Failed:           {"x", "❌", "Failed", Danger},
	platform.Deleting:         {"wastebasket", "🗑️", "Deleting", Removing},
	platform.Deleted:          {"white_circle", "⚪", "Deleted", Muted},
	platform.Rejected:         {"no_entry_sign", "🚫", "Rejected", Danger},
	platform.Expired:          {"hourglass", "⌛", "Expired", Muted},
	platform.Forgotten:        {"ghost", "👻", "Forgotten", Muted},
}

// Styles of the lines that are not state changes.
var (
	StepStyle    = Style{"small_blue_diamond", "🔹", "Step", Info}
	VerdictStyle = Style{"warning", "⚠️", "Policy", Warning}
	NoteStyle    = Style{"memo", "📝", "Note", Info}
	LockStyle    = Style{"lock", "🔒", "Private", Info}
)

// StateStyle returns how state s is shown.
func StateStyle(s platform.State) Style {
	if st, ok := states[s]; ok {
		return st
	}
	return Style{"small_blue_diamond", "•", string(s), Info}
}

// KV is one named value of a message, in the order shown.
type KV struct{ Key, Value string }

// Sorted returns m's entries ordered by key.
func Sorted(m map[string]string) []KV {
	out := make([]KV, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, KV{k, m[k]})
	}
	return out
}

// Facts are what a resource's root message shows, on every platform.
type Facts struct {
	State       Style
	Name, Ref   string
	Service     string
	Team        string
	Environment string
	Requester   platform.Actor
	// Reason is why a request failed, was rejected or expired; empty
	// otherwise.
	Reason string
	// Parameters are the request's parameters, values formatted.
	Parameters []KV
	// Outputs are shown once the resource is ready.
	Outputs []KV
	// Hint tells where to follow the request, and Command how to ask.
	Hint, Command string
	Created       time.Time
	// Summary is the one-line text notifications show.
	Summary string
}

// RootOf returns the facts of r's root message.
func RootOf(r *platform.Resource) Facts {
	st := StateStyle(r.State)
	f := Facts{
		State: st, Name: r.Name, Ref: r.Ref(), Service: r.Service, Team: r.Team, Environment: r.Environment,
		Requester: r.Requester, Created: r.CreatedAt,
		Hint: "Progress in the thread", Command: "/idp status " + r.Ref(),
		Summary: fmt.Sprintf("%s %s (%s) for %s in %s: %s", r.Service, r.Name, r.Ref(), r.Team, r.Environment, strings.ToLower(st.Label)),
	}
	if r.State == platform.Failed || r.State == platform.Rejected || r.State == platform.Expired {
		f.Reason = r.Reason
	}
	for _, k := range slices.Sorted(maps.Keys(r.Parameters)) {
		f.Parameters = append(f.Parameters, KV{k, platform.FormatValue(r.Parameters[k])})
	}
	if r.State == platform.Ready {
		f.Outputs = Sorted(r.Outputs)
	}
	return f
}

// Line is one event of a resource's history as its thread shows it.
type Line struct {
	Style Style
	// Label is the state a transition reached, shown in bold; empty for
	// other lines.
	Label string
	// Text is the event's message (for a transition, when it says more
	// than the label).
	Text string
	// Outputs are shown with the transition to ready.
	Outputs []KV
}

// Markup is how a platform writes text: its icons, bold, escaping and
// how it shows a named value.
type Markup struct {
	Icon   func(Style) string
	Bold   func(string) string
	Escape func(string) string
	Value  func(KV) string
}

// Format writes l in markup m: "⚙️ **Provisioning** — started", the
// outputs on a line of their own.
func (l Line) Format(m Markup) string {
	line := m.Icon(l.Style)
	if l.Label != "" {
		line += " " + m.Bold(m.Escape(l.Label))
		if l.Text != "" {
			line += " —"
		}
	}
	if l.Text != "" {
		line += " " + m.Escape(l.Text)
	}
	if len(l.Outputs) > 0 {
		outs := make([]string, len(l.Outputs))
		for i, kv := range l.Outputs {
			outs[i] = m.Value(kv)
		}
		line += "\n" + strings.Join(outs, " · ")
	}
	return line
}

// LineOf returns the thread line of event ev of r, or false when ev shows
// no line: a secret's content goes to the requester only, and a note
// without a message says nothing.
func LineOf(r *platform.Resource, ev platform.Event) (Line, bool) {
	switch ev.Kind {
	case platform.EventTransition:
		st := StateStyle(ev.To)
		l := Line{Style: st, Label: st.Label}
		if ev.Message != "" && !strings.EqualFold(ev.Message, st.Label) {
			l.Text = ev.Message
		}
		if ev.To == platform.Ready {
			l.Outputs = Sorted(r.Outputs)
		}
		if ev.To == platform.Failed && ev.From == platform.Deleting {
			l.Text = strings.TrimSpace(l.Text + " " + ForgetHint(r))
		}
		return l, true
	case platform.EventStep:
		return Line{Style: StepStyle, Text: ev.Message}, true
	case platform.EventVerdict:
		return Line{Style: VerdictStyle, Text: ev.Message}, true
	case platform.EventSecret:
		return Line{}, false
	}
	if ev.Message == "" {
		return Line{}, false
	}
	return Line{Style: NoteStyle, Text: ev.Message}, true
}

// ForgetHint is what the message of a failed deletion offers: retrying,
// or, for an admin, forgetting the resource.
func ForgetHint(r *platform.Resource) string {
	return fmt.Sprintf("Retry with /idp retry %s; if it cannot be deprovisioned, an admin can remove the record with /idp forget %s --reason <text>.", r.Ref(), r.Ref())
}

// Details are what a resource's private message of connection details
// shows.
type Details struct {
	// Title names the resource; About says what it is and that only the
	// requester sees it.
	Title, About string
	Outputs      []KV
	// Values are the secrets, the connection URL first.
	Values []KV
}

// SecretOf returns the private message of r's connection details.
func SecretOf(r *platform.Resource, secrets map[string]string) Details {
	values := Sorted(secrets)
	slices.SortStableFunc(values, func(a, b KV) int {
		switch {
		case a.Key == "url" && b.Key != "url":
			return -1
		case b.Key == "url" && a.Key != "url":
			return 1
		}
		return 0
	})
	return Details{
		Title: fmt.Sprintf("Connection details for %s %s", r.Name, r.Ref()),
		About: fmt.Sprintf("%s in %s/%s. Only you can see this message; keep them somewhere safe, they are not shown again.",
			r.Service, r.Team, r.Environment),
		Outputs: Sorted(r.Outputs),
		Values:  values,
	}
}

// NoteKind is which note of the bot's own a Note message is.
type NoteKind uint8

// The notes the Notifier posts in a thread.
const (
	// SecretSent: the connection details went to the requester's direct
	// messages.
	SecretSent NoteKind = iota + 1
	// CannotDM: the requester does not accept direct messages.
	CannotDM
)

// NoteOf words note n about who, rendered by mention (a platform's
// mention of an actor, or their name).
func NoteOf(n NoteKind, who string) (Style, string) {
	switch n {
	case CannotDM:
		return LockStyle, fmt.Sprintf("The connection details could not be sent to %s: they do not accept direct messages from the bot. "+
			"Allow them, then ask the platform team to reset the credentials.", who)
	default:
		return LockStyle, fmt.Sprintf("Connection details were sent to %s by direct message.", who)
	}
}
