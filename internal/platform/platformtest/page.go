package platformtest

import (
	"context"
	"slices"

	"github.com/idpbot/idpbot/internal/platform"
)

// newer orders resources newest first: by creation time, then id.
func newer(a, b *platform.Resource) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return int(b.ID - a.ID)
}

// ResourcePage implements platform.Store.
func (s *Store) ResourcePage(ctx context.Context, f platform.ResourceFilter, cursor platform.Cursor) (platform.ResourcePage, error) {
	if err := s.begin(ctx, "ResourcePage"); err != nil {
		return platform.ResourcePage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*platform.Resource
	for _, r := range s.resources {
		if matches(r, f) {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, newer)
	limit := f.Limit
	if limit <= 0 {
		limit = len(all)
	}
	from, to := 0, min(limit, len(all))
	if id := max(cursor.After, cursor.Before); id != 0 {
		mark, ok := s.resources[id]
		if !ok {
			return platform.ResourcePage{}, platform.Errorf(platform.Invalid, "There is no resource #%d to page from; run the list again.", id)
		}
		// where is the index of the first resource after mark.
		where, _ := slices.BinarySearchFunc(all, mark, func(r, m *platform.Resource) int {
			if newer(r, m) <= 0 {
				return -1
			}
			return 1
		})
		if cursor.After != 0 {
			from, to = where, min(where+limit, len(all))
		} else {
			if where > 0 && all[where-1].ID == id {
				where--
			}
			from, to = max(where-limit, 0), where
		}
	}
	out := platform.ResourcePage{Total: len(all), Offset: from}
	for _, r := range all[from:to] {
		out.Resources = append(out.Resources, clone(r))
	}
	return out, nil
}

// EventPage implements platform.Store.
func (s *Store) EventPage(ctx context.Context, resourceID int64, cursor platform.Cursor, limit int) (platform.EventPage, error) {
	if err := s.begin(ctx, "EventPage"); err != nil {
		return platform.EventPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []platform.Event
	for _, ev := range s.events {
		if ev.ResourceID == resourceID {
			all = append(all, ev)
		}
	}
	from, to := max(len(all)-limit, 0), len(all)
	switch {
	case cursor.After != 0:
		from = len(all)
		for i, ev := range all {
			if ev.ID > cursor.After {
				from = i
				break
			}
		}
		to = min(from+limit, len(all))
	case cursor.Before != 0:
		to = 0
		for i, ev := range all {
			if ev.ID < cursor.Before {
				to = i + 1
			}
		}
		from = max(to-limit, 0)
	}
	out := platform.EventPage{Total: len(all), Offset: from}
	for _, ev := range all[from:to] {
		out.Events = append(out.Events, cloneEvent(ev))
	}
	return out, nil
}

// Decisions implements platform.Store.
func (s *Store) Decisions(ctx context.Context, resourceID int64) ([]platform.Event, error) {
	if err := s.begin(ctx, "Decisions"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []platform.Event
	for _, ev := range s.events {
		if ev.ResourceID == resourceID && platform.IsDecision(ev) {
			out = append(out, cloneEvent(ev))
		}
	}
	return out, nil
}
