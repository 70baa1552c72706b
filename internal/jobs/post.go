package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// PostTimeout bounds one post job.
const PostTimeout = time.Minute

// PostMaxAttempts is how many times a post is tried: like a notification,
// a chat outage delays a post and does not lose it.
const PostMaxAttempts = NotifyMaxAttempts

// PostArgs asks for a message to be posted to a chat channel outside any
// request's thread: an approval card, a reminder, a support ticket. The
// message is a commands.Reply, Actions included (buttons).
type PostArgs struct {
	Platform string `json:"platform"`
	Channel  string `json:"channel"`
	// ThreadRef, when set, posts in the thread of that message.
	ThreadRef string `json:"thread_ref,omitempty"`
	// ResourceID, when set, makes the post an approval card of that
	// request: it is not posted once the request is decided, and where it
	// was posted is recorded so that it can show the decision.
	ResourceID int64              `json:"resource_id,omitempty"`
	Title      string             `json:"title"`
	Sections   []commands.Section `json:"sections,omitempty"`
	Actions    []commands.Action  `json:"actions,omitempty"`
}

// NewPostArgs returns the job that posts reply to channel of a platform.
func NewPostArgs(platformName, channel string, reply commands.Reply) PostArgs {
	return PostArgs{Platform: platformName, Channel: channel, Title: reply.Title, Sections: reply.Sections, Actions: reply.Actions}
}

// Kind implements river.JobArgs.
func (PostArgs) Kind() string { return "post" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PostArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: PostMaxAttempts} }

// Reply returns the message to post.
func (a PostArgs) Reply() commands.Reply {
	return commands.Reply{Title: a.Title, Sections: a.Sections, Actions: a.Actions}
}

// PostWorker posts PostArgs through the chat platforms' Posters. Register
// it with Config.Register (see Governance.Register).
type PostWorker struct {
	river.WorkerDefaults[PostArgs]
	posters map[string]commands.Poster
	log     *slog.Logger
	// book records approval cards; nil, they are posted as any post.
	book *cardBook
}

// NewPostWorker returns the worker of post jobs, posting through posters
// by platform name. A job for a platform without a Poster is cancelled.
func NewPostWorker(posters map[string]commands.Poster, log *slog.Logger) *PostWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PostWorker{posters: posters, log: log.With("component", "jobs")}
}

// Timeout bounds one post.
func (w *PostWorker) Timeout(*river.Job[PostArgs]) time.Duration { return PostTimeout }

// Work posts the message. A rate limit snoozes the job for as long as its
// bucket asks; other failures retry.
func (w *PostWorker) Work(ctx context.Context, job *river.Job[PostArgs]) error {
	a := job.Args
	p, ok := w.posters[a.Platform]
	if !ok {
		return river.JobCancel(fmt.Errorf("no poster for platform %q", a.Platform))
	}
	isCard := a.ResourceID != 0 && w.book != nil
	if isCard {
		awaiting, err := w.book.awaiting(ctx, a.ResourceID)
		if err != nil {
			return fmt.Errorf("approval card of #%d: %w", a.ResourceID, err)
		}
		// A retry may follow an attempt that posted the card and lost the
		// answer: it goes on, so that the adapter finds that card (or
		// posts it) and it is recorded, and the decision, which waits
		// for this job, edits it.
		if !awaiting && !platform.Redelivery(ctx) {
			w.log.InfoContext(ctx, "request decided before its approval card was posted; not posting it", "platform", a.Platform, "request_id", a.ResourceID)
			return nil
		}
	}
	var (
		ref string
		err error
	)
	if a.ThreadRef != "" {
		err = p.PostInThread(ctx, a.Channel, a.ThreadRef, a.Reply())
	} else {
		ref, err = p.Post(ctx, a.Channel, a.Reply())
	}
	if snooze := snoozeLimited(err, a.Platform, nil); snooze != nil {
		// Only this post waits: the poster paces the others of the
		// same bucket.
		w.log.InfoContext(ctx, "rate limited; post delayed", "platform", a.Platform, "channel", a.Channel, "err", err)
		return snooze
	}
	if snooze := deferral(err); snooze != nil {
		// Not for this process's audience (a console whose user may not
		// see the channel): another process takes it.
		return snooze
	}
	if err != nil {
		w.log.WarnContext(ctx, "post; will retry", "platform", a.Platform, "channel", a.Channel, "attempt", job.Attempt, "err", err)
		return fmt.Errorf("post to %s %s: %w", a.Platform, a.Channel, err)
	}
	if isCard && ref != "" {
		if err := w.book.record(ctx, a.ResourceID, platform.MessageRef{Platform: a.Platform, Channel: a.Channel, Ref: ref}); err != nil {
			// Posting again would show the card twice; this one keeps its
			// buttons, which answer that the request was decided.
			w.log.ErrorContext(ctx, "approval card posted but not recorded; it will not show the decision", "platform", a.Platform, "request_id", a.ResourceID, "err", err)
		}
	}
	return nil
}
