package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Identifiers of the views and actions the adapter renders and handles.
const (
	// CallbackCreate is the callback_id of a service's create form.
	CallbackCreate = "idp_create"
	// CallbackPick is the callback_id of the modal that asks which service.
	CallbackPick = "idp_pick"
	// ActionService is the action_id (and block_id) of the service select.
	ActionService = "idp_service"
	// ActionConfirm and ActionCancel are the buttons of a confirmation.
	ActionConfirm = "idp_confirm"
	ActionCancel  = "idp_cancel"
)

// Slack's documented limits the renderer keeps to.
const (
	maxModalBlocks     = 100
	maxMessageBlocks   = 50
	maxTitle           = 24
	maxMetadata        = 3000
	maxSelectOptions   = 100
	maxOptionText      = 75
	maxOptionValue     = 150
	maxSectionText     = 3000
	maxFieldText       = 2000
	maxFields          = 10
	maxHeader          = 150
	maxLabel           = 2000
	maxTextInput       = 3000
	maxButtonValue     = 2000
	maxFallbackText    = 3000
	maxErrorText       = 2000
	fixedModalBlocks   = 3 // description, context, divider
	commonFields       = 3 // name, team, environment
	maxServiceFields   = maxModalBlocks - fixedModalBlocks - commonFields
	maxConfirmText     = 300
	maxContextElements = 10
)

// Metadata is what a modal carries in its private_metadata: the service
// of a create form and the channel the command was typed in.
type Metadata struct {
	Service string `json:"service,omitempty"`
	Channel string `json:"channel,omitempty"`
	// DryRun marks a form opened with /idp create … --dry-run.
	DryRun bool `json:"dry_run,omitempty"`
	// Update is the #id of the resource an update form changes.
	Update string `json:"update,omitempty"`
}

// Msg is a rendered message: blocks plus the plain-text fallback Slack
// shows in notifications.
type Msg struct {
	Text   string           `json:"text"`
	Blocks []slackapi.Block `json:"blocks,omitempty"`
}

func plain(s string, max int) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, clip(s, max), true, false)
}

func mrkdwn(s string, max int) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, clip(s, max), false, false)
}

// clip shortens s to at most n runes, ending with "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// escape makes text safe inside Slack mrkdwn: &, < and > are control
// characters there (links, mentions).
func escape(s string) string { return mrkdwnEscaper.Replace(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Fits reports whether svc's create form fits in a Slack modal: at most 100
// blocks, 100 options per select, option values of at most 150 characters
// and private_metadata of at most 3000. Catalog loading calls it so that an
// entry that cannot be shown is rejected at load, not at click time.
func Fits(svc *platform.ServiceDefinition) error {
	var problems []string
	if n := len(svc.Fields); n > maxServiceFields {
		problems = append(problems, fmt.Sprintf("%d parameters, at most %d fit in a Slack modal", n, maxServiceFields))
	}
	for _, f := range svc.Fields {
		if f.Kind != platform.KindEnum {
			continue
		}
		if len(f.Options) > maxSelectOptions {
			problems = append(problems, fmt.Sprintf("parameter %s has %d options, a Slack select holds at most %d", f.Name, len(f.Options), maxSelectOptions))
		}
		for _, o := range f.Options {
			if o == "" || utf8.RuneCountInString(o) > maxOptionValue {
				problems = append(problems, fmt.Sprintf("parameter %s: option %q must be 1–%d characters for Slack", f.Name, clip(o, 40), maxOptionValue))
			}
		}
	}
	meta, _ := json.Marshal(Metadata{Service: svc.Name, Channel: strings.Repeat("C", 64)})
	if len(meta) > maxMetadata {
		problems = append(problems, "service name too long for a Slack modal's private_metadata")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s does not fit in a Slack modal: %s", svc.Name, strings.Join(problems, "; "))
	}
	return nil
}

// formModal renders the create form of svc with fields (name, team,
// environment, then the service's parameters) as a modal.
func formModal(svc *platform.ServiceDefinition, fields []platform.Field, meta Metadata) (slackapi.ModalViewRequest, error) {
	title := svc.Title
	if title == "" {
		title = svc.Name
	}
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(mrkdwn(fmt.Sprintf("*%s*\n%s", escape(title), escape(svc.Description)), maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("about")),
		slackapi.NewContextBlock("details", serviceContext(svc)...),
		slackapi.NewDividerBlock(),
	}
	if len(fields)+len(blocks) > maxModalBlocks {
		return slackapi.ModalViewRequest{}, fmt.Errorf("%s has %d fields, more than fit in a Slack modal", svc.Name, len(fields))
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.Name] {
			return slackapi.ModalViewRequest{}, fmt.Errorf("%s: field %s appears twice", svc.Name, f.Name)
		}
		seen[f.Name] = true
		blocks = append(blocks, inputBlock(f))
	}
	md, err := json.Marshal(meta)
	if err != nil {
		return slackapi.ModalViewRequest{}, err
	}
	if len(md) > maxMetadata {
		return slackapi.ModalViewRequest{}, fmt.Errorf("private_metadata of %s is %d bytes, more than %d", svc.Name, len(md), maxMetadata)
	}
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		Title:           plain(title, maxTitle),
		Submit:          plain("Create", maxTitle),
		Close:           plain("Cancel", maxTitle),
		Blocks:          slackapi.Blocks{BlockSet: blocks},
		PrivateMetadata: string(md),
		CallbackID:      CallbackCreate,
	}, nil
}

func serviceContext(svc *platform.ServiceDefinition) []slackapi.MixedElement {
	parts := []string{"`" + escape(svc.Name) + "`"}
	for _, p := range []string{svc.Type, versionLabel(svc.Version), tierLabel(svc.Tier), ownerLabel(svc.Owner)} {
		if p != "" {
			parts = append(parts, escape(p))
		}
	}
	els := []slackapi.MixedElement{mrkdwn(strings.Join(parts, " · "), maxSectionText)}
	if svc.Documentation != "" {
		els = append(els, mrkdwn(fmt.Sprintf(":book: <%s|Documentation>", escape(svc.Documentation)), maxSectionText))
	}
	return els
}

func versionLabel(v string) string {
	if v == "" {
		return ""
	}
	return "version " + v
}

func tierLabel(t string) string {
	if t == "" {
		return ""
	}
	return t + " tier"
}

func ownerLabel(o string) string {
	if o == "" {
		return ""
	}
	return "owned by " + o
}

// common reports whether f is one of the fields every request has.
func common(name string) bool { return name == "name" || name == "team" || name == "environment" }

// inputBlock renders one form field; its block_id and action_id are the
// field's name, so that errors and submitted values map back to fields.
func inputBlock(f platform.Field) *slackapi.InputBlock {
	hint := f.Description
	if hint == "" && (f.Kind == platform.KindInteger || f.Kind == platform.KindString) && f.Constraint() != "text" {
		hint = f.Constraint()
	}
	var h *slackapi.TextBlockObject
	if hint != "" {
		h = plain(hint, maxLabel)
	}
	b := slackapi.NewInputBlock(f.Name, plain(f.Label(), maxLabel), h, fieldElement(f))
	b.Optional = !common(f.Name) && (!f.Required || f.Kind == platform.KindBoolean)
	return b
}

func fieldElement(f platform.Field) slackapi.BlockElement {
	def := platform.FormatValue(f.Default)
	switch f.Kind {
	case platform.KindEnum:
		if len(f.Options) == 0 || len(f.Options) > maxSelectOptions {
			break // too many (or no) choices for a select: typed in instead
		}
		opts := make([]*slackapi.OptionBlockObject, len(f.Options))
		for i, o := range f.Options {
			opts[i] = option(o)
		}
		sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, plain("Choose "+strings.ToLower(f.Label()), 150), f.Name, opts...)
		if i := slices.Index(f.Options, def); i >= 0 {
			sel.InitialOption = opts[i]
		} else if len(opts) == 1 && common(f.Name) {
			sel.InitialOption = opts[0]
		}
		return sel
	case platform.KindBoolean:
		yes := slackapi.NewOptionBlockObject("true", plain("Enabled", maxOptionText), nil)
		cb := slackapi.NewCheckboxGroupsBlockElement(f.Name, yes)
		if def == "true" {
			cb.InitialOptions = []*slackapi.OptionBlockObject{yes}
		}
		return cb
	case platform.KindInteger:
		n := slackapi.NewNumberInputBlockElement(nil, f.Name, false)
		if f.Min != nil {
			n.MinValue = fmt.Sprint(*f.Min)
		}
		if f.Max != nil {
			n.MaxValue = fmt.Sprint(*f.Max)
		}
		n.InitialValue = def
		return n
	}
	in := slackapi.NewPlainTextInputBlockElement(nil, f.Name)
	if f.MaxLength > 0 {
		in.MaxLength = min(f.MaxLength, maxTextInput)
	}
	if f.MinLength > 0 {
		in.MinLength = min(f.MinLength, maxTextInput)
	}
	if f.Kind == platform.KindEnum && len(f.Options) == 0 {
		in.Placeholder = plain("none available", 150)
	}
	in.InitialValue = def
	return in
}

func option(v string) *slackapi.OptionBlockObject {
	return slackapi.NewOptionBlockObject(v, plain(v, maxOptionText), nil)
}

// pickerModal asks which service to create; choosing one updates the view
// to that service's form.
func pickerModal(services []*platform.ServiceDefinition, availability func(*platform.ServiceDefinition) error, meta Metadata) slackapi.ModalViewRequest {
	opts := make([]*slackapi.OptionBlockObject, 0, min(len(services), maxSelectOptions))
	for _, s := range services {
		if len(opts) == maxSelectOptions {
			break
		}
		desc := s.Type
		if err := availability(s); err != nil {
			desc = "unavailable"
		}
		title := s.Title
		if title == "" {
			title = s.Name
		}
		o := slackapi.NewOptionBlockObject(s.Name, plain(title, maxOptionText), plain(desc, maxOptionText))
		opts = append(opts, o)
	}
	md, _ := json.Marshal(meta)
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(mrkdwn("What would you like to create? Pick a service to see its form.", maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("about")),
	}
	if len(opts) == 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("The catalog is empty.", maxSectionText), nil, nil))
		return slackapi.ModalViewRequest{Type: slackapi.VTModal, Title: plain("Create a resource", maxTitle),
			Close: plain("Close", maxTitle), Blocks: slackapi.Blocks{BlockSet: blocks}, PrivateMetadata: string(md), CallbackID: CallbackPick}
	}
	sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, plain("Choose a service", 150), ActionService, opts...)
	in := slackapi.NewInputBlock(ActionService, plain("Service", maxLabel), plain("Run /idp catalog to compare them.", maxLabel), sel)
	in.DispatchAction = true
	blocks = append(blocks, in)
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		Title:           plain("Create a resource", maxTitle),
		Submit:          plain("Next", maxTitle),
		Close:           plain("Cancel", maxTitle),
		Blocks:          slackapi.Blocks{BlockSet: blocks},
		PrivateMetadata: string(md),
		CallbackID:      CallbackPick,
	}
}

// noticeModal is a modal with a message and no form, shown when the service
// picked from the picker cannot be created.
func noticeModal(title, text string, meta Metadata) slackapi.ModalViewRequest {
	md, _ := json.Marshal(meta)
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		Title:           plain(title, maxTitle),
		Close:           plain("Close", maxTitle),
		Blocks:          slackapi.Blocks{BlockSet: []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(text, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("notice"))}},
		PrivateMetadata: string(md),
		CallbackID:      CallbackPick,
	}
}

// icon renders a style's icon by its Slack short name.
func icon(st thread.Style) string { return ":" + st.Icon + ":" }

// mention renders an actor: a Slack mention for Slack users, the name
// otherwise.
func mention(a platform.Actor) string {
	if id, ok := strings.CutPrefix(a.ID, "slack:"); ok && id != "" {
		return "<@" + escape(id) + ">"
	}
	return escape(a.Display())
}

func field(k, v string) *slackapi.TextBlockObject {
	return mrkdwn(fmt.Sprintf("*%s*\n%s", k, v), maxFieldText)
}

// markup is how Slack mrkdwn writes thread lines.
var markup = thread.Markup{
	Icon:   icon,
	Bold:   func(s string) string { return "*" + s + "*" },
	Escape: escape,
	Value:  func(kv thread.KV) string { return fmt.Sprintf("`%s` %s", escape(kv.Key), escape(kv.Value)) },
}

// codeList renders named values as one line of code spans.
func codeList(kvs []thread.KV, sep string) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = markup.Value(kv)
	}
	return strings.Join(parts, sep)
}

// RootMessage renders the message that stands for resource r in its
// channel, edited in place as r changes state (thread.RootOf).
func RootMessage(r *platform.Resource) Msg {
	f := thread.RootOf(r)
	head := fmt.Sprintf("%s *%s* %s · `%s`", icon(f.State), escape(f.Name), escape(f.Ref), escape(f.Service))
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(mrkdwn(head, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("head")),
		slackapi.NewSectionBlock(nil, []*slackapi.TextBlockObject{
			field("Team", escape(f.Team)),
			field("Environment", escape(f.Environment)),
			field("Requested by", mention(f.Requester)),
			field("State", icon(f.State)+" "+f.State.Label),
		}, nil, slackapi.SectionBlockOptionBlockID("facts")),
	}
	if f.Reason != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Reason:* "+escape(f.Reason), maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("reason")))
	}
	if len(f.Parameters) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Parameters*\n"+codeList(f.Parameters, " · "), maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("parameters")))
	}
	if len(f.Outputs) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Outputs*\n"+codeList(f.Outputs, "\n"), maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("outputs")))
	}
	hint := escape(f.Hint) + " · `" + escape(f.Command) + "`"
	if !f.Created.IsZero() {
		hint += fmt.Sprintf(" · requested <!date^%d^{date_short_pretty} {time}|%s>", f.Created.Unix(), f.Created.UTC().Format(time.RFC3339))
	}
	blocks = append(blocks, slackapi.NewContextBlock("hint", mrkdwn(hint, maxSectionText)))
	return Msg{Text: clip(f.Summary, maxFallbackText), Blocks: blocks}
}

// EventMessage renders one event of r's history as a reply in its thread
// (thread.LineOf); false for an event that shows no line.
func EventMessage(r *platform.Resource, ev platform.Event) (Msg, bool) {
	l, ok := thread.LineOf(r, ev)
	if !ok {
		return Msg{}, false
	}
	line := l.Format(markup)
	return Msg{Text: clip(line, maxSectionText)}, true
}

// PrivateMessage renders the connection details of r for its requester
// only (thread.SecretOf). The fallback text, which shows in notifications,
// holds no secret.
func PrivateMessage(r *platform.Resource, secrets map[string]string) Msg {
	d := thread.SecretOf(r, secrets)
	intro := fmt.Sprintf("%s *%s*\n%s", icon(thread.LockStyle), escape(d.Title), escape(d.About))
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(intro, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("intro"))}
	if len(d.Outputs) > 0 {
		var fields []*slackapi.TextBlockObject
		for _, kv := range d.Outputs[:min(len(d.Outputs), maxFields)] {
			fields = append(fields, field(escape(kv.Key), escape(kv.Value)))
		}
		blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil, slackapi.SectionBlockOptionBlockID("outputs")))
	}
	var lines []string
	for _, kv := range d.Values {
		lines = append(lines, escape(kv.Key)+"="+escape(kv.Value))
	}
	if len(lines) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("```"+strings.Join(lines, "\n")+"```", maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("secrets")))
	}
	return Msg{Text: d.Title, Blocks: blocks}
}

// FormModal renders a create form as a modal whose input blocks are named
// after the form's fields.
func FormModal(f *commands.Form, meta Metadata) (slackapi.ModalViewRequest, error) {
	meta.Service = f.Service.Name
	meta.DryRun = f.DryRun
	v, err := formModal(f.Service, f.Fields, meta)
	if err == nil && f.DryRun {
		v.Submit = plain("Check", maxTitle)
	}
	return v, err
}

// ReplyMessage renders a command's reply as a message: a header (or a
// warning for an error), each section as text and fields in pairs, the
// field errors, a confirmation as a danger button with a confirmation
// dialog, and the reply's Actions as buttons (those that cannot be buttons
// as commands to type). It keeps to 50 blocks, the buttons always shown.
func ReplyMessage(rep commands.Reply) Msg {
	m, _ := renderReply(rep)
	return m
}

// renderReply is ReplyMessage, with the reasons some actions are not
// buttons.
func renderReply(rep commands.Reply) (Msg, []error) {
	blocks, problems := replyBlocks(rep, maxMessageBlocks, true)
	return Msg{Text: clip(fallback(rep), maxFallbackText), Blocks: blocks}, problems
}

// replyMessage renders rep and logs the actions that could not be buttons.
func (a *Adapter) replyMessage(ctx context.Context, rep commands.Reply) Msg {
	m, problems := renderReply(rep)
	a.logActionProblems(ctx, problems)
	return m
}

// logActionProblems logs why actions are shown as text, not buttons.
func (a *Adapter) logActionProblems(ctx context.Context, problems []error) {
	for _, err := range problems {
		a.log.WarnContext(ctx, "action shown as text instead of a button", "err", err)
	}
}

func fallback(rep commands.Reply) string {
	if rep.Title != "" {
		return rep.Title
	}
	return rep.Text()
}

// replyBlocks renders rep in at most limit blocks; its Actions (when
// withActions) come last and are never cut.
func replyBlocks(rep commands.Reply, limit int, withActions bool) ([]slackapi.Block, []error) {
	var tail []slackapi.Block
	var problems []error
	if withActions && len(rep.Actions) > 0 {
		var notes []string
		tail, notes, problems = actionBlocks(rep.Actions, maxActionBlocks)
		if len(notes) > 0 {
			// One section at most: what does not fit is cut.
			tail = append(tail, slackapi.NewSectionBlock(mrkdwn("Run as text:\n"+strings.Join(notes, "\n"), maxSectionText), nil, nil,
				slackapi.SectionBlockOptionBlockID("actions_text")))
		}
		limit -= len(tail)
	}
	var blocks []slackapi.Block
	switch {
	case rep.Err != nil:
		blocks = append(blocks, textSections(":warning: "+escape(rep.Title))...)
		var lines []string
		for _, e := range rep.Errors {
			line := "• "
			if e.Field != "" {
				line += "*" + escape(e.Field) + "*: "
			}
			line += escape(e.Message)
			if e.Rule != "" && !strings.Contains(e.Message, e.Rule) {
				line += " _(rule " + escape(e.Rule) + ")_"
			}
			lines = append(lines, line)
		}
		if len(lines) > 0 {
			blocks = append(blocks, textSections(strings.Join(lines, "\n"))...)
		}
	case rep.Title != "" && utf8.RuneCountInString(rep.Title) <= maxHeader:
		blocks = append(blocks, slackapi.NewHeaderBlock(plain(rep.Title, maxHeader)))
	case rep.Title != "":
		blocks = append(blocks, textSections("*"+escape(rep.Title)+"*")...)
	}
	for i, sec := range rep.Sections {
		if sec.Heading != "" && i > 0 {
			blocks = append(blocks, slackapi.NewDividerBlock())
		}
		var text string
		if sec.Heading != "" {
			text = "*" + escape(sec.Heading) + "*"
		}
		if commands.Tabular(sec.Text) {
			// Columns line up only in monospace: the table goes in code
			// blocks, split between rows.
			blocks = append(blocks, codeSections(text, escape(sec.Text))...)
			text = ""
		} else if sec.Text != "" {
			if text != "" {
				text += "\n"
			}
			text += escape(sec.Text)
		}
		if text != "" {
			blocks = append(blocks, textSections(text)...)
		}
		for chunk := range slices.Chunk(sec.Fields, maxFields) {
			fields := make([]*slackapi.TextBlockObject, len(chunk))
			for j, kv := range chunk {
				fields[j] = field(escape(kv.Key), escape(kv.Value))
			}
			blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))
		}
	}
	if c := rep.Confirm; c != nil {
		verb := "Confirm"
		if w := strings.Fields(c.Yes); len(w) > 0 {
			r := []rune(strings.ToLower(clip(w[0], 20)))
			verb = strings.ToUpper(string(r[:1])) + string(r[1:])
		}
		blocks = append(blocks, textSections(escape(c.Prompt))...)
		dialog := slackapi.NewConfirmationBlockObject(plain("Are you sure?", 100), mrkdwn(escape(c.Prompt), maxConfirmText),
			plain("Yes, "+strings.ToLower(verb), 30), plain("Cancel", 30))
		dialog.Style = slackapi.StyleDanger
		yes := slackapi.NewButtonBlockElement(ActionConfirm, clip(c.Yes, maxButtonValue), plain(verb, 75)).WithStyle(slackapi.StyleDanger).WithConfirm(dialog)
		no := slackapi.NewButtonBlockElement(ActionCancel, "cancel", plain("Cancel", 75))
		blocks = append(blocks, slackapi.NewActionBlock("confirm", yes, no))
	}
	if len(blocks) > limit {
		more := len(blocks) - (limit - 1)
		blocks = append(blocks[:limit-1], slackapi.NewContextBlock("more",
			mrkdwn(fmt.Sprintf("…and %d more blocks not shown. Narrow it down, for example with /idp list --team or /idp catalog <type>.", more), maxSectionText)))
	}
	return append(blocks, tail...), problems
}

// codeSections renders mrkdwn text as code blocks in sections of at most
// 3000 characters, split between lines (a longer line is cut); head, when
// set, is a line above the first block.
func codeSections(head, text string) []slackapi.Block {
	const fence = "```"
	if head != "" {
		head = clip(head, maxSectionText/2) + "\n"
	}
	room := maxSectionText - 2*len(fence) - 2 - utf8.RuneCountInString(head)
	var out []slackapi.Block
	var cur []string
	size := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, slackapi.NewSectionBlock(mrkdwn(head+fence+"\n"+strings.Join(cur, "\n")+"\n"+fence, maxSectionText), nil, nil))
			cur, size, head = nil, 0, ""
		}
	}
	for _, l := range strings.Split(strings.ReplaceAll(text, fence, "`\u200b``"), "\n") {
		l = clip(l, room)
		n := utf8.RuneCountInString(l) + 1
		if size+n > room {
			flush()
		}
		cur = append(cur, l)
		size += n
	}
	flush()
	return out
}

// textSections renders mrkdwn text as sections of at most 3000 characters,
// split between lines where possible.
func textSections(text string) []slackapi.Block {
	var out []slackapi.Block
	for text != "" {
		chunk := text
		if utf8.RuneCountInString(chunk) > maxSectionText {
			r := []rune(text)
			cut := maxSectionText
			if i := strings.LastIndex(string(r[:cut]), "\n"); i > 0 {
				cut = utf8.RuneCountInString(string(r[:cut])[:i])
			}
			chunk = string(r[:cut])
		}
		text = strings.TrimPrefix(text[len(chunk):], "\n")
		out = append(out, slackapi.NewSectionBlock(mrkdwn(chunk, maxSectionText), nil, nil))
	}
	return out
}
