package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Store is what the Runner's workers read and write in the bot's database;
// *postgres.Store implements it.
type Store interface {
	// Deliver hands fn, in order and one at a time, the events of a
	// resource up to upTo not yet delivered to a chat platform, advancing
	// the platform's cursor after each success (see postgres.Store.Deliver).
	Deliver(ctx context.Context, platformName string, resourceID, upTo int64,
		fn func(ctx context.Context, r *platform.Resource, ev platform.Event) error) error
	// DeliverBatch hands fn runs of up to limit of those events at once
	// (see postgres.Store.DeliverBatch).
	DeliverBatch(ctx context.Context, platformName string, resourceID, upTo int64, limit int,
		fn func(ctx context.Context, r *platform.Resource, d platform.Delivery) (int, error)) error
	// HandOver hands over the connection details of a secret event with
	// send, unless that was done, under a lock on the event (see
	// postgres.Store.HandOver).
	HandOver(ctx context.Context, platformName string, resourceID, eventID int64,
		send func(ctx context.Context, r *platform.Resource, ev platform.Event) (bool, error)) (bool, error)
	// Superseded reports whether a later job of notifyKind than jobID
	// delivers the same resource's events to the same platform (see
	// postgres.Store.Superseded).
	Superseded(ctx context.Context, notifyKind, platformName string, resourceID, jobID int64) (bool, error)
	// Orphans returns up to limit requests, oldest first, in pending,
	// provisioning, updating or deleting, unchanged for longer than stale and with
	// no live job of one of kinds.
	Orphans(ctx context.Context, kinds []string, stale time.Duration, limit int) ([]*platform.Resource, error)
	// Undelivered calls fn with up to limit resources, oldest first, with
	// events after the delivery cursor of their origin platform, the
	// newest recorded more than stale ago, that no live job of notifyKind
	// for that resource and platform reaches; upTo is the newest event's
	// ID (see postgres.Store.Undelivered).
	Undelivered(ctx context.Context, notifyKind string, stale time.Duration, limit int,
		fn func(r *platform.Resource, upTo int64)) error
}

// CardStore remembers where approval cards were posted; *postgres.Store
// implements it.
type CardStore interface {
	// RecordApprovalCard records where an approval card of resource id
	// was posted; recording it again is harmless.
	RecordApprovalCard(ctx context.Context, id int64, card platform.MessageRef) error
	// ApprovalCards returns where the approval cards of resource id were
	// posted, in the order they were.
	ApprovalCards(ctx context.Context, id int64) ([]platform.MessageRef, error)
	// JobPending reports whether a job of kind for resource id is still
	// to run or running.
	JobPending(ctx context.Context, kind string, id int64) (bool, error)
}

// TicketStore keeps support tickets; *postgres.Store implements it.
type TicketStore interface {
	// CreateTicket records t and calls enqueue with it (ID and CreatedAt
	// set) in the same transaction; a ticket with the IdempotencyKey of an
	// earlier one is that ticket, and enqueue is not called again.
	CreateTicket(ctx context.Context, t commands.Ticket, enqueue func(ctx context.Context, tx pgx.Tx, t commands.Ticket) error) (commands.Ticket, error)
}
