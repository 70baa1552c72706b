package jobs

import "github.com/riverqueue/river"

// UpdateArgs asks for the change of a resource in updating to be applied
// by its driver.
type UpdateArgs struct {
	ResourceID int64 `json:"resource_id"`
}

// Kind implements river.JobArgs.
func (UpdateArgs) Kind() string { return "update" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (UpdateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: ProvisionMaxAttempts}
}
