package digest

import (
	"context"
	"time"
)

// Store reads the usage digests report and records which were posted; the
// postgres package implements it.
type Store interface {
	// Load reads the usage of the period [from, to) and of the period of
	// the same length before it, in one consistent snapshot. Requests are
	// resources created in a period; outcomes, approval decisions and
	// failure reasons are transitions recorded in it; time to provision is
	// from request to ready, for resources that became ready in it; NPS is
	// the latest survey result at its end.
	Load(ctx context.Context, from, to time.Time) (cur, prev Data, err error)
	// PostOnce calls post unless the digest of slot was posted to channel
	// of platformName already, and records it as posted at at when post
	// succeeds. However many replicas or retries call it, post runs to
	// success once: a concurrent call waits, and a failed post releases
	// the slot. posted reports whether post ran and succeeded.
	PostOnce(ctx context.Context, platformName, channel string, slot, at time.Time, post func(context.Context) error) (posted bool, err error)
}
