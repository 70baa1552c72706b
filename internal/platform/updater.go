package platform

import "context"

// Updater is implemented by a driver that can change what it provisioned
// in place when a ready resource's parameters change. Like Provision it is
// idempotent (a retried job applies the same change again and finds it
// made), honours ctx, and reports progress through job.Step. job.Resource
// carries the new parameters; old are the parameters it had before the
// change. An error for which IsPermanent is true fails the update; any
// other error is retried. The Result's Outputs, when not empty, replace
// the resource's outputs; its Secrets are delivered privately as after
// provisioning.
type Updater interface {
	Update(ctx context.Context, job Job, old map[string]any) (Result, error)
}
