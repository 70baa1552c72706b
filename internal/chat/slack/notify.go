package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/platform"
)

var _ thread.Transport = (*Adapter)(nil)

// unpostable are the Slack errors that mean the bot cannot post in a
// channel at all; a resource's story then goes to the requester's direct
// messages.
var unpostable = []string{"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "ekm_access_denied"}

// Platform implements thread.Transport.
func (a *Adapter) Platform() string { return Platform }

// Post implements thread.Transport: it posts m in channel (a conversation
// id) with metadata naming it key, and returns its ts. A 429 is a
// *thread.RateLimitError; a channel that does not exist (any more) is a
// platform NotFound error and one the bot may not post in (not a member,
// archived) Forbidden, both thread.ErrLost; other failures (5xx, network)
// are plain errors to retry.
func (a *Adapter) Post(ctx context.Context, channel string, m thread.Message, key string) (string, error) {
	return a.send(ctx, channel, "", m, key)
}

// Reply implements thread.Transport: it posts m in th's thread (Slack
// threads hang off their root message). Errors are classified as Post's.
func (a *Adapter) Reply(ctx context.Context, th platform.Thread, m thread.Message, key string) (string, error) {
	if !messageTS.MatchString(th.ThreadRef) {
		return "", platform.Errorf(platform.Invalid, "%q in %q is not a Slack message.", clip(th.ThreadRef, 40), clip(th.Channel, 40))
	}
	return a.send(ctx, th.Channel, th.ThreadRef, m, key)
}

func (a *Adapter) send(ctx context.Context, channel, threadTS string, m thread.Message, key string) (string, error) {
	if !channelID.MatchString(channel) {
		return "", platform.Errorf(platform.Invalid, "%q is not a Slack channel id.", clip(channel, 40))
	}
	msg, err := a.render(ctx, m)
	if err != nil {
		return "", err
	}
	opts := append(msgOptions(msg, threadTS), slackapi.MsgOptionMetadata(slackapi.SlackMetadata{
		EventType: deliveryEventType, EventPayload: map[string]any{"key": key}}))
	_, ts, err := a.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", a.postErr("chat.postMessage", channel, err)
	}
	a.delivered(ctx, m)
	return ts, nil
}

// delivered is told that m reached its thread: the Home tab of the
// resource's requester follows it.
func (a *Adapter) delivered(ctx context.Context, m thread.Message) {
	if m.Kind == thread.Root || m.Kind == thread.Event {
		a.homeChanged(ctx, m.Resource, m.Event)
	}
}

// Edit implements thread.Transport (chat.update); a Post without Actions
// leaves the message without buttons. A message that was deleted, or that
// Slack will not let change any more, is thread.ErrGone and a platform
// NotFound error; other errors are classified as Post's.
func (a *Adapter) Edit(ctx context.Context, channel, ref string, m thread.Message) error {
	if !channelID.MatchString(channel) || !messageTS.MatchString(ref) {
		return platform.Errorf(platform.Invalid, "%q in %q is not a Slack message.", clip(ref, 40), clip(channel, 40))
	}
	msg, err := a.render(ctx, m)
	if err != nil {
		return err
	}
	_, _, _, err = a.api.UpdateMessageContext(ctx, channel, ref, msgOptions(msg, "")...)
	if code := slackCode(err); slices.Contains(cannotUpdate, code) {
		return thread.Classify(thread.ErrGone, &platform.Error{Code: platform.NotFound, Message: "The Slack message was deleted, or can no longer be changed.", Err: err})
	}
	if err != nil {
		return a.postErr("chat.update", channel, err)
	}
	a.delivered(ctx, m)
	return nil
}

// StartThread implements thread.Transport: a Slack thread is the replies
// to its root message.
func (a *Adapter) StartThread(_ context.Context, th platform.Thread, _ *platform.Resource, _ bool) (platform.Thread, error) {
	th.ThreadRef = th.RootRef
	return th, nil
}

// DirectChannel implements thread.Transport: it opens the direct message
// channel with a Slack actor; it returns "" for an actor who is not a
// Slack user.
func (a *Adapter) DirectChannel(ctx context.Context, actor platform.Actor) (string, error) {
	user, ok := strings.CutPrefix(actor.ID, Platform+":")
	if !ok || user == "" {
		return "", nil
	}
	if dm, ok := a.dms.Load(user); ok {
		return dm.(string), nil // a person's direct message channel never changes
	}
	ch, _, _, err := a.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
	if err != nil {
		return "", a.apiErr("conversations.open", err)
	}
	a.dms.Store(user, ch.ID)
	return ch.ID, nil
}

// render renders m as a Slack message.
func (a *Adapter) render(ctx context.Context, m thread.Message) (Msg, error) {
	switch m.Kind {
	case thread.Root:
		return RootMessage(m.Resource), nil
	case thread.Event:
		return a.eventMessage(ctx, m), nil
	case thread.Secret:
		return PrivateMessage(m.Resource, m.Secrets), nil
	case thread.Note:
		return Msg{Text: noteText(m)}, nil
	case thread.Post:
		return a.postMessage(ctx, m.Reply)
	}
	return Msg{}, fmt.Errorf("slack: cannot render a message of kind %d", m.Kind)
}

// noteText renders a note of the bot's own.
func noteText(m thread.Message) string {
	st, text := thread.NoteOf(m.Note, mention(m.Resource.Requester))
	return ":" + st.Icon + ": " + text
}

// eventMessage renders the thread message of an event: its line, and the
// event's actions as buttons under it.
func (a *Adapter) eventMessage(ctx context.Context, ev thread.Message) Msg {
	m, _ := EventMessage(ev.Resource, ev.Event)
	if len(ev.Lines) > 0 {
		// Several events told in one reply: a line each.
		lines := thread.PartLines(ev, func(r *platform.Resource, e platform.Event) (string, bool) {
			m, ok := EventMessage(r, e)
			return m.Text, ok
		}, noteText)
		m = Msg{Text: clip(strings.Join(lines, "\n"), maxSectionText)}
	}
	if len(ev.Actions) == 0 {
		return m
	}
	blocks, notes, problems := actionBlocks(ev.Actions, maxActionBlocks)
	a.logActionProblems(ctx, problems)
	text := m.Text
	if len(notes) > 0 {
		text += "\nRun as text:\n" + strings.Join(notes, "\n")
	}
	m.Blocks = append([]slackapi.Block{slackapi.NewSectionBlock(mrkdwn(text, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("event"))}, blocks...)
	return m
}

// msgOptions are the options posting m (in the thread of threadTS, if
// set).
func msgOptions(m Msg, threadTS string) []slackapi.MsgOption {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(m.Blocks...))
	}
	if threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	return opts
}

// apiErr classifies an error of a Web API call for the job that made it: a
// 429 is a *thread.RateLimitError. (The job, not the adapter, records
// rate-limit waits in the metrics.)
func (a *Adapter) apiErr(method string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return &thread.RateLimitError{Bucket: "slack " + method, After: rl.RetryAfter, Err: err}
	}
	return fmt.Errorf("slack %s: %w", method, err)
}

// slackCode returns the Slack error code of a failed call ("not_in_channel").
func slackCode(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}
