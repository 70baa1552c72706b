package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// SweepInterval is how often the leader runs the governance sweep:
// approval reminders and expiry, TTL warnings and deprovisioning.
const SweepInterval = 5 * time.Minute

// SweepArgs asks for one governance sweep (platform.Engine.Sweep).
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "governance_sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts: one per interval.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: SweepInterval}}
}

// SweepWorker runs the governance sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	engine *platform.Engine
	log    *slog.Logger
}

// NewSweepWorker returns the worker of the governance sweep.
func NewSweepWorker(engine *platform.Engine, log *slog.Logger) *SweepWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SweepWorker{engine: engine, log: log.With("component", "jobs")}
}

// Work sweeps. Errors of single resources fail the job after the others
// were handled, so it is retried.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	sw, err := w.engine.Sweep(ctx)
	if n := len(sw.Reminded) + len(sw.Expired) + len(sw.Warned) + len(sw.Deprovisioned); n > 0 {
		w.log.InfoContext(ctx, "governance sweep", "reminded", sw.Reminded, "expired", sw.Expired, "warned", sw.Warned, "deprovisioned", sw.Deprovisioned)
	}
	return err
}

// Register adds the governance workers to workers (call it from
// Config.Register): posts through posters, by platform name, approval
// cards that show the decision once it is made (where the poster is a
// commands.Editor), and the sweep.
func (g *Governance) Register(workers *river.Workers, posters map[string]commands.Poster) {
	book := &cardBook{store: g.store, requests: g.engine.Store()}
	post := NewPostWorker(posters, g.log)
	post.book = book
	river.AddWorker(workers, post)
	river.AddWorker(workers, &CardsDecidedWorker{book: book, posters: posters, log: g.log, paused: post.paused})
	river.AddWorker(workers, NewSweepWorker(g.engine, g.log))
}

// GovernancePeriodic returns the leader's periodic governance sweep, every
// SweepInterval and once at start; add it to Config.Periodic.
func GovernancePeriodic() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

// GovernanceConfig is what a Governance is built from.
type GovernanceConfig struct {
	Engine *platform.Engine
	// Store keeps approval cards and support tickets.
	Store GovernanceStore
	// Pool is where the posts' jobs are inserted.
	Pool *pgxpool.Pool
	// Schema is the PostgreSQL schema of River's tables, as in Config.
	Schema string
	// ApprovalChannels are where approval cards and reminders are posted,
	// by platform (config channels.approvals). A platform without a
	// Poster in Register has its posts cancelled.
	ApprovalChannels map[string]string
	// SupportChannels are where support tickets are posted, by platform
	// (config channels.support).
	SupportChannels map[string]string
	Logger          *slog.Logger
}

// Governance enqueues the posts governance calls for, each in the
// transaction of the change that calls for it: approval cards and
// reminders in the approvals channels, support tickets in the support
// channels. It implements commands.TicketStore. It inserts jobs with an
// insert-only River client of its own, so it can be built before the
// Runner (and handed to the commands Router).
type Governance struct {
	client    *river.Client[pgx.Tx]
	engine    *platform.Engine
	store     GovernanceStore
	approvals map[string]string
	support   map[string]string
	log       *slog.Logger
}

var _ commands.TicketStore = (*Governance)(nil)

// NewGovernance returns a Governance. It does no I/O.
func NewGovernance(cfg GovernanceConfig) (*Governance, error) {
	if cfg.Engine == nil || cfg.Store == nil || cfg.Pool == nil {
		return nil, errors.New("jobs: governance needs Engine, Store and Pool")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("component", "jobs")
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{Logger: log, Schema: cfg.Schema})
	if err != nil {
		return nil, fmt.Errorf("jobs: governance: %w", err)
	}
	return &Governance{client: client, engine: cfg.Engine, store: cfg.Store,
		approvals: cfg.ApprovalChannels, support: cfg.SupportChannels, log: log}, nil
}

// Enqueue inserts, in tx, the posts event ev of resource r calls for: an
// approval card in every approvals channel when r starts waiting for
// approval, a reminder card when its approvers are reminded, and, once it
// is decided, the edit of those cards to show the decision. Chain it after
// Runner.Enqueue in postgres.StoreOptions.OnEvent.
func (g *Governance) Enqueue(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error {
	var card commands.Reply
	switch {
	case ev.Kind == platform.EventTransition && ev.To == platform.AwaitingApproval:
		card = commands.ApprovalCard(r, g.engine.ApprovalsNeeded(r), "")
	case ev.Kind == platform.EventReminder:
		card = commands.ApprovalCard(r, g.engine.ApprovalsNeeded(r), ev.Message)
	case ev.Kind == platform.EventTransition && ev.From == platform.AwaitingApproval:
		if !g.posting(g.approvals) {
			return nil
		}
		decided := commands.DecidedCard(r, ev)
		if _, err := g.client.InsertTx(ctx, tx, CardsDecidedArgs{ResourceID: r.ID, Title: decided.Title, Sections: decided.Sections}, nil); err != nil {
			return fmt.Errorf("enqueue decided approval cards of %s: %w", r.Ref(), err)
		}
		return nil
	default:
		return nil
	}
	if err := g.post(ctx, tx, g.approvals, r.ID, card); err != nil {
		return fmt.Errorf("enqueue approval card of %s: %w", r.Ref(), err)
	}
	return nil
}

// posting reports whether channels names any channel to post in.
func (g *Governance) posting(channels map[string]string) bool {
	for _, c := range channels {
		if c != "" {
			return true
		}
	}
	return false
}

// post inserts, in tx, a post of reply to each channel; resourceID, when
// not 0, makes it an approval card of that request.
func (g *Governance) post(ctx context.Context, tx pgx.Tx, channels map[string]string, resourceID int64, reply commands.Reply) error {
	var params []river.InsertManyParams
	for _, p := range slices.Sorted(maps.Keys(channels)) {
		if channels[p] != "" {
			args := NewPostArgs(p, channels[p], reply)
			args.ResourceID = resourceID
			params = append(params, river.InsertManyParams{Args: args})
		}
	}
	if len(params) == 0 {
		return nil
	}
	_, err := g.client.InsertManyTx(ctx, tx, params)
	return err
}

// CreateTicket implements commands.TicketStore: it records t and, in the
// same transaction, enqueues its post to every support channel.
func (g *Governance) CreateTicket(ctx context.Context, t commands.Ticket) (commands.Ticket, error) {
	t, err := g.store.CreateTicket(ctx, t, func(ctx context.Context, tx pgx.Tx, t commands.Ticket) error {
		return g.post(ctx, tx, g.support, 0, commands.TicketCard(t))
	})
	if err != nil {
		return commands.Ticket{}, platform.Wrap(platform.Internal, fmt.Errorf("record support ticket: %w", err), "The support ticket could not be recorded.")
	}
	return t, nil
}
