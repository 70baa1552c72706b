package thread_test

import (
	"fmt"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/thread"
)

// newClock is a clock a test moves by hand.
func newClock() *platformtest.Clock {
	return platformtest.NewClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), 0)
}

func channel(name string) []thread.Limit {
	return []thread.Limit{{Key: "post " + name, Every: time.Second, Burst: 2}}
}
func take(p *thread.Pacer, who string, prio thread.Priority, l []thread.Limit) time.Duration {
	return p.Take(l, who, prio)
}

func TestPacerBurstThenRate(t *testing.T) {
	c := newClock()
	p := thread.NewPacer(c.Now)
	for i, who := range []string{"a", "b"} {
		if w := take(p, who, thread.Routine, channel("C")); w != 0 {
			t.Fatalf("call %d of the burst waits %v", i+1, w)
		}
	}
	if w := take(p, "c", thread.Routine, channel("C")); w != time.Second {
		t.Fatalf("third call waits %v, want 1s", w)
	}
	// Another channel is another bucket.
	if w := take(p, "d", thread.Routine, channel("D")); w != 0 {
		t.Errorf("a call to another channel waits %v", w)
	}
	c.Advance(time.Second)
	if w := take(p, "c", thread.Routine, channel("C")); w != 0 {
		t.Errorf("the third call, back in its turn, waits %v", w)
	}
}

func TestPacerQueuesByPriorityThenArrival(t *testing.T) {
	c := newClock()
	p := thread.NewPacer(c.Now)
	l := []thread.Limit{{Key: "post C", Every: time.Second, Burst: 1}}
	take(p, "first", thread.Routine, l) // spends the burst
	// Two replies queue, then a root arrives: it goes before them.
	if w := take(p, "reply1", thread.Routine, l); w != time.Second {
		t.Fatalf("reply1 waits %v, want 1s", w)
	}
	if w := take(p, "reply2", thread.Routine, l); w != 2*time.Second {
		t.Fatalf("reply2 waits %v, want 2s", w)
	}
	if w := take(p, "root", thread.Urgent, l); w != time.Second {
		t.Fatalf("the root waits %v, want 1s (before the replies)", w)
	}
	if !p.Queued("reply1") || p.Queued("first") {
		t.Errorf("Queued: reply1 %v (want true), first %v (want false)", p.Queued("reply1"), p.Queued("first"))
	}
	c.Advance(time.Second)
	// reply1 comes back in what it thought was its turn: the root's now.
	if w := take(p, "reply1", thread.Routine, l); w != time.Second {
		t.Errorf("reply1 after the root arrived waits %v, want 1s more", w)
	}
	if w := take(p, "root", thread.Urgent, l); w != 0 {
		t.Errorf("the root in its turn waits %v", w)
	}
	c.Advance(time.Second)
	if w := take(p, "reply2", thread.Routine, l); w != time.Second {
		t.Errorf("reply2 waits %v, want 1s: reply1 arrived first", w)
	}
	if w := take(p, "reply1", thread.Routine, l); w != 0 {
		t.Errorf("reply1 in its turn waits %v", w)
	}
}

func TestPacerCloseAndStale(t *testing.T) {
	c := newClock()
	p := thread.NewPacer(c.Now)
	l := channel("C")
	p.Close(l[0], 3*time.Second)
	// Closed for 3 s, and its tokens spent: a token a second after that.
	if w := take(p, "a", thread.Urgent, l); w != 4*time.Second {
		t.Fatalf("after a 429 the call waits %v, want 4s", w)
	}
	if w := take(p, "b", thread.Urgent, channel("D")); w != 0 {
		t.Errorf("another channel waits %v after a 429 in C", w)
	}
	c.Advance(4 * time.Second)
	// a was told to come back now and does not: b waits behind it.
	if w := take(p, "b", thread.Routine, l); w == 0 {
		t.Error("b went before a, which was queued first")
	}
	c.Advance(time.Minute)
	// a never came back: it lost its place.
	if w := take(p, "b", thread.Routine, l); w != 0 {
		t.Errorf("b behind a caller who never came back waits %v", w)
	}
	take(p, "y", thread.Routine, l) // the last token
	take(p, "x", thread.Routine, l)
	if !p.Queued("x") {
		t.Fatal("x, told to wait, is not queued")
	}
	p.Forget("x")
	if p.Queued("x") {
		t.Error("Forget kept x queued")
	}
}

// A Window bucket paces as Discord counts: Burst calls per window, the
// window opening with its first call and coming back whole as it closes,
// also after the platform closed it.
func TestPacerWindow(t *testing.T) {
	c := newClock()
	p := thread.NewPacer(c.Now)
	l := []thread.Limit{{Key: "post C", Every: 100 * time.Millisecond, Burst: 5, Window: true}}
	for i := range 5 {
		if w := take(p, fmt.Sprint("a", i), thread.Routine, l); w != 0 {
			t.Fatalf("call %d of the window waits %v", i+1, w)
		}
	}
	c.Advance(100 * time.Millisecond)
	// A token bucket would have a call for the next one by now; the
	// window has none until it closes, 400ms on. Ten callers fill it and
	// the next.
	for i := range 10 {
		want := 400 * time.Millisecond
		if i >= 5 {
			want += 500 * time.Millisecond
		}
		if w := take(p, fmt.Sprint("b", i), thread.Routine, l); w != want {
			t.Fatalf("caller %d waits %v, want %v", i, w, want)
		}
	}
	c.Advance(400 * time.Millisecond)
	for i := range 5 {
		if w := take(p, fmt.Sprint("b", i), thread.Routine, l); w != 0 {
			t.Fatalf("caller %d in the new window waits %v", i, w)
		}
	}
	if w := take(p, "b5", thread.Routine, l); w != 500*time.Millisecond {
		t.Errorf("caller 5 waits %v, want the new window's 500ms", w)
	}
	// Closed by the platform for 300ms, it then gives a whole window.
	p.Close(l[0], 300*time.Millisecond)
	c.Advance(300 * time.Millisecond)
	for i := range 5 {
		if w := take(p, fmt.Sprint("b", 5+i), thread.Routine, l); w != 0 {
			t.Fatalf("caller %d after the close waits %v", 5+i, w)
		}
	}
}

func TestPacerTakesEveryBucketOfACall(t *testing.T) {
	c := newClock()
	p := thread.NewPacer(c.Now)
	global := thread.Limit{Key: "global", Every: time.Second, Burst: 1}
	a := []thread.Limit{{Key: "post A", Every: time.Millisecond, Burst: 5}, global}
	b := []thread.Limit{{Key: "post B", Every: time.Millisecond, Burst: 5}, global}
	if w := take(p, "1", thread.Routine, a); w != 0 {
		t.Fatalf("first call waits %v", w)
	}
	if w := take(p, "2", thread.Routine, b); w != time.Second {
		t.Errorf("a call to another channel waits %v, want the global bucket's 1s", w)
	}
}

func TestPacerForgetsIdleBuckets(t *testing.T) {
	c := newClock()
	p := thread.NewPacer(c.Now)
	for i := range 2000 {
		take(p, "x", thread.Routine, channel(fmt.Sprint("thread-", i)))
	}
	c.Advance(time.Hour)
	// A bucket spent an hour ago would have refilled: forgetting it
	// changes nothing for its next caller.
	for range 1024 {
		if w := take(p, "y", thread.Routine, channel("thread-0")); w != 0 {
			c.Advance(w)
		}
	}
	if n := p.Buckets(); n > 2 {
		t.Errorf("%d buckets kept after an hour idle, want the one in use", n)
	}
}
