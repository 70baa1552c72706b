// Package chat holds what the chat adapters share and no chat SDK knows
// about: answering within a platform's acknowledgement deadline, and the
// metrics an adapter reports, including a count of its API calls.
package chat

import (
	"context"
	"sync"
	"time"
)

// Ack is how long an adapter may wait before it must acknowledge a
// request, and how work that outlives the acknowledgement is owned.
type Ack struct {
	// Budget is how long to wait for the work before acknowledging
	// without its result; zero or negative: acknowledge at once.
	Budget time.Duration
	// Limit bounds the work as a whole, whether it finishes in time or
	// not; zero: no bound beyond the work's own.
	Limit time.Duration
	// BG owns the goroutine that runs the work, so that shutdown can wait
	// for answers that outlived their acknowledgement. Required.
	BG *sync.WaitGroup
}

// Within runs work in the background and waits at most ack.Budget for its
// result. When work finishes in time it returns the result and inTime
// true, and later is nil. Otherwise it returns inTime false and later,
// which blocks until work is done and returns its result (every call
// returns the same result), for the follow-up that replaces the
// acknowledgement.
//
// The work's context carries ctx's values but not its cancellation or
// deadline: the request that ctx belongs to ends with the acknowledgement,
// the work does not. It ends after ack.Limit. A panic in work is not
// recovered: work that can panic recovers itself into a result.
func Within[T any](ctx context.Context, ack Ack, work func(context.Context) T) (result T, inTime bool, later func() T) {
	done := make(chan T, 1)
	ack.BG.Go(func() {
		wctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
		if ack.Limit > 0 {
			wctx, cancel = context.WithTimeout(wctx, ack.Limit)
		}
		defer cancel()
		done <- work(wctx)
	})
	if ack.Budget > 0 {
		t := time.NewTimer(ack.Budget)
		defer t.Stop()
		select {
		case r := <-done:
			return r, true, nil
		case <-t.C:
		}
	}
	return result, false, sync.OnceValue(func() T { return <-done })
}
