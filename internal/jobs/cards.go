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

// cardBook records where the approval cards of each request were posted,
// so that they can show the decision once it is made.
type cardBook struct {
	store    CardStore
	requests platform.Store
}

// awaiting reports whether resource id still awaits a decision: a card of
// a request decided meanwhile is not posted.
func (b *cardBook) awaiting(ctx context.Context, id int64) (bool, error) {
	r, err := b.requests.Resource(ctx, id)
	if platform.ErrorCode(err) == platform.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return r.State == platform.AwaitingApproval, nil
}

func (b *cardBook) record(ctx context.Context, id int64, c platform.MessageRef) error {
	return b.store.RecordApprovalCard(ctx, id, c)
}

func (b *cardBook) cards(ctx context.Context, id int64) ([]platform.MessageRef, error) {
	return b.store.ApprovalCards(ctx, id)
}

// posting reports whether a card of resource id is still to be posted or
// being posted: its decision waits for it, or the card would keep its
// buttons.
func (b *cardBook) posting(ctx context.Context, id int64) (bool, error) {
	return b.store.JobPending(ctx, PostArgs{}.Kind(), id)
}

// CardsDecidedArgs asks for the approval cards of a decided request to show
// the decision (commands.DecidedCard) instead of their buttons.
type CardsDecidedArgs struct {
	ResourceID int64              `json:"resource_id"`
	Title      string             `json:"title"`
	Sections   []commands.Section `json:"sections,omitempty"`
}

// Kind implements river.JobArgs.
func (CardsDecidedArgs) Kind() string { return "approval_cards_decided" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (CardsDecidedArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: PostMaxAttempts}
}

// cardWait is how long the decision waits for a card still being posted.
const cardWait = 2 * time.Second

// CardsDecidedWorker edits the approval cards of decided requests through
// the platforms' commands.Editor.
type CardsDecidedWorker struct {
	river.WorkerDefaults[CardsDecidedArgs]
	book    *cardBook
	posters map[string]commands.Poster
	log     *slog.Logger
}

// Timeout bounds one job.
func (w *CardsDecidedWorker) Timeout(*river.Job[CardsDecidedArgs]) time.Duration { return PostTimeout }

// Work edits every card of the request. It waits while a card is still
// being posted; a card whose message is gone is skipped; a rate limit
// snoozes the job (editing again is harmless); other failures retry.
func (w *CardsDecidedWorker) Work(ctx context.Context, job *river.Job[CardsDecidedArgs]) error {
	a := job.Args
	posting, err := w.book.posting(ctx, a.ResourceID)
	if err != nil {
		return fmt.Errorf("approval cards of #%d: %w", a.ResourceID, err)
	}
	if posting {
		return river.JobSnooze(cardWait)
	}
	cards, err := w.book.cards(ctx, a.ResourceID)
	if err != nil {
		return fmt.Errorf("approval cards of #%d: %w", a.ResourceID, err)
	}
	reply := commands.Reply{Title: a.Title, Sections: a.Sections}
	for _, c := range cards {
		ed, ok := w.posters[c.Platform].(commands.Editor)
		if !ok {
			continue
		}
		err := ed.Edit(ctx, c.Channel, c.Ref, reply)
		snooze := snoozeLimited(err, c.Platform, nil)
		switch {
		case err == nil:
		case snooze != nil:
			w.log.InfoContext(ctx, "rate limited; approval card edit delayed", "platform", c.Platform, "request_id", a.ResourceID, "err", err)
			return snooze
		case platform.ErrorCode(err) == platform.NotFound || platform.ErrorCode(err) == platform.Forbidden:
			w.log.WarnContext(ctx, "approval card cannot show the decision", "platform", c.Platform, "channel", c.Channel, "request_id", a.ResourceID, "err", err)
		default:
			return fmt.Errorf("edit approval card of #%d on %s: %w", a.ResourceID, c.Platform, err)
		}
	}
	return nil
}

// AddGovernanceWorkers adds the governance workers to workers (call it
// from Config.Register): posts through posters, by platform name
// (approval cards, reminders, support tickets), the edit of approval
// cards to show the decision once it is made (where the poster is a
// commands.Editor), and the sweep of engine's deadlines.
func AddGovernanceWorkers(workers *river.Workers, engine *platform.Engine, cards CardStore, posters map[string]commands.Poster, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	book := &cardBook{store: cards, requests: engine.Store()}
	post := NewPostWorker(posters, log)
	post.book = book
	river.AddWorker(workers, post)
	river.AddWorker(workers, &CardsDecidedWorker{book: book, posters: posters, log: post.log})
	river.AddWorker(workers, NewSweepWorker(engine, log))
}
