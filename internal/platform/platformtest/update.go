package platformtest

import (
	"context"
	"maps"

	"github.com/idpbot/idpbot/internal/platform"
)

// OpUpdate is a driver's Update.
const OpUpdate Op = "update"

var _ platform.Updater = (*Driver)(nil)

// Update implements platform.Updater: it records the call with the new
// parameters (Call.Old holds the old ones) and fails as Fail(OpUpdate, …)
// says; it returns no outputs and no secrets.
func (d *Driver) Update(ctx context.Context, job platform.Job, old map[string]any) (platform.Result, error) {
	if err := d.call(ctx, OpUpdate, job); err != nil {
		return platform.Result{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[d.lastCall(OpUpdate, job.Resource.ID)].Old = maps.Clone(old)
	return platform.Result{}, nil
}

// lastCall returns the index of the last recorded call of op for resource
// id; d.mu is held.
func (d *Driver) lastCall(op Op, id int64) int {
	for i := len(d.calls) - 1; i >= 0; i-- {
		if d.calls[i].Op == op && d.calls[i].ResourceID == id {
			return i
		}
	}
	return 0
}
