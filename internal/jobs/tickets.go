package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Tickets records support tickets and, in the same transaction, enqueues
// their posts to the support channels. It implements commands.TicketStore.
type Tickets struct {
	store   TicketStore
	enqueue *Enqueuer
	support map[string]string
}

var _ commands.TicketStore = (*Tickets)(nil)

// NewTickets returns Tickets posting to the support channels, by platform
// (config channels.support).
func NewTickets(store TicketStore, enqueue *Enqueuer, support map[string]string) (*Tickets, error) {
	if store == nil || enqueue == nil {
		return nil, errors.New("jobs: tickets need a store and an enqueuer")
	}
	return &Tickets{store: store, enqueue: enqueue, support: support}, nil
}

// CreateTicket implements commands.TicketStore: it records t and, in the
// same transaction, enqueues its post to every support channel.
func (k *Tickets) CreateTicket(ctx context.Context, t commands.Ticket) (commands.Ticket, error) {
	t, err := k.store.CreateTicket(ctx, t, func(ctx context.Context, tx pgx.Tx, t commands.Ticket) error {
		return k.enqueue.Post(ctx, tx, k.support, 0, commands.TicketCard(t))
	})
	if err != nil {
		return commands.Ticket{}, platform.Wrap(platform.Internal, fmt.Errorf("record support ticket: %w", err), "The support ticket could not be recorded.")
	}
	return t, nil
}
