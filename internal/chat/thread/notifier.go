// Package thread tells a resource's story on a chat platform, once for
// every platform: the Notifier finds or opens the resource's thread, posts
// the root message and edits it as the state changes, replies with each
// event, moves the story to the requester's direct messages when the bot
// loses the channel, hands connection details over privately, and makes a
// redelivered message land once. Each platform's adapter is a Transport:
// it renders Messages and makes the API calls, and classifies its errors
// (ErrLost, ErrGone, ErrCannotDM, *RateLimitError).
package thread

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Transport is one chat platform's side of the Notifier. A key names each
// message the Notifier sends ("root:12", "event:345", "post:…"): the same
// message retried has the same key, so a platform with idempotency keys
// (Discord's nonce) uses it, and Find looks for it on the others.
type Transport interface {
	// Platform is the platform's name in actor ids and thread records.
	Platform() string
	// Post posts m in channel as a message of its own and returns its ref.
	Post(ctx context.Context, channel string, m Message, key string) (ref string, err error)
	// Reply posts m in thread th and returns its ref.
	Reply(ctx context.Context, th platform.Thread, m Message, key string) (ref string, err error)
	// Edit replaces the message ref in channel with m (ErrGone when it
	// cannot).
	Edit(ctx context.Context, channel, ref string, m Message) error
	// StartThread returns th with the thread replies go in (ThreadRef),
	// started from its root message where the platform has threads. In a
	// direct message (dm) the story goes on beside the root.
	StartThread(ctx context.Context, th platform.Thread, r *platform.Resource, dm bool) (platform.Thread, error)
	// DirectChannel returns the channel of direct messages with who, or
	// "" when who is not a user of this platform.
	DirectChannel(ctx context.Context, who platform.Actor) (string, error)
	// Find returns the ref of the message key in channel (in the thread
	// threadRef when set), or "" when there is none or the platform cannot
	// tell: it is asked before posting again what an earlier attempt may
	// have posted (platform.Redelivery).
	Find(ctx context.Context, channel, threadRef, key string) (ref string, err error)
}

// Store remembers where each resource's thread is, per platform;
// *postgres.Store implements it.
type Store interface {
	Thread(ctx context.Context, resourceID int64, platform string) (platform.Thread, bool, error)
	SaveThread(ctx context.Context, resourceID int64, platform string, t platform.Thread) error
}

// Config configures a Notifier.
type Config struct {
	Transport Transport
	Threads   Store
	// RequestsChannel, when set, receives every root message instead of
	// the channel each request came from.
	RequestsChannel string
	// EventActions returns the buttons of an event's thread message
	// (default commands.EventActions).
	EventActions func(r *platform.Resource, ev platform.Event) []commands.Action
	Log          *slog.Logger
}

// Notifier tells resources' stories on one platform. It implements
// jobs.Notifier, and commands.Poster and commands.Editor for the posts
// outside any story (cards, tickets, surveys, digests).
type Notifier struct {
	t        Transport
	threads  Store
	requests string
	actions  func(r *platform.Resource, ev platform.Event) []commands.Action
	log      *slog.Logger
}

var (
	_ commands.Poster = (*Notifier)(nil)
	_ commands.Editor = (*Notifier)(nil)
)

// New returns a Notifier; Transport and Threads are required.
func New(cfg Config) *Notifier {
	if cfg.Transport == nil || cfg.Threads == nil {
		panic("thread: Transport and Threads are required")
	}
	n := &Notifier{t: cfg.Transport, threads: cfg.Threads, requests: cfg.RequestsChannel, actions: cfg.EventActions, log: cfg.Log}
	if n.actions == nil {
		n.actions = commands.EventActions
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("platform", cfg.Transport.Platform())
	return n
}

// Platform is the name of the Notifier's platform.
func (n *Notifier) Platform() string { return n.t.Platform() }

// Notify posts one event of r's history in r's thread: the first event
// posts the root message (in the requests channel, or the channel the
// request came from, or else the requester's direct messages) and starts
// the thread, saving each step; a state change edits the root; every event
// becomes a reply, posted last, so that a retry after any failure repeats
// only idempotent work.
func (n *Notifier) Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error {
	if _, ok := LineOf(r, ev); !ok {
		return nil
	}
	m := Message{Kind: Event, Resource: r, Event: ev, Actions: n.actions(r, ev)}
	th, found, err := n.threads.Thread(ctx, r.ID, n.Platform())
	if err != nil {
		return fmt.Errorf("notify %s: %w", r.Ref(), err)
	}
	switch {
	case !found || th.ThreadRef == "":
		if th, err = n.open(ctx, r, th, found); err != nil || th.Channel == "" {
			return err
		}
	case ev.Kind == platform.EventTransition:
		if err := n.editRoot(ctx, r, th); err != nil {
			return err
		}
	}
	key := fmt.Sprintf("event:%d", ev.ID)
	_, err = n.reply(ctx, th, m, key)
	if errors.Is(err, ErrLost) {
		// The bot lost the thread or its channel: the rest of the story
		// moves to the requester's direct messages.
		n.log.WarnContext(ctx, "cannot post in the thread any more; moving it to a direct message", "request_id", r.ID, "channel", th.Channel, "err", err)
		moved, merr := n.rootInDM(ctx, r, th.Channel)
		if merr != nil || moved.Channel == "" {
			return merr
		}
		_, err = n.reply(ctx, moved, m, key)
	}
	return err
}

// open posts r's root message unless an earlier attempt did (found, with
// no thread yet), then starts its thread, saving each step. It returns a
// zero Thread when the story has nowhere to go.
func (n *Notifier) open(ctx context.Context, r *platform.Resource, th platform.Thread, found bool) (platform.Thread, error) {
	if !found {
		channel := n.requests
		if channel == "" {
			channel = r.Origin.Channel
		}
		if channel == "" {
			return n.rootInDM(ctx, r, "")
		}
		ref, err := n.post(ctx, channel, Message{Kind: Root, Resource: r}, fmt.Sprintf("root:%d", r.ID))
		if errors.Is(err, ErrLost) {
			n.log.WarnContext(ctx, "cannot post in the request's channel; using a direct message", "request_id", r.ID, "channel", channel, "err", err)
			return n.rootInDM(ctx, r, "")
		}
		if err != nil {
			return platform.Thread{}, err
		}
		th = platform.Thread{Channel: channel, RootRef: ref}
		if err := n.save(ctx, r, th); err != nil {
			return platform.Thread{}, err
		}
	}
	th, err := n.t.StartThread(ctx, th, r, false)
	if err != nil {
		return platform.Thread{}, err
	}
	return th, n.save(ctx, r, th)
}

// rootInDM posts r's root message in its requester's direct messages,
// where the story goes on, and saves that as r's thread. It returns a zero
// Thread when the requester is not a user of the platform, or when the
// direct messages are the channel that was just lost.
func (n *Notifier) rootInDM(ctx context.Context, r *platform.Resource, lost string) (platform.Thread, error) {
	dm, err := n.t.DirectChannel(ctx, r.Requester)
	if err != nil {
		return platform.Thread{}, err
	}
	if dm == "" || dm == lost {
		n.log.ErrorContext(ctx, "request has no channel to be told in; its progress is not posted", "request_id", r.ID)
		return platform.Thread{}, nil
	}
	ref, err := n.post(ctx, dm, Message{Kind: Root, Resource: r}, fmt.Sprintf("root-dm:%d", r.ID))
	if err != nil {
		return platform.Thread{}, err
	}
	th, err := n.t.StartThread(ctx, platform.Thread{Channel: dm, RootRef: ref}, r, true)
	if err != nil {
		return platform.Thread{}, err
	}
	return th, n.save(ctx, r, th)
}

// editRoot shows r's current state in its root message. A root that is
// gone, or in a channel the bot lost, stays as it is: the thread still
// tells the story.
func (n *Notifier) editRoot(ctx context.Context, r *platform.Resource, th platform.Thread) error {
	err := n.t.Edit(ctx, th.Channel, th.RootRef, Message{Kind: Root, Resource: r})
	if errors.Is(err, ErrGone) || errors.Is(err, ErrLost) {
		n.log.WarnContext(ctx, "cannot update the root message", "request_id", r.ID, "err", err)
		return nil
	}
	return err
}

func (n *Notifier) save(ctx context.Context, r *platform.Resource, th platform.Thread) error {
	if err := n.threads.SaveThread(ctx, r.ID, n.Platform(), th); err != nil {
		return fmt.Errorf("save %s thread of %s: %w", n.Platform(), r.Ref(), err)
	}
	return nil
}

// Private sends r's connection details to its requester by direct message
// — never in a channel, never logged — and notes in the thread that they
// were sent, or why they could not be.
func (n *Notifier) Private(ctx context.Context, r *platform.Resource, secrets map[string]string) error {
	dm, err := n.t.DirectChannel(ctx, r.Requester)
	if err != nil {
		return err
	}
	if dm == "" {
		n.log.ErrorContext(ctx, "requester is not a user of this platform; connection details not sent", "request_id", r.ID)
		return nil
	}
	note := SecretSent
	_, err = n.post(ctx, dm, Message{Kind: Secret, Resource: r, Secrets: secrets}, secretKey(r.ID, secrets))
	switch {
	case errors.Is(err, ErrCannotDM):
		n.log.WarnContext(ctx, "requester does not accept direct messages; connection details not sent", "request_id", r.ID)
		note = CannotDM
	case err != nil:
		return err
	}
	th, found, err := n.threads.Thread(ctx, r.ID, n.Platform())
	if err != nil || !found || th.ThreadRef == "" || th.Channel == dm {
		return nil
	}
	if _, err := n.reply(ctx, th, Message{Kind: Note, Resource: r, Note: note}, "secret-note"+strings.TrimPrefix(secretKey(r.ID, secrets), "secret")); err != nil {
		n.log.WarnContext(ctx, "note in the thread that connection details were sent", "request_id", r.ID, "err", err)
	}
	return nil
}

// Post posts reply in channel as a message of its own and returns its
// ref, under which PostInThread replies.
func (n *Notifier) Post(ctx context.Context, channel string, reply commands.Reply) (string, error) {
	return n.post(ctx, channel, Message{Kind: Post, Reply: reply}, contentKey(channel, "", reply))
}

// PostInThread posts reply in the thread of the message ref in channel.
func (n *Notifier) PostInThread(ctx context.Context, channel, ref string, reply commands.Reply) error {
	_, err := n.reply(ctx, platform.Thread{Channel: channel, RootRef: ref, ThreadRef: ref}, Message{Kind: Post, Reply: reply}, contentKey(channel, ref, reply))
	return err
}

// Edit replaces the message ref in channel with reply; a message that is
// gone is a platform NotFound error.
func (n *Notifier) Edit(ctx context.Context, channel, ref string, reply commands.Reply) error {
	err := n.t.Edit(ctx, channel, ref, Message{Kind: Post, Reply: reply})
	if errors.Is(err, ErrGone) && platform.ErrorCode(err) != platform.NotFound {
		return &platform.Error{Code: platform.NotFound, Message: "The message was deleted, or can no longer be changed.", Err: err}
	}
	return err
}

// ChannelMembers returns how many people are in channel, when the
// platform can tell; 0 otherwise.
func (n *Notifier) ChannelMembers(ctx context.Context, channel string) (int, error) {
	if c, ok := n.t.(interface {
		ChannelMembers(ctx context.Context, channel string) (int, error)
	}); ok {
		return c.ChannelMembers(ctx, channel)
	}
	return 0, nil
}

// post posts m in channel once: a redelivery first looks for the message
// an earlier attempt may have posted.
func (n *Notifier) post(ctx context.Context, channel string, m Message, key string) (string, error) {
	if ref, err := n.find(ctx, channel, "", key); ref != "" || err != nil {
		return ref, err
	}
	return n.t.Post(ctx, channel, m, key)
}

// reply posts m in thread th once, as post does.
func (n *Notifier) reply(ctx context.Context, th platform.Thread, m Message, key string) (string, error) {
	if ref, err := n.find(ctx, th.Channel, th.ThreadRef, key); ref != "" || err != nil {
		return ref, err
	}
	return n.t.Reply(ctx, th, m, key)
}

func (n *Notifier) find(ctx context.Context, channel, threadRef, key string) (string, error) {
	if !platform.Redelivery(ctx) {
		return "", nil
	}
	ref, err := n.t.Find(ctx, channel, threadRef, key)
	if ref != "" {
		n.log.InfoContext(ctx, "message found posted by an earlier attempt; not posting it again", "channel", channel, "key", key)
	}
	return ref, err
}

// secretKey names the private message of one set of connection details
// of resource id: the same details redelivered have the same key, and
// rotated ones (/idp credentials --rotate) another, so that they are
// never taken for the first ones already sent. It is a digest, of no use
// for guessing the secrets.
func secretKey(id int64, secrets map[string]string) string {
	data, _ := json.Marshal(secrets) // sorted keys
	sum := sha256.Sum256(append(fmt.Appendf(nil, "idpbot-secret-%d\x00", id), data...))
	return fmt.Sprintf("secret:%d:%s", id, hex.EncodeToString(sum[:6]))
}

// contentKey names a post by where it goes and what it says, for posts
// that have no identity of their own: the same post retried has the same
// key.
func contentKey(channel, threadRef string, reply commands.Reply) string {
	data, _ := json.Marshal(reply)
	sum := sha256.Sum256(append([]byte(channel+"\x00"+threadRef+"\x00"), data...))
	return "post:" + hex.EncodeToString(sum[:12])
}
