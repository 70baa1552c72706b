package discord

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Discord's documented message limits the renderer keeps to.
const (
	maxContent       = 2000
	maxEmbeds        = 10
	maxEmbedTotal    = 6000
	maxEmbedTitle    = 256
	maxEmbedDesc     = 4096
	maxEmbedFields   = 25
	maxFieldName     = 256
	maxFieldValue    = 1024
	maxFooter        = 2048
	maxRowComponents = 5
	maxButtonLabel   = 80
	maxThreadName    = 100
	// inlineField is the longest field value shown beside others.
	inlineField = 40
)

// Embed colours.
const (
	colorInfo    = 0x5865F2
	colorError   = 0xED4245
	colorWarning = 0xFEE75C
	colorSuccess = 0x57F287
	colorMuted   = 0x95A5A6
	colorOrange  = 0xE67E22
)

// Custom id prefixes of the components the adapter renders and handles.
const (
	// idDelete and idCancel are the Confirm and Cancel buttons of a
	// deletion; the resource's ref ("#12") follows.
	idDelete = "idp:delete:"
	idCancel = "idp:cancel:"
	// idCreate is a create modal's prefix; the service follows, then
	// ":dry" for a dry run or ":new".
	idCreate = "idp:create:"
)

// Message is a rendered Discord message.
type Message struct {
	Content    string                       `json:"content,omitempty"`
	Embeds     []*discordgo.MessageEmbed    `json:"embeds,omitempty"`
	Components []discordgo.MessageComponent `json:"components,omitempty"`
}

// noMentions keeps the bot's messages from pinging anyone: mentions render
// but notify nobody.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// mdEscaper makes text literal in Discord markdown wherever it appears.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`,
	"<", `\<`, "[", `\[`, "]", `\]`,
)

// escape makes user-supplied text literal: no formatting, links, mentions,
// headings or quotes.
func escape(s string) string {
	s = mdEscaper.Replace(s)
	if !strings.ContainsAny(s, "#>-") {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		if trimmed != "" && strings.ContainsRune("#>-", rune(trimmed[0])) {
			lines[i] = l[:len(l)-len(trimmed)] + `\` + trimmed
		}
	}
	return strings.Join(lines, "\n")
}

// codeBlock shows text verbatim in a monospace block.
func codeBlock(s string) string {
	return "```\n" + strings.ReplaceAll(s, "```", "`\u200b``") + "\n```"
}

// richText renders a reply's free text: monospace for tables, literal
// otherwise, within n runes.
func richText(text string, n int) string {
	if commands.Tabular(text) {
		return codeBlock(clip(text, n-len("```\n\n```")))
	}
	return clipEscaped(text, n)
}

// clipEscaped escapes s and keeps it within n runes, cutting the text
// before escaping so that no escape is split.
func clipEscaped(s string, n int) string {
	out := escape(s)
	for utf8.RuneCountInString(out) > n {
		r := []rune(s)
		cut := max(len(r)-(utf8.RuneCountInString(out)-n)-1, 0)
		s = string(r[:cut])
		out = escape(s) + "…"
	}
	return out
}

// joinLines joins lines within n runes, replacing the ones that do not fit
// with a count.
func joinLines(lines []string, n int) string {
	var b strings.Builder
	for i, l := range lines {
		sep := ""
		if i > 0 {
			sep = "\n"
		}
		more := fmt.Sprintf("\n…and %d more", len(lines)-i)
		if utf8.RuneCountInString(b.String())+utf8.RuneCountInString(sep+l) > n-utf8.RuneCountInString(more) && i < len(lines)-1 ||
			utf8.RuneCountInString(b.String())+utf8.RuneCountInString(sep+l) > n {
			if i == 0 {
				return clip(l, n)
			}
			b.WriteString(more)
			return b.String()
		}
		b.WriteString(sep + l)
	}
	return b.String()
}

// embedSize counts what Discord's 6000-character limit counts.
func embedSize(e *discordgo.MessageEmbed) int {
	n := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
	if e.Footer != nil {
		n += utf8.RuneCountInString(e.Footer.Text)
	}
	if e.Author != nil {
		n += utf8.RuneCountInString(e.Author.Name)
	}
	for _, f := range e.Fields {
		n += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	return n
}

// field renders one embed field; short values sit side by side.
func field(name, value string) *discordgo.MessageEmbedField {
	if strings.TrimSpace(value) == "" {
		value = "—"
	}
	return &discordgo.MessageEmbedField{
		Name:   clip(name, maxFieldName),
		Value:  value,
		Inline: utf8.RuneCountInString(value) <= inlineField && !strings.Contains(value, "\n"),
	}
}

// fieldValue renders a reply's field value literally within Discord's
// limit, multi-line values in monospace when they are tabular.
func fieldValue(v string) string { return richText(v, maxFieldValue) }

// fieldErrorLine renders a field error: "• **field**: message (rule r)".
func fieldErrorLine(e platform.FieldError) string {
	line := "• "
	if e.Field != "" {
		line += "**" + escape(e.Field) + "**: "
	}
	line += clipEscaped(e.Message, maxContent/4)
	if e.Rule != "" && !strings.Contains(e.Message, e.Rule) {
		line += " _(rule " + escape(e.Rule) + ")_"
	}
	return line
}

// ReplyMessage renders a command's reply for an ephemeral message: the
// title (with each field error under it, for a failed command), each
// section as an embed, a confirmation as Confirm/Cancel buttons and the
// reply's actions as rows of buttons. It keeps to Discord's limits,
// leaving out the sections that do not fit with a note saying so, and
// showing an action that cannot be a button as the command to type.
func ReplyMessage(rep commands.Reply) Message {
	m, _ := replyMessage(rep)
	return m
}

// replyMessage is ReplyMessage, also returning why actions could not be
// buttons, for the log.
func replyMessage(rep commands.Reply) (Message, []error) {
	var m Message
	var lines []string
	switch {
	case rep.Err != nil:
		lines = append(lines, "⚠️ "+clipEscaped(rep.Title, maxContent/2))
	case rep.Title != "":
		lines = append(lines, "**"+clipEscaped(rep.Title, maxContent/2)+"**")
	}
	for _, e := range rep.Errors {
		lines = append(lines, fieldErrorLine(e))
	}
	var notes []string
	m.Embeds, notes = sectionEmbeds(rep.Sections, rep.Confirm, nil)
	if c := rep.Confirm; c != nil {
		if row, ok := confirmButtons(c); ok {
			m.Components = []discordgo.MessageComponent{row}
		} else {
			notes = append(notes, "To confirm, run `/idp run text:"+clip(strings.ReplaceAll(c.Yes, "`", "'"), 200)+"`")
		}
	}
	problems := withActions(&m, rep.Actions, &notes)
	m.Content = joinWithNotes(lines, notes)
	return m, problems
}

// withActions adds actions to m as rows of buttons under the rows it has;
// the actions that cannot be buttons are added to notes.
func withActions(m *Message, actions []commands.Action, notes *[]string) []error {
	if len(actions) == 0 {
		return nil
	}
	rows, more, problems := actionRows(actions, maxRows-len(m.Components))
	m.Components = append(m.Components, rows...)
	if len(more) > 0 {
		*notes = append(*notes, "Run as text:")
		*notes = append(*notes, more...)
	}
	return problems
}

// joinWithNotes joins lines and, always shown after them, notes, within
// the content limit.
func joinWithNotes(lines, notes []string) string {
	tail := strings.Join(notes, "\n")
	if tail == "" {
		return joinLines(lines, maxContent)
	}
	if len(lines) == 0 {
		return clip(tail, maxContent)
	}
	return joinLines(lines, maxContent-utf8.RuneCountInString(tail)-1) + "\n" + tail
}

// sectionEmbeds renders sections (and a confirmation prompt) as embeds
// within Discord's limits; sections that do not fit are counted in a line
// added to lines.
func sectionEmbeds(sections []commands.Section, confirm *commands.Confirm, lines []string) ([]*discordgo.MessageEmbed, []string) {
	var all []*discordgo.MessageEmbed
	// More sections than a message holds embeds (help lists every verb):
	// text-only sections are packed as fields of shared embeds instead.
	pack := len(sections) > maxEmbeds
	var packed *discordgo.MessageEmbed
	for _, sec := range sections {
		if text, ok := packable(sec); pack && ok {
			if packed == nil || len(packed.Fields) == maxEmbedFields {
				packed = &discordgo.MessageEmbed{Color: colorInfo}
				all = append(all, packed)
			}
			packed.Fields = append(packed.Fields, field(sec.Heading, fieldValue(text)))
			continue
		}
		e := &discordgo.MessageEmbed{Color: colorInfo, Title: clip(sec.Heading, maxEmbedTitle)}
		if sec.Text != "" {
			e.Description = richText(sec.Text, maxEmbedDesc)
		}
		for _, kv := range sec.Fields {
			if len(e.Fields) == maxEmbedFields {
				all = append(all, e)
				e = &discordgo.MessageEmbed{Color: colorInfo, Title: clip(sec.Heading+" (continued)", maxEmbedTitle)}
			}
			e.Fields = append(e.Fields, field(kv.Key, fieldValue(kv.Value)))
		}
		if e.Title != "" || e.Description != "" || len(e.Fields) > 0 {
			all = append(all, e)
		}
	}
	if confirm != nil {
		all = append(all, &discordgo.MessageEmbed{Color: colorWarning, Description: clipEscaped(confirm.Prompt, maxEmbedDesc)})
	}
	var out []*discordgo.MessageEmbed
	total := 0
	for i, e := range all {
		size := embedSize(e)
		if len(out) == maxEmbeds || total+size > maxEmbedTotal {
			lines = append(lines, fmt.Sprintf("_…and %d more sections not shown; narrow it down, for example /idp catalog <type> or /idp list with a team._", len(all)-i))
			break
		}
		out = append(out, e)
		total += size
	}
	return out, lines
}

// packable returns the text of sec as one field of a shared embed (its
// fields, such as a verb's example, as lines after its text), and whether
// it fits in one.
func packable(sec commands.Section) (string, bool) {
	if sec.Heading == "" {
		return "", false
	}
	text := sec.Text
	for _, kv := range sec.Fields {
		text += "\n" + kv.Key + ": " + kv.Value
	}
	text = strings.TrimPrefix(text, "\n")
	return text, utf8.RuneCountInString(text) <= maxFieldValue
}

// confirmButtons renders a deletion's confirmation as Delete and Cancel
// buttons whose custom ids carry the resource's ref.
func confirmButtons(c *commands.Confirm) (discordgo.ActionsRow, bool) {
	words := strings.Fields(c.Yes)
	if len(words) < 2 || words[0] != "delete" || len(idDelete+words[1]) > maxCustomID {
		return discordgo.ActionsRow{}, false
	}
	ref := words[1]
	return discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "Delete " + clip(ref, maxButtonLabel-7), Style: discordgo.DangerButton, CustomID: idDelete + ref},
		discordgo.Button{Label: "Cancel", Style: discordgo.SecondaryButton, CustomID: idCancel + ref},
	}}, true
}

// resultMessage renders the reply to a request that was recorded or a
// deletion or update that started: a line saying so and where its progress is told,
// then the reply's facts (state, parameters, warnings) and its actions.
// where is "in <#channel>"-like text. It also returns why actions could
// not be buttons, for the log.
func resultMessage(rep commands.Reply, where string) (Message, []error) {
	r := rep.Resource
	var lines []string
	switch r.State {
	case platform.Deleting:
		lines = append(lines, fmt.Sprintf("🗑️ Deleting **%s** %s (%s of team %s in %s). Follow it in its thread %s.",
			escape(r.Name), r.Ref(), escape(r.Service), escape(r.Team), escape(r.Environment), where))
	case platform.Updating:
		lines = append(lines, fmt.Sprintf("🔄 Updating **%s** %s (%s of team %s in %s). Follow it in its thread %s.",
			escape(r.Name), r.Ref(), escape(r.Service), escape(r.Team), escape(r.Environment), where))
	default:
		lines = append(lines, fmt.Sprintf("✅ Request %s recorded: **%s**, %s for %s in %s. Follow it in the thread %s; connection details come to you by direct message.",
			r.Ref(), escape(r.Name), escape(r.Service), escape(r.Team), escape(r.Environment), where))
	}
	var facts []commands.Section
	for _, s := range rep.Sections {
		if s.Heading != "" || len(s.Fields) > 0 {
			facts = append(facts, s)
		}
	}
	var m Message
	var notes []string
	m.Embeds, notes = sectionEmbeds(facts, nil, nil)
	problems := withActions(&m, rep.Actions, &notes)
	m.Content = joinWithNotes(lines, notes)
	return m, problems
}

// tones are the embed colours of thread.Tone.
var tones = map[thread.Tone]int{
	thread.Info: colorInfo, thread.Warning: colorWarning, thread.Success: colorSuccess,
	thread.Danger: colorError, thread.Removing: colorOrange, thread.Muted: colorMuted,
}

// lineMarkup is how Discord markdown writes thread lines.
var lineMarkup = thread.Markup{
	Icon:   func(st thread.Style) string { return st.Emoji },
	Bold:   func(s string) string { return "**" + s + "**" },
	Escape: escape,
	Value: func(kv thread.KV) string {
		return fmt.Sprintf("%s `%s`", escape(kv.Key), strings.ReplaceAll(kv.Value, "`", "'"))
	},
}

// pairs renders named values as key=value lines.
func pairs(kvs []thread.KV, sep string) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = kv.Key + "=" + kv.Value
	}
	return strings.Join(parts, sep)
}

// mention renders an actor: a Discord mention for Discord users, the name
// otherwise.
func mention(a platform.Actor) string {
	if id, ok := strings.CutPrefix(a.ID, Platform+":"); ok && isDigits(id) {
		return "<@" + id + ">"
	}
	return escape(a.Display())
}

// discordUser returns the Discord user id of an actor, or "".
func discordUser(a platform.Actor) string {
	if id, ok := strings.CutPrefix(a.ID, Platform+":"); ok && isDigits(id) {
		return id
	}
	return ""
}

// ThreadName is the name of resource r's progress thread.
func ThreadName(r *platform.Resource) string {
	return clip(fmt.Sprintf("%s %s · %s", r.Name, r.Ref(), r.Service), maxThreadName)
}

// RootMessage renders the message that stands for resource r in its
// channel, edited in place as r changes state (thread.RootOf): an embed
// coloured by state.
func RootMessage(r *platform.Resource) Message {
	f := thread.RootOf(r)
	e := &discordgo.MessageEmbed{
		Title: clip(fmt.Sprintf("%s %s %s", f.State.Emoji, f.Name, f.Ref), maxEmbedTitle),
		Color: tones[f.State.Tone],
		Fields: []*discordgo.MessageEmbedField{
			field("Service", clipEscaped(f.Service, maxFieldValue)),
			field("Team", clipEscaped(f.Team, maxFieldValue)),
			field("Environment", clipEscaped(f.Environment, maxFieldValue)),
			field("Requested by", mention(f.Requester)),
			field("State", f.State.Emoji+" "+escape(f.State.Label)),
		},
		Footer: &discordgo.MessageEmbedFooter{Text: clip(f.Hint+" · "+f.Command, maxFooter)},
	}
	if f.Reason != "" {
		e.Description = "**Reason:** " + clipEscaped(f.Reason, maxEmbedDesc-len("**Reason:** "))
	}
	if len(f.Parameters) > 0 {
		e.Fields = append(e.Fields, field("Parameters", codeBlock(clip(pairs(f.Parameters, " "), maxFieldValue-10))))
	}
	if len(f.Outputs) > 0 {
		e.Fields = append(e.Fields, field("Outputs", codeBlock(clip(pairs(f.Outputs, "\n"), maxFieldValue-10))))
	}
	if !f.Created.IsZero() {
		e.Timestamp = f.Created.UTC().Format(time.RFC3339)
	}
	return Message{Embeds: []*discordgo.MessageEmbed{e}}
}

// EventMessage renders one event of r's history as a message in its
// thread (thread.LineOf); false for an event that shows no line.
func EventMessage(r *platform.Resource, ev platform.Event) (string, bool) {
	l, ok := thread.LineOf(r, ev)
	if !ok {
		return "", false
	}
	line := l.Format(lineMarkup)
	return clip(line, maxContent), true
}

// PrivateMessages renders the connection details of r for its requester's
// direct messages: what it is and its outputs, then the secrets in
// monospace blocks to copy. Secrets are never cut: when they do not fit in
// one message they continue in the next ones.
func PrivateMessages(r *platform.Resource, secrets map[string]string) []Message {
	d := thread.SecretOf(r, secrets)
	intro := fmt.Sprintf("%s **%s**: %s", thread.LockStyle.Emoji, escape(d.Title), escape(d.About))
	first := Message{Content: clip(intro, maxContent)}
	if len(d.Outputs) > 0 {
		e := &discordgo.MessageEmbed{Title: clip("Outputs of "+r.Name+" "+r.Ref(), maxEmbedTitle), Color: colorSuccess}
		for _, kv := range d.Outputs[:min(len(d.Outputs), maxEmbedFields)] {
			e.Fields = append(e.Fields, field(clip(kv.Key, maxFieldName), clipEscaped(kv.Value, maxFieldValue)))
		}
		first.Embeds = []*discordgo.MessageEmbed{e}
	}
	var lines []string
	for _, kv := range d.Values {
		lines = append(lines, kv.Key+"="+kv.Value)
	}
	if len(lines) == 0 {
		return []Message{first}
	}
	if all := first.Content + "\n" + codeBlock(strings.Join(lines, "\n")); utf8.RuneCountInString(all) <= maxContent {
		first.Content = all
		return []Message{first}
	}
	out := []Message{first}
	room := maxContent - utf8.RuneCountInString(codeBlock("")) - 16 // margin for escaped fences
	var chunk []rune
	flush := func() {
		if len(chunk) > 0 {
			out = append(out, Message{Content: codeBlock(string(chunk))})
			chunk = nil
		}
	}
	for _, l := range lines {
		r := []rune(l)
		if len(chunk) > 0 && len(chunk)+1+len(r) > room {
			flush()
		}
		if len(chunk) > 0 {
			chunk = append(chunk, '\n')
		}
		for len(r) > room-len(chunk) {
			n := room - len(chunk)
			chunk = append(chunk, r[:n]...)
			r = r[n:]
			flush()
		}
		chunk = append(chunk, r...)
	}
	flush()
	return out
}
