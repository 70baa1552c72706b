package chat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/idpbot/idpbot/internal/chat"
)

// The tests run in synctest bubbles: time is fake and only advances when
// every goroutine is blocked, so "in time" and "late" are exact.

func TestWithinAnswersInTimeOrLater(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		budget     time.Duration
		work       time.Duration
		wantInTime bool
		wantAck    time.Duration // when Within returns
	}{
		{"instant work", 2 * time.Second, 0, true, 0},
		{"work within the budget", 2 * time.Second, time.Second, true, time.Second},
		{"work longer than the budget", 2 * time.Second, 3 * time.Second, false, 2 * time.Second},
		{"no budget", 0, 0, false, 0},
		{"negative budget", -1, time.Second, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var bg sync.WaitGroup
				start := time.Now()
				got, inTime, later := chat.Within(t.Context(), chat.Ack{Budget: tc.budget, BG: &bg}, func(context.Context) string {
					time.Sleep(tc.work)
					return "answer"
				})
				if took := time.Since(start); took != tc.wantAck {
					t.Errorf("Within returned after %v, want %v", took, tc.wantAck)
				}
				if inTime != tc.wantInTime {
					t.Fatalf("Within inTime = %v, want %v", inTime, tc.wantInTime)
				}
				if inTime {
					if got != "answer" || later != nil {
						t.Errorf("Within = %q, later %v; want %q and no later", got, later != nil, "answer")
					}
					return
				}
				if got != "" || later == nil {
					t.Fatalf("Within late = %q, later %v; want the zero result and a later", got, later != nil)
				}
				if got := later(); got != "answer" {
					t.Errorf("later() = %q, want %q", got, "answer")
				}
				if took := time.Since(start); took != max(tc.work, tc.wantAck) {
					t.Errorf("later returned after %v, want %v", took, max(tc.work, tc.wantAck))
				}
				if got := later(); got != "answer" {
					t.Errorf("second later() = %q, want %q", got, "answer")
				}
				bg.Wait()
			})
		})
	}
}

func TestWithinLaterWaitsForTheWork(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var bg sync.WaitGroup
		release := make(chan struct{})
		_, inTime, later := chat.Within(t.Context(), chat.Ack{Budget: time.Second, BG: &bg}, func(context.Context) int {
			<-release
			return 42
		})
		if inTime {
			t.Fatal("Within of blocked work: inTime = true, want false")
		}
		got := make(chan int, 1)
		go func() { got <- later() }()
		synctest.Wait()
		select {
		case v := <-got:
			t.Fatalf("later() = %d before the work was released", v)
		default:
		}
		close(release)
		if v := <-got; v != 42 {
			t.Errorf("later() = %d, want 42", v)
		}
	})
}

func TestWithinBackgroundOwnsTheWork(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var bg sync.WaitGroup
		release := make(chan struct{})
		finished := false
		_, _, _ = chat.Within(t.Context(), chat.Ack{Budget: time.Second, BG: &bg}, func(context.Context) bool {
			<-release
			finished = true
			return true
		})
		waited := make(chan struct{})
		go func() {
			bg.Wait()
			close(waited)
		}()
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("BG.Wait returned while the work was running")
		default:
		}
		close(release)
		<-waited
		if !finished {
			t.Error("BG.Wait returned before the work finished")
		}
	})
}

type key struct{}

func TestWithinContextOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var bg sync.WaitGroup
		ctx, cancel := context.WithTimeout(context.WithValue(t.Context(), key{}, "request"), time.Second)
		defer cancel()
		release := make(chan struct{})
		var wctx context.Context
		var during error
		start := time.Now()
		_, _, later := chat.Within(ctx, chat.Ack{Budget: time.Millisecond, Limit: time.Minute, BG: &bg}, func(ctx context.Context) error {
			wctx = ctx
			<-release
			during = ctx.Err()
			return nil
		})
		cancel() // the request is over
		close(release)
		later()
		if during != nil {
			t.Errorf("work's context after the request ended: %v, want not done", during)
		}
		if v := wctx.Value(key{}); v != "request" {
			t.Errorf("work's context value = %v, want the request's", v)
		}
		if d, ok := wctx.Deadline(); !ok || d.Sub(start) != time.Minute {
			t.Errorf("work's deadline = %v, %v; want Limit after Within was called", d, ok)
		}
		bg.Wait()
		if wctx.Err() == nil {
			t.Error("work's context is not cancelled after the work returned")
		}
	})
}

func TestWithinLimitEndsTheWork(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var bg sync.WaitGroup
		start := time.Now()
		_, inTime, later := chat.Within(t.Context(), chat.Ack{Budget: time.Second, Limit: time.Minute, BG: &bg}, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		if inTime {
			t.Fatal("work that waits for its context finished in time")
		}
		if err := later(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("work's context ended with %v, want %v", err, context.DeadlineExceeded)
		}
		if took := time.Since(start); took != time.Minute {
			t.Errorf("work ended after %v, want the limit, 1m", took)
		}
	})
}

func TestWithinWithoutLimitHasNoDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var bg sync.WaitGroup
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		hasDeadline, inTime, _ := chat.Within(ctx, chat.Ack{Budget: time.Hour, BG: &bg}, func(ctx context.Context) bool {
			_, ok := ctx.Deadline()
			return ok
		})
		if !inTime {
			t.Fatal("instant work was not in time")
		}
		if hasDeadline {
			t.Error("work's context without Limit has a deadline")
		}
	})
}
