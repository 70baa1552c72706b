package discord

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// threadArchive is how long (minutes) a progress thread stays open without
// activity: a week, the longest Discord offers.
const threadArchive = 10080

// lostChannel are the errors that mean the bot cannot post in a channel
// (any more): its thread then moves to the requester's direct messages.
var lostChannel = []int{codeUnknownChannel, codeMissingAccess, codeMissingPermission, codeThreadArchived}

// nonce identifies the message posted for event eventID of resource
// resourceID (0: the root message). Discord returns the message already
// posted with the same nonce in the last minutes instead of posting it
// again, so a delivery retried after a lost response does not repeat it.
func nonce(resourceID, eventID int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(resourceID))
	binary.BigEndian.PutUint64(b[8:], uint64(eventID))
	sum := sha256.Sum256(b[:])
	return "idp" + hex.EncodeToString(sum[:])[:21]
}

// messageCreate is the body of a channel message: discordgo's
// MessageSend has no nonce.
type messageCreate struct {
	Content         string                            `json:"content,omitempty"`
	Embeds          []*discordgo.MessageEmbed         `json:"embeds,omitempty"`
	AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
	Nonce           string                            `json:"nonce,omitempty"`
	EnforceNonce    bool                              `json:"enforce_nonce,omitempty"`
	Reference       *discordgo.MessageReference       `json:"message_reference,omitempty"`
	Components      []discordgo.MessageComponent      `json:"components,omitempty"`
}

// send posts m in channel, at most once per nonce; with reply set it
// answers that message.
func (a *Adapter) send(ctx context.Context, channel string, m Message, nonce, reply string) (*discordgo.Message, error) {
	body := messageCreate{Content: m.Content, Embeds: m.Embeds, Components: m.Components, AllowedMentions: noMentions(), Nonce: nonce, EnforceNonce: nonce != ""}
	if reply != "" {
		no := false
		body.Reference = &discordgo.MessageReference{MessageID: reply, ChannelID: channel, FailIfNotExists: &no}
	}
	endpoint := discordgo.EndpointChannelMessages(channel)
	out, err := a.s.RequestWithBucketID(http.MethodPost, endpoint, body, endpoint, discordgo.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	var msg discordgo.Message
	if err := json.Unmarshal(out, &msg); err != nil || msg.ID == "" {
		return nil, fmt.Errorf("decode the message discord created: %w", err)
	}
	return &msg, nil
}

// Notify posts one event of r's history in r's progress thread. The first
// event posts the root message (in the configured requests channel, or the
// channel the request came from, or else the requester's direct messages)
// and starts a thread from it, saving both; a state change edits the root
// to show the current state; every event becomes a message in the thread,
// posted last, so that a retry after any failure repeats only idempotent
// work (messages carry a nonce Discord deduplicates). A 429 is returned as
// a *RateLimitError.
func (a *Adapter) Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error {
	msg, ok := a.eventMessage(ctx, r, ev)
	if !ok {
		return nil
	}
	th, found, err := a.threads.Thread(ctx, r.ID, Platform)
	if err != nil {
		return fmt.Errorf("notify %s: %w", r.Ref(), err)
	}
	opened := false
	if !found || th.ThreadRef == "" {
		if th, err = a.openThread(ctx, r, th, found); err != nil || th.Channel == "" {
			return err
		}
		opened = true
	}
	if ev.Kind == platform.EventTransition && !opened {
		if err := a.editRoot(ctx, r, th); err != nil {
			return err
		}
	}
	err = a.postInThread(ctx, th, msg, nonce(r.ID, ev.ID))
	if slices.Contains(lostChannel, apiCode(err)) {
		// The bot lost the thread or its channel (deleted, permissions
		// changed): the rest of the story moves to a direct message.
		a.log.WarnContext(ctx, "cannot post in the thread any more; moving it to a direct message", "request_id", r.ID, "channel", th.Channel, "err", err)
		moved, merr := a.rootInDM(ctx, r, th.Channel)
		if merr != nil || moved.Channel == "" {
			return merr
		}
		err = a.postInThread(ctx, moved, msg, nonce(r.ID, ev.ID))
	}
	if err != nil {
		return a.apiErr("post thread message", err)
	}
	return nil
}

// eventMessage renders the thread message of event ev of r: its line, and
// the event's actions as buttons (Config's EventActions).
func (a *Adapter) eventMessage(ctx context.Context, r *platform.Resource, ev platform.Event) (Message, bool) {
	text, ok := EventMessage(r, ev)
	if !ok {
		return Message{}, false
	}
	m := Message{Content: text}
	actions := a.actions(r, ev)
	var notes []string
	problems := withActions(&m, actions, &notes)
	a.logActionProblems(ctx, problems)
	if len(notes) > 0 {
		m.Content = joinWithNotes([]string{text}, notes)
	}
	return m, true
}

// postInThread posts m in th's thread, or as a reply to the root when th
// has no thread of its own (direct messages).
func (a *Adapter) postInThread(ctx context.Context, th postgres.Thread, m Message, nonce string) error {
	reply := ""
	if th.ThreadRef == th.Channel {
		reply = th.RootRef
	}
	_, err := a.send(ctx, th.ThreadRef, m, nonce, reply)
	return err
}

// openThread posts r's root message unless it was posted already (found
// with no thread: an earlier attempt stopped half-way), then starts its
// thread, saving each step.
func (a *Adapter) openThread(ctx context.Context, r *platform.Resource, th postgres.Thread, found bool) (postgres.Thread, error) {
	if !found {
		channel := a.requests
		if channel == "" {
			channel = r.Origin.Channel
		}
		if channel == "" {
			return a.rootInDM(ctx, r, "")
		}
		msg, err := a.send(ctx, channel, RootMessage(r), nonce(r.ID, 0), "")
		if slices.Contains(lostChannel, apiCode(err)) {
			a.log.WarnContext(ctx, "cannot post in the request's channel; using a direct message", "request_id", r.ID, "channel", channel, "err", err)
			return a.rootInDM(ctx, r, "")
		}
		if err != nil {
			return postgres.Thread{}, a.apiErr("post root message", err)
		}
		th = postgres.Thread{Channel: channel, RootRef: msg.ID}
		if err := a.threads.SaveThread(ctx, r.ID, Platform, th); err != nil {
			return postgres.Thread{}, fmt.Errorf("save discord thread of %s: %w", r.Ref(), err)
		}
	}
	ch, err := a.s.MessageThreadStartComplex(th.Channel, th.RootRef, &discordgo.ThreadStart{Name: ThreadName(r), AutoArchiveDuration: threadArchive},
		discordgo.WithContext(ctx))
	switch code := apiCode(err); {
	case err == nil:
		th.ThreadRef = ch.ID
	case code == codeThreadExists:
		// Started by an earlier attempt: a thread started from a message
		// has the message's id.
		th.ThreadRef = th.RootRef
	case code == codeWrongChannelType || code == codeMissingPermission || code == codeMissingAccess:
		a.log.WarnContext(ctx, "cannot start a thread; replying to the root message instead", "request_id", r.ID, "channel", th.Channel, "err", err)
		th.ThreadRef = th.Channel
	default:
		return postgres.Thread{}, a.apiErr("start thread", err)
	}
	if err := a.threads.SaveThread(ctx, r.ID, Platform, th); err != nil {
		return postgres.Thread{}, fmt.Errorf("save discord thread of %s: %w", r.Ref(), err)
	}
	return th, nil
}

// rootInDM posts r's root message in its requester's direct messages,
// where the story continues as replies to it, and saves that as r's
// thread. It returns a zero Thread when the requester is not a Discord
// user, or when the direct messages are the channel that was just lost.
func (a *Adapter) rootInDM(ctx context.Context, r *platform.Resource, lost string) (postgres.Thread, error) {
	dm, err := a.openDM(ctx, r.Requester)
	if err != nil {
		return postgres.Thread{}, err
	}
	if dm == "" || dm == lost {
		a.log.ErrorContext(ctx, "request has no Discord channel to be told in; its progress is not posted", "request_id", r.ID)
		return postgres.Thread{}, nil
	}
	msg, err := a.send(ctx, dm, RootMessage(r), nonce(r.ID, -1), "")
	if err != nil {
		return postgres.Thread{}, a.apiErr("post root message", err)
	}
	th := postgres.Thread{Channel: dm, RootRef: msg.ID, ThreadRef: dm}
	if err := a.threads.SaveThread(ctx, r.ID, Platform, th); err != nil {
		return postgres.Thread{}, fmt.Errorf("save discord thread of %s: %w", r.Ref(), err)
	}
	return th, nil
}

// editRoot shows r's current state in its root message.
func (a *Adapter) editRoot(ctx context.Context, r *platform.Resource, th postgres.Thread) error {
	m := RootMessage(r)
	_, err := a.s.ChannelMessageEditComplex(&discordgo.MessageEdit{ID: th.RootRef, Channel: th.Channel, Embeds: &m.Embeds, AllowedMentions: noMentions()},
		discordgo.WithContext(ctx))
	switch code := apiCode(err); {
	case err == nil:
	case code == codeUnknownMessage || slices.Contains(lostChannel, code):
		// Someone deleted the root, or the bot lost its channel: the
		// thread still tells the story.
		a.log.WarnContext(ctx, "cannot update root message", "request_id", r.ID, "err", err)
	default:
		return a.apiErr("edit root message", err)
	}
	return nil
}

// openDM opens the direct message channel with a Discord actor; it returns
// "" for an actor who is not a Discord user.
func (a *Adapter) openDM(ctx context.Context, actor platform.Actor) (string, error) {
	user := discordUser(actor)
	if user == "" {
		return "", nil
	}
	ch, err := a.s.UserChannelCreate(user, discordgo.WithContext(ctx))
	if err != nil {
		return "", a.apiErr("open direct message", err)
	}
	return ch.ID, nil
}

// Private sends r's connection details to its requester by direct message
// — never in a channel, never logged — and notes in the thread that they
// were sent (or why they could not be). A 429 is returned as a
// *RateLimitError.
func (a *Adapter) Private(ctx context.Context, r *platform.Resource, secrets map[string]string) error {
	dm, err := a.openDM(ctx, r.Requester)
	if err != nil {
		return err
	}
	if dm == "" {
		a.log.ErrorContext(ctx, "requester is not a Discord user; connection details not sent", "request_id", r.ID)
		return nil
	}
	note := fmt.Sprintf("🔒 Connection details were sent to %s by direct message.", mention(r.Requester))
	for _, m := range PrivateMessages(r, secrets) {
		_, err := a.s.ChannelMessageSendComplex(dm, &discordgo.MessageSend{Content: m.Content, Embeds: m.Embeds, AllowedMentions: noMentions()},
			discordgo.WithContext(ctx))
		if apiCode(err) == codeCannotDM {
			a.log.WarnContext(ctx, "requester does not accept direct messages; connection details not sent", "request_id", r.ID)
			note = fmt.Sprintf("🔒 The connection details could not be sent to %s: they do not accept direct messages from this server. "+
				"Allow them, then ask the platform team to reset the credentials.", mention(r.Requester))
			break
		}
		if err != nil {
			return a.apiErr("send direct message", err)
		}
	}
	th, found, err := a.threads.Thread(ctx, r.ID, Platform)
	if err != nil || !found || th.ThreadRef == "" || th.Channel == dm {
		return nil
	}
	if err := a.postInThread(ctx, th, Message{Content: note}, ""); err != nil {
		a.log.WarnContext(ctx, "note in the thread that connection details were sent", "request_id", r.ID, "err", a.apiErr("post thread message", err))
	}
	return nil
}
