package platform

import (
	"context"
	"slices"
)

// Cursor marks a place in a newest-first list of resources (by creation
// time, then id) or in a resource's history (by event id): a page starts
// right after the item with id After, or ends right before the one with id
// Before. The zero Cursor is the start (the newest resources, the latest
// events).
type Cursor struct {
	After  int64
	Before int64
}

// ResourcePage is one page of a list of resources and where it lies in it.
type ResourcePage struct {
	// Resources are the page's resources, newest first.
	Resources []*Resource
	// Total counts every resource that matches, on every page.
	Total int
	// Offset counts the matching resources that come before the page's
	// first (newer ones).
	Offset int
}

// HasNewer reports whether resources come before the page.
func (p ResourcePage) HasNewer() bool { return p.Offset > 0 }

// HasOlder reports whether resources come after the page.
func (p ResourcePage) HasOlder() bool { return p.Offset+len(p.Resources) < p.Total }

// EventPage is a window of a resource's history and where it lies in it.
type EventPage struct {
	// Events are the window's events, oldest first.
	Events []Event
	// Total counts every event of the resource.
	Total int
	// Offset counts the events older than the window's first.
	Offset int
}

// HasOlder reports whether older events come before the window.
func (p EventPage) HasOlder() bool { return p.Offset > 0 }

// HasNewer reports whether newer events come after the window.
func (p EventPage) HasNewer() bool { return p.Offset+len(p.Events) < p.Total }

// ListPage returns one page of the resources actor may see that match
// opts (in one of states, when states are given; opts.All is then
// irrelevant), newest first: opts.Limit of them (at most MaxPage) from
// cursor on.
func (e *Engine) ListPage(ctx context.Context, actor Actor, opts ListOptions, cursor Cursor, states ...State) (ResourcePage, error) {
	for _, s := range states {
		if !s.Valid() {
			return ResourcePage{}, Errorf(Invalid, "There is no state %q.", truncate(string(s), 32))
		}
	}
	if cursor.After != 0 && cursor.Before != 0 {
		return ResourcePage{}, Errorf(Invalid, "A page starts after one resource or ends before one, not both.")
	}
	f, err := e.listFilter(actor, opts)
	if err != nil || f.Teams != nil && len(f.Teams) == 0 {
		return ResourcePage{}, err
	}
	if len(states) > 0 {
		f.States = slices.Clone(states)
	}
	f.Limit = min(max(opts.Limit, 1), MaxPage)
	return e.store.ResourcePage(ctx, f, cursor)
}

// MaxPage is the most resources or events one page holds.
const MaxPage = 100

// listFilter is the filter of what actor may see of opts.
func (e *Engine) listFilter(actor Actor, opts ListOptions) (ResourceFilter, error) {
	f := ResourceFilter{Environment: opts.Environment, Service: opts.Service, Teams: e.visibleTeams(actor), Limit: opts.Limit}
	if opts.Team != "" {
		if f.Teams != nil && !slices.Contains(f.Teams, opts.Team) {
			return f, Errorf(Forbidden, "You are not in team %s.", truncate(opts.Team, 64))
		}
		f.Teams = []string{opts.Team}
	}
	if opts.Mine {
		f.Requester = actor.ID
	}
	if !opts.All {
		f.States = ActiveStates()
	}
	return f, nil
}

// History returns a window of the history of a resource actor may see:
// limit events (at most MaxPage) from cursor on, the latest ones for the
// zero Cursor.
func (e *Engine) History(ctx context.Context, actor Actor, r *Resource, cursor Cursor, limit int) (EventPage, error) {
	if teams := e.visibleTeams(actor); teams != nil && !slices.Contains(teams, r.Team) {
		return EventPage{}, Errorf(NotFound, "There is no resource %s that you can see.", r.Ref())
	}
	if cursor.After != 0 && cursor.Before != 0 {
		return EventPage{}, Errorf(Invalid, "A page starts after one event or ends before one, not both.")
	}
	return e.store.EventPage(ctx, r.ID, cursor, min(max(limit, 1), MaxPage))
}

// Decisions returns the approval decisions of a resource actor may see,
// oldest first: approvals, and the moves out of awaiting_approval.
func (e *Engine) Decisions(ctx context.Context, actor Actor, r *Resource) ([]Event, error) {
	if teams := e.visibleTeams(actor); teams != nil && !slices.Contains(teams, r.Team) {
		return nil, Errorf(NotFound, "There is no resource %s that you can see.", r.Ref())
	}
	return e.store.Decisions(ctx, r.ID)
}

// IsDecision reports whether ev decided an approval: an approval, or a move
// out of awaiting_approval.
func IsDecision(ev Event) bool {
	return ev.Kind == EventApproval || ev.Kind == EventTransition && ev.From == AwaitingApproval
}
