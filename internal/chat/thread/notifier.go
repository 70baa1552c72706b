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
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

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
	// Pacer paces the calls of a Transport that is Limited (nil: a Pacer
	// of the Notifier's own, on the wall clock).
	Pacer *Pacer
	// MaxWait is how long a call waits in the process for its rate-limit
	// bucket; a longer wait is handed back as a *RateLimitError, so that
	// the delivery job makes room for others and comes back then
	// (default DefaultMaxWait).
	MaxWait time.Duration
	Log     *slog.Logger
}

// DefaultMaxWait is Config.MaxWait's default: a little more than a
// delivery job's pickup delay after a snooze (jobs.NotifyPollInterval),
// so that a wait shorter than that is not made longer by snoozing, and
// short enough that the jobs waiting their turn leave the workers to
// connection details and other channels.
const DefaultMaxWait = 250 * time.Millisecond

// MaxSnooze caps how long a delivery waiting for its turn is put aside
// before it asks again: River makes a job snoozed for less than its
// scheduler interval (5 s) available at once, to be fetched when the time
// comes, and a longer snooze up to that interval late.
const MaxSnooze = 4 * time.Second

// MaxCoalesced caps the events one coalesced reply tells.
const MaxCoalesced = 10

// Notifier tells resources' stories on one platform. It implements
// jobs.Notifier, and commands.Poster and commands.Editor for the posts
// outside any story (cards, tickets, surveys, digests).
type Notifier struct {
	t        Transport
	threads  Store
	requests string
	actions  func(r *platform.Resource, ev platform.Event) []commands.Action
	log      *slog.Logger
	limited  Limited // nil: the platform is not paced
	pacer    *Pacer
	maxWait  time.Duration
	dms      sync.Map // actor ID → direct message channel
	shown    sync.Map // resource ID → the state its root was last edited to show
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
	if l, ok := cfg.Transport.(Limited); ok {
		n.limited, n.pacer = l, cfg.Pacer
		if n.pacer == nil {
			n.pacer = NewPacer(nil)
		}
		if r, ok := l.(Reporting); ok {
			r.ReportTo(n.pacer)
		}
	}
	n.maxWait = cmp.Or(cfg.MaxWait, DefaultMaxWait)
	return n
}

// Platform is the name of the Notifier's platform.
func (n *Notifier) Platform() string { return n.t.Platform() }

// Notify posts one event of r's history in r's thread (NotifyBatch with
// that event alone).
func (n *Notifier) Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error {
	_, err := n.NotifyBatch(ctx, r, platform.Delivery{
		Events: []platform.Event{ev},
		Start:  func(ctx context.Context, _ int64) (context.Context, error) { return ctx, nil },
	})
	return err
}

// NotifyBatch tells a run of r's undelivered events (jobs deliver the
// outbox this way) and returns how many of them, from the first, it
// delivered:
//   - connection details first, each in a direct message to the
//     requester, before any of the thread's messages: the requester
//     waits for them, not for the channel;
//   - then the thread: the first event posts the root message (in the
//     requests channel, or the channel the request came from, or else the
//     requester's direct messages), which goes before other stories'
//     replies, and starts the thread, saving each step; a state change
//     edits the root; each event becomes a reply, posted last, so that a
//     retry after any failure repeats only idempotent work.
//
// When the story had to wait for its turn in a busy channel, the events
// that piled up meanwhile go in one reply (at most MaxCoalesced), so that
// a backlog costs a thread few messages and /idp audit still tells every
// event. A wait longer than MaxWait is a *RateLimitError, with what was
// delivered before it.
func (n *Notifier) NotifyBatch(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error) {
	ctx = withStory(ctx, fmt.Sprintf("story:%d", r.ID))
	handed := map[int64]NoteKind{}
	for _, ev := range d.Events {
		secrets, ok := d.Secrets[ev.ID]
		if !ok {
			continue
		}
		var note NoteKind
		ran, err := d.HandOver(ctx, ev.ID, func(ctx context.Context) (bool, error) {
			var err error
			note, err = n.handOverStory(ctx, r, ev.ID, secrets)
			return note != CannotDM, err
		})
		if err != nil {
			return 0, err
		}
		if ran {
			handed[ev.ID] = note
		} // else handed over by the hand-over job or an earlier delivery
	}
	done := 0
	for done < len(d.Events) {
		th, found, err := n.threads.Thread(ctx, r.ID, n.Platform())
		if err != nil {
			return done, fmt.Errorf("notify %s: %w", r.Ref(), err)
		}
		if !found && done == 0 && len(d.Secrets) == 0 {
			n.warmDM(ctx, r)
		}
		end := done + 1
		switch {
		case d.Attempted >= d.Events[done].ID:
			// An earlier attempt began the message of the events up to
			// Attempted: tell exactly those, under the same key.
			for end < len(d.Events) && d.Events[end].ID <= d.Attempted {
				end++
			}
		case n.busy(ctx, th, found):
			// The story waits for its turn: what piled up goes in one
			// reply.
			end = min(len(d.Events), done+MaxCoalesced)
		}
		unit := d.Events[done:end]
		var parts []Message
		for _, ev := range unit {
			parts = append(parts, n.parts(r, ev, d.Secrets != nil, handed)...)
		}
		if len(parts) == 0 {
			done = end
			continue
		}
		if err := n.tell(ctx, r, th, found, unit, parts, d.Start); err != nil {
			return done, err
		}
		done = end
	}
	return done, nil
}

// busy reports whether the story of thread th (found: saved) has to wait
// for its turn to reply: it was queued, or its thread's channel has a
// backlog (a wait longer than
// MaxWait, which a delivery snoozes through).
func (n *Notifier) busy(ctx context.Context, th platform.Thread, found bool) bool {
	if n.pacer == nil {
		return false
	}
	who := story(ctx)
	if n.pacer.Queued(who) {
		return true
	}
	if !found || th.ThreadRef == "" {
		return false // the root goes first, in its own turn
	}
	return n.pacer.Peek(n.limits([]call{{OpReply, th.Channel, th.ThreadRef}}), who, Routine) > n.maxWait
}

// parts returns the messages event ev of r adds to a reply: its line, or,
// when the delivery hands connection details over (secrets), the note
// that they were (handed says how, for those handed over in this
// delivery; the others were by an earlier one).
func (n *Notifier) parts(r *platform.Resource, ev platform.Event, secrets bool, handed map[int64]NoteKind) []Message {
	if ev.Kind == platform.EventSecret {
		if !secrets {
			return nil
		}
		note, ok := handed[ev.ID]
		if !ok {
			note = SecretSent
		}
		if note == 0 {
			return nil
		}
		return []Message{{Kind: Note, Resource: r, Note: note}}
	}
	if _, ok := LineOf(r, ev); !ok {
		return nil
	}
	return []Message{{Kind: Event, Resource: r, Event: ev, Actions: n.actions(r, ev)}}
}

// tell posts parts, the messages of the events unit, as one reply in r's
// thread th (found: saved), opening the thread first when it has none
// and editing the root when the unit changed r's state.
func (n *Notifier) tell(ctx context.Context, r *platform.Resource, th platform.Thread, found bool, unit []platform.Event, parts []Message, start func(context.Context, int64) (context.Context, error)) error {
	var err error
	opened := !found || th.ThreadRef == ""
	if opened {
		if th, err = n.open(ctx, r, th, found); err != nil || th.Channel == "" {
			return err
		}
	}
	if th.Channel == "" {
		return nil
	}
	if opened {
		n.shown.Store(r.ID, r.State) // a new root shows the current state
	}
	// The root shows the latest state first, in the edits' own turn,
	// while the reply may still wait for the channel's: a busy thread's
	// root follows the story. An edit already made is not made again.
	if shown, ok := n.shown.Load(r.ID); !ok || shown != r.State {
		if slices.ContainsFunc(unit, func(ev platform.Event) bool { return ev.Kind == platform.EventTransition }) {
			if err := n.editRoot(ctx, r, th); err != nil {
				return err
			}
			n.shown.Store(r.ID, r.State)
		}
	}
	ctx, err = n.pace(ctx, Routine, call{OpReply, th.Channel, th.ThreadRef})
	if err != nil {
		return err
	}
	if slices.ContainsFunc(parts, func(m Message) bool { return m.Kind == Note }) && th.Channel == n.dmOf(ctx, r) {
		// The story is told in the requester's direct messages, where
		// the connection details are: no note about them.
		parts = slices.DeleteFunc(parts, func(m Message) bool { return m.Kind == Note })
		if len(parts) == 0 {
			return nil
		}
	}
	last := unit[len(unit)-1]
	if ctx, err = start(ctx, last.ID); err != nil {
		return err
	}
	m := parts[0]
	if len(parts) > 1 {
		// One reply tells them all, with the buttons of the last event
		// that has any.
		m = Message{Kind: Event, Resource: r, Lines: parts}
		for _, p := range parts {
			if len(p.Actions) > 0 {
				m.Actions = p.Actions
			}
		}
	}
	key := fmt.Sprintf("event:%d", last.ID)
	_, err = n.reply(ctx, th, m, key)
	if errors.Is(err, ErrLost) {
		// The bot lost the thread or its channel: the rest of the story
		// moves to the requester's direct messages.
		n.log.WarnContext(ctx, "cannot post in the thread any more; moving it to a direct message", "request_id", r.ID, "channel", th.Channel, "err", err)
		moved, merr := n.rootInDM(unpaced(ctx), r, th.Channel)
		if merr != nil || moved.Channel == "" {
			return merr
		}
		_, err = n.reply(unpaced(ctx), moved, m, key)
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
	th, err := n.startThread(ctx, th, r, false)
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
	dm, err := n.directChannel(ctx, r.Requester)
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
	th, err := n.startThread(ctx, platform.Thread{Channel: dm, RootRef: ref}, r, true)
	if err != nil {
		return platform.Thread{}, err
	}
	return th, n.save(ctx, r, th)
}

// editRoot shows r's current state in its root message. A root that is
// gone, or in a channel the bot lost, stays as it is: the thread still
// tells the story.
func (n *Notifier) editRoot(ctx context.Context, r *platform.Resource, th platform.Thread) error {
	err := n.edit(ctx, th.Channel, th.RootRef, Message{Kind: Root, Resource: r})
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
	dm, note, err := n.handOver(ctx, r, secrets)
	if err != nil || note == 0 {
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

// handOver sends r's connection details to its requester by direct
// message and returns that channel and the note the thread shows about
// it: SecretSent, CannotDM when the requester takes no direct messages,
// or none (0) when the requester is not a user of this platform.
func (n *Notifier) handOver(ctx context.Context, r *platform.Resource, secrets map[string]string) (string, NoteKind, error) {
	dm, err := n.directChannel(ctx, r.Requester)
	if err != nil {
		return "", 0, err
	}
	if dm == "" {
		n.log.ErrorContext(ctx, "requester is not a user of this platform; connection details not sent", "request_id", r.ID)
		return "", 0, nil
	}
	_, err = n.post(ctx, dm, Message{Kind: Secret, Resource: r, Secrets: secrets}, secretKey(r.ID, secrets))
	switch {
	case errors.Is(err, ErrCannotDM):
		n.log.WarnContext(ctx, "requester does not accept direct messages; connection details not sent", "request_id", r.ID)
		return dm, CannotDM, nil
	case err != nil:
		return "", 0, err
	}
	return dm, SecretSent, nil
}

// HandOver sends the connection details of secret event evID of r to
// its requester privately (the hand-over job's way: platform.Delivery's
// HandOver is the thread's), and reports whether they were handed over:
// false when the requester does not accept direct messages, which the
// thread then tells.
func (n *Notifier) HandOver(ctx context.Context, r *platform.Resource, evID int64, secrets map[string]string) (bool, error) {
	note, err := n.handOverStory(ctx, r, evID, secrets)
	return err == nil && note != CannotDM, err
}

// handOverStory is handOver as a story of its own in the pacer's queues:
// a caller's turn taken drops its places in every queue, and the
// hand-over waits apart from its resource's thread.
func (n *Notifier) handOverStory(ctx context.Context, r *platform.Resource, evID int64, secrets map[string]string) (NoteKind, error) {
	_, note, err := n.handOver(withStory(ctx, fmt.Sprintf("secret:%d", evID)), r, secrets)
	return note, err
}

// dmOf returns the channel of r's requester's direct messages, or ""
// when it cannot be had.
func (n *Notifier) dmOf(ctx context.Context, r *platform.Resource) string {
	dm, err := n.directChannel(unpaced(ctx), r.Requester)
	if err != nil {
		return ""
	}
	return dm
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
	err := n.edit(ctx, channel, ref, Message{Kind: Post, Reply: reply})
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
	var ref string
	err := n.do(ctx, key, priority(m), call{OpPost, channel, ""}, func(ctx context.Context) (err error) {
		ref, err = n.t.Post(ctx, channel, m, key)
		return err
	})
	return ref, err
}

// reply posts m in thread th once, as post does.
func (n *Notifier) reply(ctx context.Context, th platform.Thread, m Message, key string) (string, error) {
	if ref, err := n.find(ctx, th.Channel, th.ThreadRef, key); ref != "" || err != nil {
		return ref, err
	}
	var ref string
	err := n.do(ctx, key, Routine, call{OpReply, th.Channel, th.ThreadRef}, func(ctx context.Context) (err error) {
		ref, err = n.t.Reply(ctx, th, m, key)
		return err
	})
	return ref, err
}

// edit replaces the message ref in channel with m.
func (n *Notifier) edit(ctx context.Context, channel, ref string, m Message) error {
	return n.do(ctx, "edit:"+channel+":"+ref, Routine, call{OpEdit, channel, ""}, func(ctx context.Context) error {
		return n.t.Edit(ctx, channel, ref, m)
	})
}

// startThread starts the thread of th's root message.
func (n *Notifier) startThread(ctx context.Context, th platform.Thread, r *platform.Resource, dm bool) (platform.Thread, error) {
	var out platform.Thread
	err := n.do(ctx, fmt.Sprintf("thread:%d", r.ID), Urgent, call{OpThread, th.Channel, ""}, func(ctx context.Context) (err error) {
		out, err = n.t.StartThread(ctx, th, r, dm)
		return err
	})
	return out, err
}

// directChannel returns the channel of direct messages with who, opened
// once (a person's direct message channel does not change).
func (n *Notifier) directChannel(ctx context.Context, who platform.Actor) (string, error) {
	if dm, ok := n.dms.Load(who.ID); ok {
		return dm.(string), nil
	}
	var dm string
	// The person's place in the queue, not the story's: the hand-overs
	// and stories of one requester all wait for the same call, and
	// queued apart they would hold up other people's behind theirs.
	err := n.do(withStory(ctx, "open:"+who.ID), "", Urgent, call{OpOpen, "", ""}, func(ctx context.Context) (err error) {
		dm, err = n.t.DirectChannel(ctx, who)
		return err
	})
	if err == nil && dm != "" {
		n.dms.Store(who.ID, dm)
	}
	return dm, err
}

// warmDM opens the direct messages of r's requester as its story begins,
// when the platform lets that happen at once: the connection details then
// go without waiting for it. First-time requesters of a burst would
// otherwise queue for it when their resources are ready (Slack's
// conversations.open is Tier 3, 50 a minute). A failure is left to the
// hand-over, which tries again.
func (n *Notifier) warmDM(ctx context.Context, r *platform.Resource) {
	if n.pacer == nil {
		return
	}
	if _, ok := n.dms.Load(r.Requester.ID); ok {
		return
	}
	if n.pacer.Peek(n.limits([]call{{OpOpen, "", ""}}), "warm:"+r.Requester.ID, Routine) > 0 {
		return // busy: hand-overs and earlier stories go first
	}
	if _, err := n.directChannel(ctx, r.Requester); err != nil {
		n.log.DebugContext(ctx, "open the requester's direct messages ahead of the hand-over", "request_id", r.ID, "err", err)
	}
}

func (n *Notifier) find(ctx context.Context, channel, threadRef, key string) (string, error) {
	if !platform.Redelivery(ctx) {
		return "", nil
	}
	var ref string
	err := n.do(ctx, key, Routine, call{OpFind, channel, threadRef}, func(ctx context.Context) (err error) {
		ref, err = n.t.Find(ctx, channel, threadRef, key)
		return err
	})
	if ref != "" {
		n.log.InfoContext(ctx, "message found posted by an earlier attempt; not posting it again", "channel", channel, "key", key)
	}
	return ref, err
}

// priority is the priority of posting m: connection details and root
// messages are urgent.
func priority(m Message) Priority {
	if m.Kind == Secret || m.Kind == Root {
		return Urgent
	}
	return Routine
}

// call is one call to the platform, for pacing.
type call struct {
	op                 Op
	channel, threadRef string
}

func (n *Notifier) limits(calls []call) []Limit {
	var limits []Limit
	for _, c := range calls {
		limits = append(limits, n.limited.Limits(c.op, c.channel, c.threadRef)...)
	}
	return limits
}

// do makes one call to the platform in its turn (see pace), unless the
// caller took the turn already, and closes the call's bucket when the
// platform answers 429 all the same. A call the platform's own client
// held back, its bucket spent (nothing sent), waits for its next turn, in
// the process when that is within MaxWait.
func (n *Notifier) do(ctx context.Context, who string, prio Priority, c call, fn func(context.Context) error) error {
	if n.limited == nil {
		return fn(ctx)
	}
	ctx = withStoryOr(ctx, who)
	for try := 1; ; try++ {
		if !paced(ctx) {
			var err error
			if ctx, err = n.pace(ctx, prio, c); err != nil {
				return err
			}
		}
		ctx = unpaced(ctx)
		err := fn(ctx)
		// A 429, or the platform's own client holding the call back:
		// the bucket waits that long.
		var limited *RateLimitError
		if !errors.As(err, &limited) {
			return err
		}
		if limits := n.limits([]call{c}); len(limits) > 0 {
			l := limits[0]
			if limited.Global {
				l = limits[len(limits)-1]
			}
			n.pacer.Close(l, limited.After)
		}
		if !limited.Paced || try == maxHeld {
			return err
		}
	}
}

// maxHeld is how many times in a row do lets the platform's client hold
// a call back before the delivery job waits instead: the client's
// buckets and the Pacer's disagree.
const maxHeld = 3

// pace waits for the turn of calls in their rate-limit buckets, in the
// process for up to MaxWait, and returns ctx marked as having taken it;
// a longer wait is a *RateLimitError saying how long, the story's (or
// the post's) place in the queues kept until then.
func (n *Notifier) pace(ctx context.Context, prio Priority, calls ...call) (context.Context, error) {
	if n.limited == nil {
		return ctx, nil
	}
	limits := n.limits(calls)
	who := story(ctx)
	for {
		wait := n.pacer.Take(limits, who, prio)
		if wait <= 0 {
			return context.WithValue(ctx, pacedKey{}, true), nil
		}
		if wait > n.maxWait {
			// Come back a little early, and wait the rest here: a snoozed
			// job is picked up up to a poll interval late.
			return ctx, &RateLimitError{Bucket: limits[0].Key, After: min(wait-n.maxWait/2, MaxSnooze), Paced: true}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			n.pacer.Forget(who)
			return ctx, ctx.Err()
		case <-t.C:
		}
	}
}

type (
	storyKey struct{}
	pacedKey struct{}
)

// withStory names the caller whose calls ctx makes in the pacer's queues.
func withStory(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, storyKey{}, who)
}

// withStoryOr names the caller who unless ctx names one already.
func withStoryOr(ctx context.Context, who string) context.Context {
	if story(ctx) != "" {
		return ctx
	}
	return withStory(ctx, who)
}

func story(ctx context.Context) string {
	who, _ := ctx.Value(storyKey{}).(string)
	return who
}

// paced reports whether the caller took the turn of its next call.
func paced(ctx context.Context) bool {
	p, _ := ctx.Value(pacedKey{}).(bool)
	return p
}

// unpaced drops the taken turn from ctx: it was for one call.
func unpaced(ctx context.Context) context.Context {
	if !paced(ctx) {
		return ctx
	}
	return context.WithValue(ctx, pacedKey{}, false)
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
