package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Identifiers of the buttons and modal that run a Reply's Actions. A
// button carries its command in its value, so that any replica can run a
// click without remembering anything about the message.
const (
	// ActionRun prefixes the action_id of a button whose value is the
	// command it runs ("idp_run_0").
	ActionRun = "idp_run_"
	// ActionAsk prefixes the action_id of a button that first asks for one
	// line of text; its value is the JSON of an askValue.
	ActionAsk = "idp_ask_"
	// CallbackAction is the callback_id of the modal an ActionAsk button
	// opens; its submission runs the command with the text.
	CallbackAction = "idp_action"
	// actionInput is the block_id and action_id of that modal's input.
	actionInput = "input"
)

// Limits of the buttons rendered for Actions.
const (
	// maxActionsElements is how many buttons one actions block holds.
	maxActionsElements = 25
	// maxActionBlocks is how many actions blocks a message gets for its
	// Actions (100 buttons); the rest are shown as commands to type.
	maxActionBlocks = 4
	// maxActionInput is the longest text an Input action accepts.
	maxActionInput = 500
	// maxButtonText is the longest label of a button.
	maxButtonText = 75
)

// askValue is the value of an ActionAsk button.
type askValue struct {
	Command string `json:"command"`
	Input   string `json:"input"`
	Label   string `json:"label,omitempty"`
}

// actionMeta is the private_metadata of an Input action's modal: the
// command, and where the person clicked, to answer them there.
type actionMeta struct {
	Command     string `json:"command"`
	Channel     string `json:"channel,omitempty"`
	Thread      string `json:"thread_ts,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
	Ephemeral   bool   `json:"ephemeral,omitempty"`
}

// actionBlocks renders actions as actions blocks of at most 25 buttons
// each (and at most blocks blocks), styled primary, danger or default; an
// action offered twice is one button. Button action_ids are ActionRun or
// ActionAsk followed by the button's index in the message. An action that
// cannot be a button (its command is empty, spans lines or is too long for
// a button value, or there is no room left) is returned as a note telling
// how to type it, with the reason in problems, for the operator's log.
func actionBlocks(actions []commands.Action, blocks int) (out []slackapi.Block, notes []string, problems []error) {
	var buttons []slackapi.BlockElement
	seen := map[string]bool{}
	for _, act := range actions {
		kind, value, err := actionValue(act)
		key := kind + value
		switch {
		case err != nil:
		case seen[key]:
			// Offered twice (by two sources of actions): one button does.
			continue
		case len(buttons) >= blocks*maxActionsElements:
			err = fmt.Errorf("action %q: no room for more buttons (%d blocks of %d)", act.Label, max(blocks, 0), maxActionsElements)
		}
		if err != nil {
			problems = append(problems, err)
			if strings.TrimSpace(act.Command) != "" {
				notes = append(notes, actionNote(act))
			}
			continue
		}
		seen[key] = true
		buttons = append(buttons, actionButton(kind, len(buttons), value, act))
	}
	for i := 0; len(buttons) > 0; i++ {
		n := min(len(buttons), maxActionsElements)
		id := "actions"
		if i > 0 {
			id = "actions_" + strconv.Itoa(i+1)
		}
		out = append(out, slackapi.NewActionBlock(id, buttons[:n:n]...))
		buttons = buttons[n:]
	}
	return out, notes, problems
}

// actionValue returns the action_id prefix and the value of act's button,
// or why it cannot be one.
func actionValue(act commands.Action) (kind, value string, err error) {
	cmd := strings.TrimSpace(act.Command)
	if cmd == "" || strings.ContainsAny(cmd, "\n\r") || !utf8.ValidString(cmd) {
		return "", "", fmt.Errorf("action %q: command %q cannot be a button", act.Label, act.Command)
	}
	kind, value = ActionRun, cmd
	if act.Input != "" {
		label := clip(strings.Join(strings.Fields(act.Input), " "), maxLabel)
		if label == "" {
			label = "Text"
		}
		data, err := json.Marshal(askValue{Command: cmd, Input: label, Label: clip(strings.TrimSpace(act.Label), maxButtonText)})
		if err != nil {
			return "", "", err
		}
		// The value holds the command as the modal's private_metadata
		// will, with room to spare there (3000) for where it was clicked.
		kind, value = ActionAsk, string(data)
	}
	if n := utf8.RuneCountInString(value); n > maxButtonValue {
		return "", "", fmt.Errorf("action %q: command %q is too long for a Slack button value (%d > %d characters)", act.Label, clip(cmd, 40), n, maxButtonValue)
	}
	return kind, value, nil
}

// actionNote tells how to run an action that is not a button: its label
// and the command to type.
func actionNote(act commands.Action) string {
	cmd := strings.TrimSpace(act.Command)
	if act.Input != "" {
		cmd += " <" + strings.ToLower(strings.TrimSpace(act.Input)) + ">"
	}
	cmd = escape(strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(clip(cmd, 300)))
	label := strings.TrimSpace(act.Label)
	if label == "" {
		return "• `/idp " + cmd + "`"
	}
	return "• " + escape(clip(label, maxButtonText)) + ": `/idp " + cmd + "`"
}

// knownVerbs bounds the verb label of commands run by buttons.
var knownVerbs = map[string]bool{"help": true, "catalog": true, "create": true, "list": true, "status": true, "delete": true,
	"approve": true, "reject": true, "extend": true, "audit": true, "nps": true, "survey": true, "support": true, "digest": true, "home": true}

// actionVerb is the metrics label of a command run by a button: its verb
// when it is a known one, "action" otherwise.
func actionVerb(command string) string {
	if f := strings.Fields(strings.ToLower(command)); len(f) > 0 && knownVerbs[f[0]] {
		return f[0]
	}
	return "action"
}

// clickOrigin is where a button was clicked: the channel and thread of
// its message, whether that message was ephemeral, and the click's
// response_url.
type clickOrigin struct {
	channel, thread, responseURL string
	ephemeral                    bool
}

func originOf(cb slackapi.InteractionCallback) clickOrigin {
	o := clickOrigin{channel: cb.Container.ChannelID, responseURL: cb.ResponseURL, ephemeral: cb.Container.IsEphemeral}
	if o.channel == "" {
		o.channel = cb.Channel.ID
	}
	thread := cb.Container.ThreadTs
	if thread == "" {
		thread = cb.Message.ThreadTimestamp
	}
	msg := cb.Container.MessageTs
	if msg == "" {
		msg = cb.Message.Timestamp
	}
	if thread != msg {
		// A reply in a thread; a thread's root has its own ts as thread_ts,
		// and clicks on it are answered in the channel.
		o.thread = thread
	}
	return o
}

// runAction runs the command of a button as the person who clicked it
// (their own teams and roles apply) and shows them alone the result; the
// message the button is on stays as it is.
func (a *Adapter) runAction(ctx context.Context, cb slackapi.InteractionCallback, command string) {
	start := time.Now()
	actor := a.who.actor(ctx, cb.User.ID, userName(cb.User))
	o := originOf(cb)
	verb := actionVerb(command)
	a.log.InfoContext(ctx, "slack action", "user", actor.ID, "verb", verb)
	var rep commands.Reply
	if key, err := platform.IdempotencyKey(Platform, "action", cb.TriggerID, actor); err != nil {
		rep = commands.ErrorReply(ctx, a.log, err)
	} else {
		rep = a.router.Load().Handle(ctx, commands.Request{Actor: actor, Platform: Platform, Channel: o.channel, Text: command,
			IdempotencyKey: key})
	}
	a.countCommand(ctx, verb, rep, start)
	a.tell(ctx, o, cb.User.ID, a.replyMessage(ctx, rep))
}

// askAction opens the modal of an Input action with the click's trigger.
func (a *Adapter) askAction(ctx context.Context, cb slackapi.InteractionCallback, value string) {
	var v askValue
	if err := json.Unmarshal([]byte(value), &v); err != nil || strings.TrimSpace(v.Command) == "" {
		a.log.WarnContext(ctx, "slack action button with a malformed value", "user", cb.User.ID, "err", err)
		a.tell(ctx, originOf(cb), cb.User.ID, Msg{Text: ":warning: This button is no longer handled; run the command again."})
		return
	}
	o := originOf(cb)
	md := actionMeta{Command: strings.TrimSpace(v.Command), Channel: o.channel, Thread: o.thread, ResponseURL: o.responseURL, Ephemeral: o.ephemeral}
	view, err := actionModal(v, md)
	if err != nil {
		a.tell(ctx, o, cb.User.ID, a.internal(ctx, "render action modal", err))
		return
	}
	if err := a.openView(ctx, cb.TriggerID, view); err != nil {
		if m := a.viewFailed(ctx, err); m != nil {
			a.tell(ctx, o, cb.User.ID, *m)
		}
	}
}

// actionModal is the modal an Input action opens: one required text input
// of at most maxActionInput characters, labelled with the action's Input,
// whose submission runs the command with the text.
func actionModal(v askValue, md actionMeta) (slackapi.ModalViewRequest, error) {
	data, err := json.Marshal(md)
	if err == nil && utf8.RuneCount(data) > maxMetadata {
		md.ResponseURL = "" // the channel is enough to answer in
		data, err = json.Marshal(md)
	}
	if err != nil {
		return slackapi.ModalViewRequest{}, err
	}
	if n := utf8.RuneCount(data); n > maxMetadata {
		return slackapi.ModalViewRequest{}, fmt.Errorf("private_metadata of the action %q is %d characters, more than %d", clip(md.Command, 40), n, maxMetadata)
	}
	label := strings.TrimSpace(v.Label)
	if label == "" {
		label = "Run /idp " + strings.Fields(md.Command)[0]
	}
	input := strings.TrimSpace(v.Input)
	if input == "" {
		input = "Text"
	}
	about := fmt.Sprintf("This runs `/idp %s &lt;%s&gt;` as you.", escape(strings.ReplaceAll(md.Command, "`", "'")), escape(strings.ToLower(input)))
	el := slackapi.NewPlainTextInputBlockElement(nil, actionInput)
	el.Multiline = true
	el.MinLength = 1
	el.MaxLength = maxActionInput
	return slackapi.ModalViewRequest{
		Type:   slackapi.VTModal,
		Title:  plain(label, maxTitle),
		Submit: plain(label, maxTitle),
		Close:  plain("Cancel", maxTitle),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewSectionBlock(mrkdwn(about, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("about")),
			slackapi.NewInputBlock(actionInput, plain(input, maxLabel), nil, el),
		}},
		PrivateMetadata: string(data),
		CallbackID:      CallbackAction,
	}, nil
}

// actionSubmit runs the command of an Input action's modal with the text
// it collected, as one quoted argument, as the person who submitted it. A
// refusal that comes back within the acknowledgement budget is shown on
// the input; otherwise the modal closes and the result is shown to them
// alone where they clicked.
func (a *Adapter) actionSubmit(ctx context.Context, cb slackapi.InteractionCallback) any {
	start := time.Now()
	var md actionMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &md); err != nil || strings.TrimSpace(md.Command) == "" {
		a.log.WarnContext(ctx, "action modal without usable metadata", "view", cb.View.ID, "err", err)
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{actionInput: "This form is out of date. Close it and click the button again."})
	}
	text := ""
	if cb.View.State != nil {
		text = strings.TrimSpace(cb.View.State.Values[actionInput][actionInput].Value)
	}
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{actionInput: "The text is required."})
	case n > maxActionInput:
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{actionInput: fmt.Sprintf("The text is %d characters; at most %d are allowed.", n, maxActionInput)})
	}
	command := commands.Action{Command: md.Command, Input: actionInput}.CommandWith(text)
	verb := actionVerb(command)
	o := clickOrigin{channel: md.Channel, thread: md.Thread, responseURL: md.ResponseURL, ephemeral: md.Ephemeral}
	user := cb.User.ID
	rep, inTime, later := chat.Within(ctx, chat.Ack{Budget: a.ackBudget, Limit: slowWork, BG: &a.bg}, func(ctx context.Context) commands.Reply {
		actor := a.who.actor(ctx, user, userName(cb.User))
		a.log.InfoContext(ctx, "slack action", "user", actor.ID, "verb", verb)
		key, err := platform.IdempotencyKey(Platform, "view", cb.View.ID, actor)
		if err != nil {
			rep := commands.ErrorReply(ctx, a.log, err)
			a.countCommand(ctx, verb, rep, start)
			return rep
		}
		rep := a.router.Load().Handle(ctx, commands.Request{Actor: actor, Platform: Platform, Channel: o.channel, Text: command,
			IdempotencyKey: key})
		a.countCommand(ctx, verb, rep, start)
		return rep
	})
	switch {
	case !inTime:
		// Slow: the modal closes now and the result follows.
		a.bg.Go(func() { a.tellLater(ctx, o, user, later()) })
	case rep.Err != nil:
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{actionInput: clip(errorText(rep), maxErrorText)})
	default:
		a.bg.Go(func() { a.tellLater(ctx, o, user, rep) })
	}
	return slackapi.NewClearViewSubmissionResponse()
}

// errorText is a failed reply as one line for an input's inline error:
// its title and its field errors.
func errorText(rep commands.Reply) string {
	parts := []string{rep.Title}
	for _, e := range rep.Errors {
		s := e.Message
		if e.Field != "" {
			s = e.Field + ": " + s
		}
		parts = append(parts, s)
	}
	if parts[0] == "" {
		parts[0] = "The command failed."
	}
	return strings.Join(parts, " · ")
}

// countCommand reports a command run by a button to the metrics.
func (a *Adapter) countCommand(ctx context.Context, verb string, rep commands.Reply, start time.Time) {
	outcome := "ok"
	if rep.Err != nil {
		code := platform.ErrorCode(rep.Err)
		outcome = string(code)
		a.metrics.Error(Platform, code)
		a.log.InfoContext(ctx, "command refused", "verb", verb, "code", outcome, "ref", rep.ErrRef)
	}
	a.metrics.Command(Platform, verb, outcome, time.Since(start))
}

// tellLater shows rep to user alone where they clicked, after the
// acknowledgement of the request ctx belongs to: on a context that keeps
// ctx's values, not its end, bounded by slowWork.
func (a *Adapter) tellLater(ctx context.Context, o clickOrigin, user string, rep commands.Reply) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slowWork)
	defer cancel()
	a.tell(ctx, o, user, a.replyMessage(ctx, rep))
}

// tell shows m to user alone where they clicked: as an ephemeral message
// in the channel (in the thread, when the button was in one), or through
// the click's response_url when the button was on an ephemeral message or
// the ephemeral message cannot be posted.
func (a *Adapter) tell(ctx context.Context, o clickOrigin, user string, m Msg) {
	if o.channel == "" && o.responseURL == "" && user != "" {
		// A click on the Home tab has neither: the answer goes to the
		// person's messages with the app.
		if _, _, err := a.api.PostMessageContext(ctx, user, msgOptions(m, "")...); err != nil {
			a.log.ErrorContext(ctx, "show an action's result in direct messages", "user", user, "err", a.apiErr("chat.postMessage", err))
		}
		return
	}
	if !o.ephemeral && o.channel != "" && user != "" {
		_, err := a.api.PostEphemeralContext(ctx, o.channel, user, msgOptions(m, o.thread)...)
		if err == nil {
			return
		}
		if o.responseURL == "" {
			a.log.ErrorContext(ctx, "show an action's result", "channel", o.channel, "err", a.apiErr("chat.postEphemeral", err))
			return
		}
		a.log.WarnContext(ctx, "cannot post the action's result ephemerally; answering through response_url", "channel", o.channel, "err", err)
	}
	a.respond(ctx, o.responseURL, m, false, false)
}

// actionButton renders act as the n-th button of its kind, carrying value: its
// label (or, without one, its command) and its style.
func actionButton(kind string, n int, value string, act commands.Action) *slackapi.ButtonBlockElement {
	label := strings.TrimSpace(act.Label)
	if label == "" {
		label = strings.TrimSpace(act.Command)
	}
	b := slackapi.NewButtonBlockElement(kind+strconv.Itoa(n), value, plain(label, maxButtonText))
	switch act.Style {
	case "primary":
		b = b.WithStyle(slackapi.StylePrimary)
	case "danger":
		b = b.WithStyle(slackapi.StyleDanger)
	}
	return b
}
