package slack

import (
	"context"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// unpostable are the Slack errors that mean the bot cannot post in a
// channel at all; the thread then goes to the requester's direct messages.
var unpostable = []string{"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "ekm_access_denied"}

// Notify posts one event of r's history in r's progress thread: the first
// event creates the root message (in the configured requests channel, or the
// channel the request came from) and remembers it; a state change edits the
// root to show the current state; every event becomes a reply in the
// thread. The reply is the last call, so a retry after any failure repeats
// only idempotent work. A 429 is returned as a *RateLimitError.
func (a *Adapter) Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error {
	msg, ok := a.eventMessage(ctx, r, ev)
	if !ok {
		return nil
	}
	th, found, err := a.threads.Thread(ctx, r.ID, Platform)
	if err != nil {
		return fmt.Errorf("notify %s: %w", r.Ref(), err)
	}
	if !found {
		channel := a.requests
		if channel == "" {
			channel = r.Origin.Channel
		}
		if th, err = a.postRoot(ctx, r, channel); err != nil {
			return err
		}
		if th.Channel == "" {
			return nil
		}
	} else if ev.Kind == platform.EventTransition {
		root := RootMessage(r)
		_, _, _, err := a.api.UpdateMessageContext(ctx, th.Channel, th.RootRef,
			slackapi.MsgOptionText(root.Text, false), slackapi.MsgOptionBlocks(root.Blocks...))
		switch code := slackCode(err); {
		case err == nil:
		case slices.Contains(cannotUpdate, code):
			// Someone deleted the root, or Slack will not let it change:
			// the thread still tells the story.
			a.log.WarnContext(ctx, "cannot update root message", "request_id", r.ID, "err", err)
		default:
			return a.apiErr("chat.update", err)
		}
	}
	key := fmt.Sprintf("event:%d", ev.ID)
	_, err = a.postOnce(ctx, th.Channel, th.ThreadRef, key, msg)
	if slices.Contains(unpostable, slackCode(err)) && !strings.HasPrefix(th.Channel, "D") {
		// The bot lost the channel (removed, archived): the rest of the
		// story moves to the requester's direct messages.
		a.log.WarnContext(ctx, "cannot post in the thread's channel any more; moving it to a direct message", "request_id", r.ID, "channel", th.Channel, "err", err)
		if th, err = a.postRoot(ctx, r, ""); err != nil || th.Channel == "" {
			return err
		}
		_, err = a.postOnce(ctx, th.Channel, th.ThreadRef, key, msg)
	}
	return a.apiErr("chat.postMessage", err)
}

// eventMessage renders the thread message of event ev of r: its line, and
// the event's actions as buttons (Config's EventActions) under it.
func (a *Adapter) eventMessage(ctx context.Context, r *platform.Resource, ev platform.Event) (Msg, bool) {
	m, ok := EventMessage(r, ev)
	if !ok {
		return Msg{}, false
	}
	actions := a.actions(r, ev)
	if len(actions) == 0 {
		return m, true
	}
	blocks, notes, problems := actionBlocks(actions, maxActionBlocks)
	a.logActionProblems(ctx, problems)
	text := m.Text
	if len(notes) > 0 {
		text += "\nRun as text:\n" + strings.Join(notes, "\n")
	}
	m.Blocks = append([]slackapi.Block{slackapi.NewSectionBlock(mrkdwn(text, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("event"))}, blocks...)
	return m, true
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

// postRoot posts r's root message in channel and saves it as r's thread.
// With no channel, or one the bot cannot post in, it uses the requester's
// direct messages. It returns a zero Thread when the thread has nowhere to
// go.
func (a *Adapter) postRoot(ctx context.Context, r *platform.Resource, channel string) (postgres.Thread, error) {
	root := RootMessage(r)
	post := func(ch string) (string, error) {
		return a.postOnce(ctx, ch, "", fmt.Sprintf("root:%d", r.ID), root)
	}
	var ts string
	var err error
	if channel != "" {
		ts, err = post(channel)
	}
	if channel == "" || slices.Contains(unpostable, slackCode(err)) {
		if err != nil {
			a.log.WarnContext(ctx, "cannot post in the request's channel; using a direct message", "request_id", r.ID, "channel", channel, "err", err)
		}
		dm, derr := a.openDM(ctx, r.Requester)
		if derr != nil || dm == "" {
			if derr == nil {
				a.log.ErrorContext(ctx, "request has no channel and no Slack requester; its progress is not posted", "request_id", r.ID)
			}
			return postgres.Thread{}, derr
		}
		channel = dm
		ts, err = post(channel)
	}
	if err != nil {
		return postgres.Thread{}, a.apiErr("chat.postMessage", err)
	}
	th := postgres.Thread{Channel: channel, ThreadRef: ts, RootRef: ts}
	if err := a.threads.SaveThread(ctx, r.ID, Platform, th); err != nil {
		return postgres.Thread{}, fmt.Errorf("save slack thread of %s: %w", r.Ref(), err)
	}
	return th, nil
}

// openDM opens the direct message channel with a Slack actor; it returns
// "" for an actor who is not a Slack user.
func (a *Adapter) openDM(ctx context.Context, actor platform.Actor) (string, error) {
	user, ok := strings.CutPrefix(actor.ID, Platform+":")
	if !ok || user == "" {
		return "", nil
	}
	ch, _, _, err := a.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
	if err != nil {
		return "", a.apiErr("conversations.open", err)
	}
	return ch.ID, nil
}

// Private sends r's connection details to its requester by direct message
// — never in a channel, never logged — and notes in the thread that they
// were sent. A 429 is returned as a *RateLimitError.
func (a *Adapter) Private(ctx context.Context, r *platform.Resource, secrets map[string]string) error {
	dm, err := a.openDM(ctx, r.Requester)
	if err != nil {
		return err
	}
	if dm == "" {
		a.log.ErrorContext(ctx, "requester is not a Slack user; connection details not sent", "request_id", r.ID)
		return nil
	}
	msg := PrivateMessage(r, secrets)
	if _, err := a.postOnce(ctx, dm, "", fmt.Sprintf("secret:%d", r.ID), msg); err != nil {
		return a.apiErr("chat.postMessage", err)
	}
	th, found, err := a.threads.Thread(ctx, r.ID, Platform)
	if err != nil || !found || th.Channel == dm {
		return nil
	}
	note := fmt.Sprintf(":lock: Connection details were sent to %s by direct message.", mention(r.Requester))
	if _, err := a.postOnce(ctx, th.Channel, th.ThreadRef, fmt.Sprintf("secret-note:%d", r.ID), Msg{Text: note}); err != nil {
		a.log.WarnContext(ctx, "note in thread that connection details were sent", "request_id", r.ID, "err", err)
	}
	return nil
}
