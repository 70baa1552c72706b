package slack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/tracing"
)

// ephemeral is a message answering a command, shown only to its author.
type ephemeral struct {
	ResponseType string           `json:"response_type"`
	Text         string           `json:"text"`
	Blocks       []slackapi.Block `json:"blocks,omitempty"`
}

func ephemeralOf(m Msg) ephemeral {
	return ephemeral{ResponseType: "ephemeral", Text: m.Text, Blocks: m.Blocks}
}

// verbs are the metric labels of commands (a bounded set); anything else
// is "other".
var verbs = map[string]bool{"help": true, "catalog": true, "create": true, "list": true, "status": true, "delete": true,
	"update": true, "extend": true, "retry": true, "credentials": true, "forget": true, "audit": true, "support": true, "approve": true, "reject": true, "home": true}

// slash handles a slash command and returns the payload of its
// acknowledgement (nil: an empty 200). A command answered by a modal is
// acknowledged at once and the modal opened right after, as Slack
// recommends, so the acknowledgement never waits for the Web API. Work
// that outlives AckBudget continues in the background: the acknowledgement
// says so, and the answer replaces it through response_url.
func (a *Adapter) slash(ctx context.Context, cmd slackapi.SlashCommand) any {
	ctx, span := tracing.Start(ctx, "slack.ack command")
	defer span.End()
	if ack, ok := a.keptAck(ctx, cmd); ok {
		return ack
	}
	res, inTime, later := chat.Within(ctx, chat.Ack{Budget: a.ackBudget, Limit: slowWork, BG: &a.bg}, func(ctx context.Context) slashResult {
		return a.runCommand(ctx, cmd)
	})
	if !inTime {
		a.bg.Go(func() { a.followUp(ctx, cmd, later(), true, true) })
		return ephemeralOf(Msg{Text: ":hourglass_flowing_sand: Working on it…"})
	}
	if res.open != nil {
		if a.formsBehind.Add(1) > maxFormsBehind {
			// More forms wait than the bot opens within their triggers'
			// 3 s: this acknowledgement opens its own form first, which
			// slows the commands that follow as much as the forms need.
			a.followUp(ctx, cmd, res, false, false)
			a.formsBehind.Add(-1)
		} else {
			a.bg.Go(func() {
				defer a.formsBehind.Add(-1)
				a.followUp(ctx, cmd, res, false, true)
			})
		}
	}
	if res.ack != nil {
		return res.ack
	}
	if res.msg == nil {
		return nil
	}
	return ephemeralOf(*res.msg)
}

// keptAck returns the acknowledgement of a command whose reply is kept
// already (a help: commands.Router.Kept), for a person known from the
// cache: it needs no I/O, so it is answered at once, without the goroutine
// and timer that bound a command's work (chat.Within).
func (a *Adapter) keptAck(ctx context.Context, cmd slackapi.SlashCommand) (json.RawMessage, bool) {
	start := time.Now()
	if cmd.TriggerID == "" {
		return nil, false // refused by command, as any command without one
	}
	actor, ok := a.who.known(cmd.UserID, cmd.UserName)
	if !ok {
		return nil, false
	}
	rep, ok := a.router.Load().Kept(commands.Request{Actor: actor, Platform: Platform, Channel: cmd.ChannelID, Text: strings.TrimSpace(cmd.Text)})
	if !ok {
		return nil, false
	}
	s := a.same(ctx, rep)
	if s == nil {
		return nil, false
	}
	a.metrics.Command(Platform, "help", "ok", time.Since(start))
	return s.ack, true
}

// slashResult is what runCommand returns: the reply to show, or the
// function that opens the modal answering the command; ack, when set, is
// msg encoded as the acknowledgement already.
type slashResult struct {
	msg  *Msg
	open func(context.Context) *Msg
	ack  json.RawMessage
}

// sameReply is a reply that is always the same, rendered and encoded as
// an acknowledgement.
type sameReply struct {
	msg Msg
	ack json.RawMessage
}

// same returns rep, a reply that is the same every time
// (commands.Reply.Same), rendered and encoded: the first time, and kept.
// It returns nil if the reply cannot be encoded.
func (a *Adapter) same(ctx context.Context, rep commands.Reply) *sameReply {
	if s, ok := a.acks.Load(rep.Same); ok {
		return s.(*sameReply)
	}
	m := a.replyMessage(ctx, rep)
	ack, err := json.Marshal(ephemeralOf(m))
	if err != nil {
		a.log.ErrorContext(ctx, "encode slack acknowledgement", "err", err)
		return nil
	}
	s := &sameReply{msg: m, ack: ack}
	a.acks.Store(rep.Same, s)
	return s
}

// followUp completes a slash command after its acknowledgement: it opens
// the modal that answers it (after waiting for a turn, when wait), and
// answers through response_url when the modal did not open, and, when the
// acknowledgement said "working on it" (late), with the reply or by
// removing that message.
func (a *Adapter) followUp(ctx context.Context, cmd slackapi.SlashCommand, res slashResult, late, wait bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slowWork)
	defer cancel()
	msg := res.msg
	if res.open != nil {
		done := func() {}
		if wait {
			var ok bool
			if done, ok = a.openTurn(ctx); !ok {
				return // shutting down
			}
		}
		msg = res.open(ctx)
		done()
	}
	switch {
	case !late && msg != nil && res.open != nil:
		a.respond(ctx, cmd.ResponseURL, *msg, false, false) // the modal did not open
	case late && msg != nil:
		a.respond(ctx, cmd.ResponseURL, *msg, true, false)
	case late:
		a.respond(ctx, cmd.ResponseURL, Msg{}, false, true) // the modal opened: remove "working on it"
	}
}

// runCommand runs one slash command. It returns the reply to show, or a
// function that opens the modal answering the command and returns what to
// show if it cannot.
func (a *Adapter) runCommand(ctx context.Context, cmd slackapi.SlashCommand) slashResult {
	msg, open, same := a.command(ctx, cmd)
	if same != nil {
		return slashResult{msg: &same.msg, ack: same.ack}
	}
	return slashResult{msg: msg, open: open}
}

func (a *Adapter) command(ctx context.Context, cmd slackapi.SlashCommand) (*Msg, func(context.Context) *Msg, *sameReply) {
	start := time.Now()
	actor := a.who.actor(ctx, cmd.UserID, cmd.UserName)
	text := strings.TrimSpace(cmd.Text)
	words := strings.Fields(text)
	verb := "help"
	if len(words) > 0 {
		verb = strings.ToLower(words[0])
	}
	if !verbs[verb] {
		verb = "other"
	}
	// opener returns the function that renders the modal answering the
	// command and opens it, after the acknowledgement: rendering and
	// encoding a form costs more than the rest of the command.
	opener := func(render func() (json.RawMessage, error)) func(context.Context) *Msg {
		return func(ctx context.Context) *Msg {
			view, err := render()
			if err != nil {
				a.metrics.Command(Platform, verb, string(platform.Internal), time.Since(start))
				m := a.internal(ctx, "render the form of /idp "+verb, err)
				return &m
			}
			if err := a.openEncoded(ctx, cmd.TriggerID, view); err != nil {
				a.metrics.Command(Platform, verb, "error", time.Since(start))
				return a.viewFailed(ctx, err)
			}
			a.metrics.Command(Platform, verb, "ok", time.Since(start))
			return nil
		}
	}
	key, err := platform.IdempotencyKey(Platform, "trigger", cmd.TriggerID, actor)
	if err != nil {
		a.log.WarnContext(ctx, "slash command refused: no trigger id", "verb", verb, "user", actor.ID)
		a.metrics.Error(Platform, platform.ErrorCode(err))
		a.metrics.Command(Platform, verb, string(platform.ErrorCode(err)), time.Since(start))
		m := a.replyMessage(ctx, commands.ErrorReply(ctx, a.log, err))
		return &m, nil, nil
	}
	if len(words) == 1 && verb == "create" {
		return nil, opener(func() (json.RawMessage, error) {
			return encodeView(pickerModal(a.engine.Catalog().Services(), a.engine.Availability, Metadata{Channel: cmd.ChannelID}))
		}), nil
	}
	if len(words) == 2 && verb == "update" {
		view, refused := a.updateView(ctx, actor, words[1], cmd.ChannelID)
		if refused != nil {
			a.metrics.Command(Platform, verb, "refused", time.Since(start))
			return refused, nil, nil
		}
		return nil, opener(func() (json.RawMessage, error) { return encodeView(view) }), nil
	}
	rep := a.router.Load().Handle(ctx, commands.Request{Actor: actor, Platform: Platform, Channel: cmd.ChannelID, Text: text,
		Interactive: true, IdempotencyKey: key})
	if rep.Form != nil && rep.Form.Service != nil {
		return nil, opener(func() (json.RawMessage, error) { return a.formView(rep.Form, cmd.ChannelID) }), nil
	}
	outcome := "ok"
	if rep.Err != nil {
		outcome = string(platform.ErrorCode(rep.Err))
		a.metrics.Error(Platform, platform.ErrorCode(rep.Err))
		a.log.InfoContext(ctx, "command refused", "verb", verb, "user", actor.ID, "code", outcome, "ref", rep.ErrRef)
	}
	a.metrics.Command(Platform, verb, outcome, time.Since(start))
	if rep.Same != "" && rep.Err == nil {
		if same := a.same(ctx, rep); same != nil {
			return nil, nil, same
		}
	}
	m := a.replyMessage(ctx, rep)
	return &m, nil, nil
}

// viewFailed tells the user a modal could not be opened.
func (a *Adapter) viewFailed(ctx context.Context, err error) *Msg {
	switch slackCode(err) {
	case "expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id":
		a.log.WarnContext(ctx, "slack trigger expired before the form opened", "err", err)
		return &Msg{Text: ":hourglass: Slack did not let me open the form in time. Please run the command again."}
	}
	m := a.internal(ctx, "open modal", err)
	return &m
}

// internal logs err with a reference and returns the message that shows
// the reference to the user.
func (a *Adapter) internal(ctx context.Context, what string, err error) Msg {
	ref := commands.NewRef()
	a.log.ErrorContext(ctx, what, "ref", ref, "err", err)
	a.metrics.Error(Platform, platform.Internal)
	return Msg{Text: ":warning: Something went wrong (ref: " + ref + "). The platform team can look it up with this reference."}
}

// userMessage is the text of err for a person: its message, or a
// reference for an internal error.
func (a *Adapter) userMessage(ctx context.Context, what string, err error) string {
	if platform.ErrorCode(err) == platform.Internal {
		return a.internal(ctx, what, err).Text
	}
	return ":warning: " + escape(platform.ErrorMessage(err))
}

// respond posts to a response_url: the answer to a command, replacing or
// deleting the message the command or button belongs to.
func (a *Adapter) respond(ctx context.Context, url string, m Msg, replace, del bool) {
	if url == "" {
		a.log.WarnContext(ctx, "no response_url to answer through")
		return
	}
	msg := &slackapi.WebhookMessage{ResponseType: "ephemeral", Text: m.Text, ReplaceOriginal: replace, DeleteOriginal: del}
	if len(m.Blocks) > 0 {
		msg.Blocks = &slackapi.Blocks{BlockSet: m.Blocks}
	}
	if err := slackapi.PostWebhookCustomHTTPContext(ctx, url, a.http, msg); err != nil {
		var rl *slackapi.RateLimitedError
		if errors.As(err, &rl) {
			a.metrics.RateLimited(Platform, rl.RetryAfter)
		}
		a.log.ErrorContext(ctx, "answer through response_url", "err", err)
	}
}
