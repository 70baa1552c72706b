package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/platform"
)

var _ thread.Transport = (*Adapter)(nil)

// threadArchive is how long (minutes) a progress thread stays open without
// activity: a week, the longest Discord offers.
const threadArchive = 10080

// lostChannel are the errors that mean the bot cannot post in a channel
// (any more): a resource's story then moves to the requester's direct
// messages.
var lostChannel = []int{codeUnknownChannel, codeMissingAccess, codeMissingPermission, codeThreadArchived}

// nonce identifies the message named key (its part part, for messages
// split in several). Discord returns the message already posted with the
// same nonce in the last minutes instead of posting it again, so a
// delivery retried after a lost response does not repeat it.
func nonce(key string, part int) string {
	if part > 0 {
		key += "#" + strconv.Itoa(part)
	}
	sum := sha256.Sum256([]byte(key))
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
// answers that message. Errors are the API's, unclassified.
func (a *Adapter) send(ctx context.Context, channel string, m Message, nonce, reply string) (*discordgo.Message, error) {
	body := messageCreate{Content: m.Content, Embeds: m.Embeds, Components: m.Components, AllowedMentions: noMentions(), Nonce: nonce, EnforceNonce: nonce != ""}
	if reply != "" {
		no := false
		body.Reference = &discordgo.MessageReference{MessageID: reply, ChannelID: channel, FailIfNotExists: &no}
	}
	endpoint := discordgo.EndpointChannelMessages(channel)
	if wait := a.spent(endpoint); wait > 0 {
		return nil, &thread.RateLimitError{Bucket: "discord " + endpoint, After: wait, Paced: true}
	}
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

// spent returns how long discordgo's limiter would hold a call of bucket,
// whose allowance Discord's headers said is spent. The limiter would
// sleep that long holding the delivery job's worker; the wait goes back
// to the Notifier instead (nothing sent), which paces the channel by it
// and lets the job snooze.
func (a *Adapter) spent(bucket string) time.Duration {
	b := a.s.Ratelimiter.GetBucket(bucket)
	b.Lock()
	defer b.Unlock()
	return a.s.Ratelimiter.GetWaitTime(b, 1)
}

// Platform implements thread.Transport.
func (a *Adapter) Platform() string { return Platform }

// Post implements thread.Transport: it posts m in channel (a channel id)
// and returns the message's id. Every message carries a nonce derived from
// key. A 429 is a *thread.RateLimitError; a channel that does not exist
// (any more) is a platform NotFound error and one the bot may not post in
// Forbidden, both thread.ErrLost; a person who takes no direct messages is
// thread.ErrCannotDM; other failures (5xx, network) are plain errors to
// retry.
func (a *Adapter) Post(ctx context.Context, channel string, m thread.Message, key string) (string, error) {
	return a.post(ctx, channel, "", m, key)
}

// post posts the messages m renders to in channel, the first answering
// the message reply when set, and returns the first one's id.
func (a *Adapter) post(ctx context.Context, channel, reply string, m thread.Message, key string) (string, error) {
	if !isDigits(channel) {
		return "", platform.Errorf(platform.Invalid, "%q is not a Discord channel id.", clip(channel, 40))
	}
	msgs, err := a.renderMessage(ctx, m)
	if err != nil {
		return "", err
	}
	first := ""
	for i, msg := range msgs {
		out, err := a.send(ctx, channel, msg, nonce(key, i), reply)
		if err != nil {
			return "", a.postErr("post message", channel, err)
		}
		if i == 0 {
			first, reply = out.ID, ""
		}
	}
	return first, nil
}

// Reply implements thread.Transport: it posts m in th's thread, or as an
// answer to the root where there is no thread (direct messages, no
// permission to start one). A post's thread (one that is not a resource's
// story) is started when there is none yet, and when its message was
// deleted the post goes in the channel. Errors are classified as Post's.
func (a *Adapter) Reply(ctx context.Context, th platform.Thread, m thread.Message, key string) (string, error) {
	if !isDigits(th.Channel) || !isDigits(th.ThreadRef) {
		return "", platform.Errorf(platform.Invalid, "%q in %q is not a Discord thread.", clip(th.ThreadRef, 40), clip(th.Channel, 40))
	}
	answer := ""
	if th.ThreadRef == th.Channel {
		answer = th.RootRef
	}
	ref, err := a.post(ctx, th.ThreadRef, answer, m, key)
	if m.Kind != thread.Post || th.ThreadRef != th.RootRef || apiCode(err) != codeUnknownChannel {
		return ref, err
	}
	// A thread started from a message has the message's id: this one has
	// not been started yet.
	title := m.Reply.Title
	target, err := a.startThread(ctx, th.Channel, th.RootRef, title)
	if err != nil {
		return "", err
	}
	answer = ""
	if target == th.Channel {
		answer = th.RootRef
	}
	return a.post(ctx, target, answer, m, key)
}

// Edit implements thread.Transport: a Post without Actions leaves the
// message without buttons. A message that was deleted is thread.ErrGone
// and a platform NotFound error; other errors are classified as Post's.
func (a *Adapter) Edit(ctx context.Context, channel, ref string, m thread.Message) error {
	if !isDigits(channel) || !isDigits(ref) {
		return platform.Errorf(platform.Invalid, "%q in %q is not a Discord message.", clip(ref, 40), clip(channel, 40))
	}
	msgs, err := a.renderMessage(ctx, m)
	if err != nil {
		return err
	}
	msg := msgs[0]
	edit := &discordgo.MessageEdit{ID: ref, Channel: channel, Embeds: &msg.Embeds, AllowedMentions: noMentions()}
	if m.Kind != thread.Root {
		components := msg.Components
		if components == nil {
			components = []discordgo.MessageComponent{}
		}
		edit.Content, edit.Components = &msg.Content, &components
	}
	_, err = a.s.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx))
	if apiCode(err) == codeUnknownMessage {
		return thread.Classify(thread.ErrGone, &platform.Error{Code: platform.NotFound, Message: "The Discord message was deleted.", Err: err})
	}
	if err != nil {
		return a.postErr("edit message", channel, err)
	}
	return nil
}

// StartThread implements thread.Transport: it starts a thread from th's
// root message. Where there can be no thread (direct messages, a channel
// type without threads, no permission) the story goes on as answers to
// the root.
func (a *Adapter) StartThread(ctx context.Context, th platform.Thread, r *platform.Resource, dm bool) (platform.Thread, error) {
	if dm {
		th.ThreadRef = th.Channel
		return th, nil
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
		return platform.Thread{}, a.apiErr("start thread", err)
	}
	return th, nil
}

// DirectChannel implements thread.Transport: it opens the direct message
// channel with a Discord actor; it returns "" for an actor who is not a
// Discord user.
func (a *Adapter) DirectChannel(ctx context.Context, actor platform.Actor) (string, error) {
	user := discordUser(actor)
	if user == "" {
		return "", nil
	}
	if dm, ok := a.dms.Load(user); ok {
		return dm.(string), nil // a person's direct message channel never changes
	}
	if wait := a.spent(discordgo.EndpointUserChannels("")); wait > 0 { // UserChannelCreate's bucket
		return "", &thread.RateLimitError{Bucket: "discord open direct message", After: wait, Paced: true}
	}
	ch, err := a.s.UserChannelCreate(user, discordgo.WithContext(ctx))
	if err != nil {
		return "", a.apiErr("open direct message", err)
	}
	a.dms.Store(user, ch.ID)
	return ch.ID, nil
}

// Find implements thread.Transport: Discord needs no lookup, its nonce
// makes a repeated post the same message.
func (a *Adapter) Find(context.Context, string, string, string) (string, error) { return "", nil }

// renderMessage renders m as the Discord messages it takes (connection details
// that do not fit in one continue in the next).
func (a *Adapter) renderMessage(ctx context.Context, m thread.Message) ([]Message, error) {
	switch m.Kind {
	case thread.Root:
		return []Message{RootMessage(m.Resource)}, nil
	case thread.Event:
		return []Message{a.eventMessage(ctx, m)}, nil
	case thread.Secret:
		return PrivateMessages(m.Resource, m.Secrets), nil
	case thread.Note:
		return []Message{{Content: clip(noteText(m), maxContent)}}, nil
	case thread.Post:
		msg, err := a.postMessage(ctx, m.Reply)
		return []Message{msg}, err
	}
	return nil, fmt.Errorf("discord: cannot render a message of kind %d", m.Kind)
}

// noteText renders a note of the bot's own.
func noteText(m thread.Message) string {
	st, text := thread.NoteOf(m.Note, mention(m.Resource.Requester))
	return st.Emoji + " " + text
}

// eventMessage renders the thread message of an event: its line, and the
// event's actions as buttons.
func (a *Adapter) eventMessage(ctx context.Context, ev thread.Message) Message {
	text, _ := EventMessage(ev.Resource, ev.Event)
	if len(ev.Lines) > 0 {
		// Several events told in one message: a line each.
		lines := thread.PartLines(ev, EventMessage, noteText)
		text = clip(strings.Join(lines, "\n"), maxContent)
	}
	m := Message{Content: text}
	var notes []string
	problems := withActions(&m, ev.Actions, &notes)
	a.logActionProblems(ctx, problems)
	if len(notes) > 0 {
		m.Content = joinWithNotes([]string{text}, notes)
	}
	return m
}

// lost reports whether code means the bot cannot post in the channel.
func lost(code int) bool { return slices.Contains(lostChannel, code) }
