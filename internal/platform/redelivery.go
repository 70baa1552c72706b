package platform

import (
	"context"
	"errors"
)

type redeliveryKey struct{}

// WithRedelivery marks ctx as the context of a delivery that may have been
// made before: a retried job, or an event whose earlier delivery was cut
// off (a crash, a lost response) after the chat API may have acted on it.
// A chat adapter that cannot make a post idempotent by itself looks, under
// such a context, for the message it may already have posted.
func WithRedelivery(ctx context.Context) context.Context {
	return context.WithValue(ctx, redeliveryKey{}, true)
}

// Redelivery reports whether ctx is marked by WithRedelivery.
func Redelivery(ctx context.Context) bool {
	v, _ := ctx.Value(redeliveryKey{}).(bool)
	return v
}

// notSent is implemented by errors that say a delivery certainly did not
// reach the chat platform.
type notSent interface{ NotSent() bool }

// NotSent reports whether err says that a delivery certainly did not reach
// the chat platform (it was paused, or the platform refused it with a rate
// limit before acting): its next try is then no redelivery.
func NotSent(err error) bool {
	var n notSent
	return errors.As(err, &n) && n.NotSent()
}
