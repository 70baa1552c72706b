package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// EnqueuerConfig is what an Enqueuer is built from.
type EnqueuerConfig struct {
	Pool *pgxpool.Pool
	// Schema is the PostgreSQL schema of River's tables, as in Config.
	Schema string
	// Org and Catalog say how many approvals a request needs, for its
	// approval cards.
	Org     *platform.Org
	Catalog *platform.Catalog
	// ApprovalChannels are where approval cards and reminders are posted,
	// by platform (config channels.approvals).
	ApprovalChannels map[string]string
	// PerPerson are the platforms whose deliveries are queued per
	// requester (NotifyQueue with an audience), so that one person's
	// process never takes another's: the console.
	PerPerson []string
	Logger    *slog.Logger
}

// Enqueuer inserts the jobs an event calls for, in the transaction that
// records the event (its OnEvent is postgres.StoreOptions.OnEvent), with
// an insert-only River client of its own: it needs nothing that is built
// after the store, so the store, the engine, the router, the adapters and
// the Runner are built in that order, each from what exists.
type Enqueuer struct {
	client    *river.Client[pgx.Tx]
	org       *platform.Org
	catalog   *platform.Catalog
	approvals map[string]string
	perPerson []string
	schema    string // River's, as in EnqueuerConfig
}

// NewEnqueuer returns an Enqueuer. It does no I/O.
func NewEnqueuer(cfg EnqueuerConfig) (*Enqueuer, error) {
	if cfg.Pool == nil {
		return nil, errors.New("jobs: the enqueuer needs a Pool")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// FetchCooldown also spaces the NOTIFYs this client sends for a queue
	// it inserts into: with River's default of 100 ms, a job inserted
	// within 100 ms of the previous one in its queue wakes no worker and
	// waits for the next poll (1 s).
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{Logger: cfg.Logger.With("component", "jobs"), Middleware: traceMiddleware(), Schema: cfg.Schema,
		FetchCooldown: InsertNotifyCooldown})
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueuer: %w", err)
	}
	return &Enqueuer{client: client, org: cfg.Org, catalog: cfg.Catalog, approvals: cfg.ApprovalChannels, perPerson: cfg.PerPerson, schema: cfg.Schema}, nil
}

// OnEvent inserts, in tx, the jobs event ev of resource r calls for:
//   - provisioning for a new, an approved or a retried request,
//     deprovisioning for a deletion (a retried one too), the update job
//     for a resource entering updating (an update or a retried one);
//   - the delivery of every event to the thread on the platform the
//     request came from, in that platform's queue (NotifyQueue; the
//     requester's own on a PerPerson platform), whichever process recorded
//     it: the processes that serve the platform work it. It replaces the
//     resource's delivery jobs still waiting to run (supersede), and a
//     secret event's connection details also get a hand-over job, in the
//     platform's HandOverQueue;
//   - an approval card in every approvals channel when r starts waiting
//     for approval, a reminder card when its approvers are reminded, and,
//     once it is decided, the edit of those cards to show the decision;
//     a notice there when a change of r waits for approval.
func (e *Enqueuer) OnEvent(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error {
	var params []river.InsertManyParams
	switch {
	case ev.Kind == platform.EventTransition && ev.To == platform.Pending,
		ev.Kind == platform.EventTransition && ev.To == platform.Provisioning &&
			(ev.From == platform.AwaitingApproval || ev.From == platform.Failed):
		params = append(params, river.InsertManyParams{Args: ProvisionArgs{ResourceID: r.ID}})
	case ev.To == platform.Deleting:
		params = append(params, river.InsertManyParams{Args: DeprovisionArgs{ResourceID: r.ID}})
	case ev.Kind == platform.EventTransition && ev.To == platform.Updating:
		// An update (ready → updating) or the retry of a failed one
		// (failed → updating).
		params = append(params, river.InsertManyParams{Args: UpdateArgs{ResourceID: r.ID}})
	}
	if args, ok := e.notify(r, ev.ID); ok {
		// This job replaces the resource's delivery jobs still waiting
		// to run: left, each would take a worker only to find it has
		// nothing to do, and in a burst they queue ahead of the
		// deliveries that post new stories' roots.
		if err := postgres.Supersede(ctx, tx, e.schema, args.Kind(), args.Platform, args.ResourceID); err != nil {
			return fmt.Errorf("enqueue jobs for event %d of %s: %w", ev.ID, r.Ref(), err)
		}
		if ev.Kind == platform.EventSecret {
			// Connection details go apart from the thread, beside the
			// deliveries that wait for their turn in a busy channel.
			params = append(params, river.InsertManyParams{Args: HandOverArgs(args)})
		}
		params = append(params, river.InsertManyParams{Args: args})
	}
	switch {
	case ev.Kind == platform.EventTransition && ev.To == platform.AwaitingApproval:
		params = append(params, e.posts(e.approvals, r.ID, commands.ApprovalCard(r, platform.ApprovalsNeeded(e.org, e.catalog, r), ""))...)
	case platform.IsChangeRequest(ev):
		// Not an approval card (resource 0): nothing edits it once the
		// change is decided, so it has no buttons.
		params = append(params, e.posts(e.approvals, 0, commands.ChangeCard(r, ev))...)
	case ev.Kind == platform.EventReminder:
		params = append(params, e.posts(e.approvals, r.ID, commands.ApprovalCard(r, platform.ApprovalsNeeded(e.org, e.catalog, r), ev.Message))...)
	case ev.Kind == platform.EventTransition && ev.From == platform.AwaitingApproval && posting(e.approvals):
		decided := commands.DecidedCard(r, ev)
		params = append(params, river.InsertManyParams{Args: CardsDecidedArgs{ResourceID: r.ID, Title: decided.Title, Sections: decided.Sections}})
	}
	if err := e.insert(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue jobs for event %d of %s: %w", ev.ID, r.Ref(), err)
	}
	return nil
}

// notify returns the job that delivers r's events up to eventID to the
// thread on the platform r came from, in the queue of the processes that
// serve it (the requester's own on a PerPerson platform); ok is false for
// a request from no platform.
func (e *Enqueuer) notify(r *platform.Resource, eventID int64) (args NotifyArgs, ok bool) {
	p := r.Origin.Platform
	if p == "" {
		return NotifyArgs{}, false
	}
	args = NotifyArgs{Platform: p, ResourceID: r.ID, EventID: eventID}
	if slices.Contains(e.perPerson, p) {
		args.Audience = strings.TrimPrefix(r.Requester.ID, p+":")
	}
	return args, true
}

// Post inserts, in tx, a post of reply to each of channels (by platform);
// resourceID, when not 0, makes it an approval card of that request.
func (e *Enqueuer) Post(ctx context.Context, tx pgx.Tx, channels map[string]string, resourceID int64, reply commands.Reply) error {
	return e.insert(ctx, tx, e.posts(channels, resourceID, reply))
}

// insert inserts params in tx; none is nothing to do.
func (e *Enqueuer) insert(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	_, err := e.client.InsertManyTx(ctx, tx, params)
	return err
}

func (e *Enqueuer) posts(channels map[string]string, resourceID int64, reply commands.Reply) []river.InsertManyParams {
	var params []river.InsertManyParams
	for _, p := range slices.Sorted(maps.Keys(channels)) {
		if channels[p] != "" {
			args := NewPostArgs(p, channels[p], reply)
			args.ResourceID = resourceID
			params = append(params, river.InsertManyParams{Args: args})
		}
	}
	return params
}

// InsertTx inserts one job in tx (survey commands record a vote and
// enqueue its follow-up in one transaction).
func (e *Enqueuer) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return e.client.InsertTx(ctx, tx, args, opts)
}

// posting reports whether channels names any channel to post in.
func posting(channels map[string]string) bool {
	for _, c := range channels {
		if c != "" {
			return true
		}
	}
	return false
}
