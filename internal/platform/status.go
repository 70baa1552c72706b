package platform

import (
	"context"
	"errors"
	"time"
)

// ErrNoStatus is what a StatusReader returns for a binding that has no
// way to read the live state (a webhook without a status URL, an exec
// binding without a status command): not an outage, and not drift.
var ErrNoStatus = errors.New("live status is not configured for this binding")

// Health is what a driver found when it read the live state of what a
// resource stands for.
type Health string

// Healths.
const (
	// Healthy: it exists and matches the record.
	Healthy Health = "healthy"
	// Degraded: it exists but does not work as it should (a rollout that
	// is not available, an operator reporting a failure).
	Degraded Health = "degraded"
	// Missing: it is gone (deleted out of band).
	Missing Health = "missing"
	// Changed: it exists and works, but differs from the record (a
	// connection limit or replica count changed behind the bot's back).
	Changed Health = "changed"
)

// Drifted reports whether h means that what exists no longer matches the
// record.
func (h Health) Drifted() bool { return h != Healthy }

// LiveCheck is one thing a driver compared: its name ("database",
// "connection limit"), the recorded value, the live one and whether they
// match.
type LiveCheck struct {
	Name     string `json:"name"`
	Recorded string `json:"recorded,omitempty"`
	Live     string `json:"live,omitempty"`
	OK       bool   `json:"ok"`
}

// LiveStatus is the live state of what a resource stands for.
type LiveStatus struct {
	Health Health `json:"health"`
	// Summary is one sentence for people ("the database and its role
	// exist; connection limit 50 as recorded").
	Summary string      `json:"summary"`
	Checks  []LiveCheck `json:"checks,omitempty"`
	// ReadAt is when it was read (set by the engine).
	ReadAt time.Time `json:"read_at"`
}

// StatusReader is implemented by a driver that can read the live state of
// what it provisioned (the platform contract's "get status"). It reads
// only, is bounded by ctx, and returns an error only when it could not
// read (the target is unreachable): a resource that is gone is a
// LiveStatus with Health Missing, not an error.
type StatusReader interface {
	Status(ctx context.Context, job Job) (LiveStatus, error)
}
