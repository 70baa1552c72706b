package thread

import (
	"errors"
	"fmt"
	"time"
)

// Transports classify their platform's errors with these, so that the
// Notifier decides once what each means.
var (
	// ErrLost: the bot cannot post in the channel (any more): removed,
	// archived, permissions changed. A resource's story moves to its
	// requester's direct messages.
	ErrLost = errors.New("the bot cannot post in this channel")
	// ErrGone: the message cannot be changed: deleted, or too old.
	ErrGone = errors.New("the message is gone or can no longer be changed")
	// ErrCannotDM: the person does not accept direct messages from the bot.
	ErrCannotDM = errors.New("the person does not accept direct messages from the bot")
)

// Classify marks err as one of the errors above, keeping err's own chain
// (a platform error's code, the API's error) for callers.
func Classify(kind, err error) error {
	if err == nil {
		return nil
	}
	return classified{kind: kind, err: err}
}

type classified struct{ kind, err error }

func (c classified) Error() string   { return c.err.Error() }
func (c classified) Unwrap() []error { return []error{c.err, c.kind} }

// RateLimitError is a chat API's 429: the call was not made, and calls to
// the same bucket (a method, a route, a channel) must wait After.
type RateLimitError struct {
	// Bucket names what is limited: a Slack method, a Discord route.
	Bucket string
	After  time.Duration
	// Global: the platform's global limit, not the bucket's own, was hit.
	Global bool
	// Paced: the bot's own pacing held the call back before making it.
	Paced bool
	Err   error
}

func (e *RateLimitError) Error() string {
	if e.Paced {
		return fmt.Sprintf("%s: waiting for its turn, %s", e.Bucket, e.After.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s: rate limited, retry after %s", e.Bucket, e.After)
}

// Unwrap returns the API's own error.
func (e *RateLimitError) Unwrap() error { return e.Err }

// NotSent reports that a paced call was never made (platform.NotSent).
func (e *RateLimitError) NotSent() bool { return e.Paced }

// RetryAfter implements jobs.RateLimited.
func (e *RateLimitError) RetryAfter() time.Duration { return e.After }
