package platform

import (
	"context"
	"time"
)

// ResourceFilter selects resources. Zero fields match everything.
type ResourceFilter struct {
	ID          int64
	Name        string
	Service     string
	Environment string
	// Teams matches resources owned by any of these teams (nil: any team).
	Teams []string
	// Requester matches the requester's actor ID.
	Requester string
	// IdempotencyKey matches the key of the request that created it.
	IdempotencyKey string
	// States matches any of these states (nil: any state).
	States []State
	// ExpiresBefore matches resources with an expiry earlier than this
	// (zero: any resource, with or without an expiry).
	ExpiresBefore time.Time
	// Limit caps the number returned (0: no cap).
	Limit int
}

// Store keeps resources and their history. Implementations run each method
// in one transaction; the postgres implementation also enqueues the jobs an
// event calls for in that same transaction.
type Store interface {
	// CreateResource records r (State set by the caller) with ev as its first
	// event. In the same transaction, holding a lock on the team's usage of
	// the service, it counts the team's active resources of that service
	// and calls check with the count; an error from check aborts and is
	// returned as is. A name held by an active resource of the same service,
	// team and environment is a Conflict, and so is an IdempotencyKey that
	// is already recorded. Sets r.ID, CreatedAt, UpdatedAt.
	CreateResource(ctx context.Context, r *Resource, ev Event, check func(usage int) error) error
	// Resource returns the resource with the given id, or NotFound.
	Resource(ctx context.Context, id int64) (*Resource, error)
	// Resources returns the matching resources, newest first.
	Resources(ctx context.Context, f ResourceFilter) ([]*Resource, error)
	// Usage counts the team's active resources of a service.
	Usage(ctx context.Context, team, service string) (int, error)
	// Transition moves resource id to state to, under a row lock: it applies
	// mutate (may be nil) to the locked row, checks the move with Transition
	// (an illegal move from the current state is a Conflict), saves the row
	// and records ev with From and To filled in, then the extra events (not
	// state changes, such as sealed connection details), all in one
	// transaction.
	Transition(ctx context.Context, id int64, to State, ev Event, mutate func(*Resource) error, extra ...Event) (*Resource, error)
	// AddEvent records an event that is not a state change (a step, a
	// verdict, a sealed secret) and returns it with ID and At set.
	AddEvent(ctx context.Context, ev Event) (Event, error)
	// Events returns a resource's history, oldest first.
	Events(ctx context.Context, resourceID int64) ([]Event, error)
	// ResourcePage returns up to f.Limit resources matching f, newest
	// first, from cursor on (f's cursor ids need not match f), with the
	// number of all that match f and of those before the page. A cursor
	// naming no resource is an Invalid error.
	ResourcePage(ctx context.Context, f ResourceFilter, cursor Cursor) (ResourcePage, error)
	// EventPage returns up to limit events of a resource from cursor on
	// (the latest ones for the zero Cursor), oldest first, with the number
	// of all its events and of those before the window.
	EventPage(ctx context.Context, resourceID int64, cursor Cursor, limit int) (EventPage, error)
	// Decisions returns the events of a resource for which IsDecision
	// holds, oldest first.
	Decisions(ctx context.Context, resourceID int64) ([]Event, error)
	// Update changes resource id without a state change (a new expiry),
	// under the same row lock as Transition: it applies mutate to the
	// locked row (an error from mutate aborts and is returned as is),
	// saves it and records ev. The state, identity and creation time of
	// the row are the store's, whatever mutate does.
	Update(ctx context.Context, id int64, ev Event, mutate func(*Resource) error) (*Resource, error)
}
