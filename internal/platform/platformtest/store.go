// Package platformtest provides in-memory fakes and fixtures for testing code
// built on package platform: a Store, a configurable Driver, a catalog and an
// org shaped like the real ones, and an Engine fixture that wires them
// together (optionally running provisioning jobs in the background the way
// the River workers do).
package platformtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Store is an in-memory platform.Store with the documented semantics: usage
// is counted and checked under one mutex, a name held by an active resource
// of the same service, team and environment is a Conflict, illegal
// transitions are Conflicts, ids increase and events keep their order.
// The zero value is not usable; call NewStore.
type Store struct {
	// OnEvent, when set, is called after every recorded event with the
	// resource as it is after the change, in event order, while the store is
	// locked (like the postgres store's hook runs inside the transaction). It
	// must not call the Store; start a goroutine for that. Set it before the
	// store is used.
	OnEvent func(r *platform.Resource, ev platform.Event)
	// Fail, when set, is called at the start of every method with the
	// method's name ("CreateResource", "Resource", …); a non-nil error is
	// returned as is, which is how tests simulate a database outage.
	Fail func(method string) error

	mu        sync.Mutex
	now       func() time.Time
	resources map[int64]*platform.Resource
	events    []platform.Event
	lastID    int64
	lastEvent int64
	// changes are the parameter changes (changes.go).
	changes []*platform.Change
}

var _ platform.Store = (*Store)(nil)

// NewStore returns an empty Store whose timestamps come from now (time.Now
// when nil).
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, resources: map[int64]*platform.Resource{}}
}

func (s *Store) begin(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if s.Fail != nil {
		if err := s.Fail(method); err != nil {
			return err
		}
	}
	return nil
}

// CreateResource implements platform.Store.
func (s *Store) CreateResource(ctx context.Context, r *platform.Resource, ev platform.Event, check func(usage int) error) error {
	if err := s.begin(ctx, "CreateResource"); err != nil {
		return err
	}
	if !r.State.Valid() {
		return fmt.Errorf("create resource: invalid state %q", r.State)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if check != nil {
		if err := check(s.usage(r.Team, r.Service)); err != nil {
			return err
		}
	}
	for _, o := range s.resources {
		if r.IdempotencyKey != "" && o.IdempotencyKey == r.IdempotencyKey {
			return platform.Errorf(platform.Conflict, "This request was already submitted as %s.", o.Ref())
		}
	}
	if r.State.Active() {
		for _, o := range s.resources {
			if o.State.Active() && o.Service == r.Service && o.Team == r.Team && o.Environment == r.Environment && o.Name == r.Name {
				return platform.Errorf(platform.Conflict, "team %s already has a %s called %s in %s (%s)", r.Team, r.Service, r.Name, r.Environment, o.Ref())
			}
		}
	}
	now := s.now()
	s.lastID++
	r.ID = s.lastID
	r.CreatedAt, r.UpdatedAt = now, now
	stored := clone(r)
	s.resources[r.ID] = stored
	ev.ResourceID = r.ID
	ev.From = ""
	ev.To = r.State
	s.record(stored, ev)
	return nil
}

// Resource implements platform.Store.
func (s *Store) Resource(ctx context.Context, id int64) (*platform.Resource, error) {
	if err := s.begin(ctx, "Resource"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[id]
	if !ok {
		return nil, platform.Errorf(platform.NotFound, "There is no resource #%d.", id)
	}
	return clone(r), nil
}

// Resources implements platform.Store.
func (s *Store) Resources(ctx context.Context, f platform.ResourceFilter) ([]*platform.Resource, error) {
	if err := s.begin(ctx, "Resources"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*platform.Resource
	for _, r := range s.resources {
		if matches(r, f) {
			out = append(out, clone(r))
		}
	}
	slices.SortFunc(out, func(a, b *platform.Resource) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func matches(r *platform.Resource, f platform.ResourceFilter) bool {
	switch {
	case f.ID != 0 && r.ID != f.ID,
		f.Name != "" && r.Name != f.Name,
		f.Service != "" && r.Service != f.Service,
		f.Environment != "" && r.Environment != f.Environment,
		f.Teams != nil && !slices.Contains(f.Teams, r.Team),
		f.Requester != "" && r.Requester.ID != f.Requester,
		f.IdempotencyKey != "" && r.IdempotencyKey != f.IdempotencyKey,
		f.States != nil && !slices.Contains(f.States, r.State),
		!f.ExpiresBefore.IsZero() && (r.ExpiresAt.IsZero() || !r.ExpiresAt.Before(f.ExpiresBefore)):
		return false
	}
	return true
}

// Usage implements platform.Store.
func (s *Store) Usage(ctx context.Context, team, service string) (int, error) {
	if err := s.begin(ctx, "Usage"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage(team, service), nil
}

func (s *Store) usage(team, service string) int {
	n := 0
	for _, r := range s.resources {
		if r.Team == team && r.Service == service && r.State.Counted() {
			n++
		}
	}
	return n
}

// Transition implements platform.Store.
func (s *Store) Transition(ctx context.Context, id int64, to platform.State, ev platform.Event, mutate func(*platform.Resource) error, extra ...platform.Event) (*platform.Resource, error) {
	if err := s.begin(ctx, "Transition"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.resources[id]
	if !ok {
		return nil, platform.Errorf(platform.NotFound, "There is no resource #%d.", id)
	}
	r := clone(cur)
	if mutate != nil {
		if err := mutate(r); err != nil {
			return nil, err
		}
	}
	from := cur.State
	if err := platform.Transition(from, to); err != nil {
		return nil, &platform.Error{Code: platform.Conflict, Message: fmt.Sprintf("%s %s is %s and cannot become %s.", cur.Name, cur.Ref(), from, to), Err: err}
	}
	// The row's identity and state are the store's, whatever mutate did.
	r.ID, r.State, r.CreatedAt = cur.ID, to, cur.CreatedAt
	r.UpdatedAt = s.now()
	s.resources[id] = r
	ev.ResourceID, ev.From, ev.To = id, from, to
	s.record(r, ev)
	for _, x := range extra {
		x.ResourceID, x.From, x.To = id, "", ""
		if x.Kind == "" {
			x.Kind = platform.EventNote
		}
		s.record(r, x)
	}
	return clone(r), nil
}

// Update implements platform.Store.
func (s *Store) Update(ctx context.Context, id int64, ev platform.Event, mutate func(*platform.Resource) error) (*platform.Resource, error) {
	if err := s.begin(ctx, "Update"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.resources[id]
	if !ok {
		return nil, platform.Errorf(platform.NotFound, "There is no resource #%d.", id)
	}
	r := clone(cur)
	if mutate != nil {
		if err := mutate(r); err != nil {
			return nil, err
		}
	}
	r.ID, r.State, r.CreatedAt = cur.ID, cur.State, cur.CreatedAt
	r.UpdatedAt = s.now()
	s.resources[id] = r
	ev.ResourceID, ev.From, ev.To = id, "", ""
	if ev.Kind == "" {
		ev.Kind = platform.EventNote
	}
	s.record(r, ev)
	return clone(r), nil
}

// AddEvent implements platform.Store.
func (s *Store) AddEvent(ctx context.Context, ev platform.Event) (platform.Event, error) {
	if err := s.begin(ctx, "AddEvent"); err != nil {
		return platform.Event{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[ev.ResourceID]
	if !ok {
		return platform.Event{}, platform.Errorf(platform.NotFound, "There is no resource #%d.", ev.ResourceID)
	}
	return s.record(r, ev), nil
}

// record appends ev with its id and time set and calls OnEvent; s.mu is held.
func (s *Store) record(r *platform.Resource, ev platform.Event) platform.Event {
	s.lastEvent++
	ev.ID = s.lastEvent
	ev.At = s.now()
	ev.Sealed = slices.Clone(ev.Sealed)
	s.events = append(s.events, ev)
	if s.OnEvent != nil {
		s.OnEvent(clone(r), cloneEvent(ev))
	}
	return cloneEvent(ev)
}

// Events implements platform.Store.
func (s *Store) Events(ctx context.Context, resourceID int64) ([]platform.Event, error) {
	if err := s.begin(ctx, "Events"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []platform.Event
	for _, ev := range s.events {
		if ev.ResourceID == resourceID {
			out = append(out, cloneEvent(ev))
		}
	}
	return out, nil
}

// AllEvents returns every recorded event, oldest first.
func (s *Store) AllEvents() []platform.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]platform.Event, len(s.events))
	for i, ev := range s.events {
		out[i] = cloneEvent(ev)
	}
	return out
}

// EraseSealed forgets the sealed payload of a delivered secret event, as
// the postgres store's outbox does.
func (s *Store) EraseSealed(eventID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.events {
		if s.events[i].ID == eventID {
			s.events[i].Sealed = nil
		}
	}
}

func clone(r *platform.Resource) *platform.Resource {
	c := *r
	c.Parameters = maps.Clone(r.Parameters)
	c.Outputs = maps.Clone(r.Outputs)
	c.Requester.Groups = slices.Clone(r.Requester.Groups)
	return &c
}

func cloneEvent(ev platform.Event) platform.Event {
	ev.Sealed = slices.Clone(ev.Sealed)
	ev.Actor.Groups = slices.Clone(ev.Actor.Groups)
	return ev
}
