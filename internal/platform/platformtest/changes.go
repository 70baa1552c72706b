package platformtest

import (
	"context"
	"maps"
	"slices"

	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.ChangeStore = (*Store)(nil)

// AddChange implements platform.ChangeStore.
func (s *Store) AddChange(ctx context.Context, c *platform.Change) error {
	if err := s.begin(ctx, "AddChange"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.resources[c.ResourceID]; !ok {
		return platform.Errorf(platform.NotFound, "There is no resource #%d.", c.ResourceID)
	}
	for _, o := range s.changes {
		if o.ResourceID == c.ResourceID && o.Status.Open() {
			return platform.Errorf(platform.Conflict, "#%d already has a change in progress.", c.ResourceID)
		}
	}
	now := s.now()
	c.ID = int64(len(s.changes) + 1)
	c.CreatedAt, c.UpdatedAt = now, now
	s.changes = append(s.changes, cloneChange(c))
	return nil
}

// OpenChange implements platform.ChangeStore.
func (s *Store) OpenChange(ctx context.Context, resourceID int64) (*platform.Change, error) {
	if err := s.begin(ctx, "OpenChange"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.changes {
		if c.ResourceID == resourceID && c.Status.Open() {
			return cloneChange(c), nil
		}
	}
	return nil, platform.Errorf(platform.NotFound, "#%d has no open change.", resourceID)
}

// PendingChanges implements platform.ChangeStore.
func (s *Store) PendingChanges(ctx context.Context, limit int) ([]*platform.Change, error) {
	if err := s.begin(ctx, "PendingChanges"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*platform.Change
	for _, c := range s.changes {
		if c.Status == platform.ChangePending && len(out) < limit {
			out = append(out, cloneChange(c))
		}
	}
	return out, nil
}

// SaveChange implements platform.ChangeStore.
func (s *Store) SaveChange(ctx context.Context, c *platform.Change) error {
	if err := s.begin(ctx, "SaveChange"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID < 1 || int(c.ID) > len(s.changes) {
		return platform.Errorf(platform.NotFound, "There is no change %d.", c.ID)
	}
	cur := s.changes[c.ID-1]
	c.UpdatedAt = s.now()
	cur.Status, cur.Approvers, cur.Reason, cur.UpdatedAt = c.Status, slices.Clone(c.Approvers), c.Reason, c.UpdatedAt
	return nil
}

// Changes returns every recorded change, oldest first.
func (s *Store) Changes() []*platform.Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*platform.Change, len(s.changes))
	for i, c := range s.changes {
		out[i] = cloneChange(c)
	}
	return out
}

func cloneChange(c *platform.Change) *platform.Change {
	out := *c
	out.Old, out.New = maps.Clone(c.Old), maps.Clone(c.New)
	out.Approvers = slices.Clone(c.Approvers)
	return &out
}
