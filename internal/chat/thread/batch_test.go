package thread_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"slices"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/chat/thread/threadtest"
	"github.com/idpbot/idpbot/internal/platform"
)

// limitedFake is the fake transport of a platform that allows one
// message per second per channel, with no burst, and records how many
// events each reply tells.
type limitedFake struct {
	*fakeTransport
	told []string // "event:N tells K"
}

func (f *limitedFake) Limits(op thread.Op, channel, _ string) []thread.Limit {
	switch op {
	case thread.OpPost, thread.OpReply:
		return []thread.Limit{{Key: "post " + channel, Every: time.Second, Burst: 1}}
	case thread.OpEdit:
		return []thread.Limit{{Key: "edit", Every: time.Second, Burst: 1}}
	}
	return nil
}

func (f *limitedFake) Reply(ctx context.Context, th platform.Thread, m thread.Message, key string) (string, error) {
	f.mu.Lock()
	f.told = append(f.told, fmt.Sprintf("%s tells %d", key, len(m.Parts())))
	f.mu.Unlock()
	return f.fakeTransport.Reply(ctx, th, m, key)
}

// batchSetup returns a Notifier on a limitedFake whose pacer runs on a
// clock the test moves, and which never waits in the process: a wait is
// a *RateLimitError, as for a delivery job that snoozes.
func batchSetup(t *testing.T) (*thread.Notifier, *limitedFake, *platformtest.Clock) {
	t.Helper()
	f := &limitedFake{fakeTransport: newFake()}
	c := newClock()
	n := thread.New(thread.Config{Transport: f, Threads: &threadtest.Threads{}, RequestsChannel: "REQ",
		Pacer: thread.NewPacer(c.Now), MaxWait: time.Nanosecond})
	return n, f, c
}

// delivery is a platform.Delivery of evs whose Start records nothing and
// whose HandOver records the secrets handed over, and sends none twice.
func delivery(evs []platform.Event, secrets map[int64]map[string]string, handed *[]int64) platform.Delivery {
	return platform.Delivery{
		Events:  evs,
		Secrets: secrets,
		Start:   func(ctx context.Context, _ int64) (context.Context, error) { return ctx, nil },
		HandOver: func(ctx context.Context, id int64, send func(context.Context) (bool, error)) (bool, error) {
			if slices.Contains(*handed, id) {
				return false, nil
			}
			ok, err := send(ctx)
			if ok && err == nil {
				*handed = append(*handed, id)
			}
			return true, err
		},
	}
}

func paced(t *testing.T, err error) time.Duration {
	t.Helper()
	var rl *thread.RateLimitError
	if !errors.As(err, &rl) || !rl.Paced || !platform.NotSent(err) {
		t.Fatalf("err = %v, want the notifier's own pacing (sent nothing)", err)
	}
	return rl.After
}

func TestBatchHandsSecretsOverBeforeTheThread(t *testing.T) {
	t.Parallel()
	n, f, c := batchSetup(t)
	ctx := context.Background()
	r := resource()
	var handed []int64
	// The story opens: root and first reply take the channel's turns.
	if got, err := n.NotifyBatch(ctx, r, delivery([]platform.Event{transition(1, platform.Pending)}, nil, &handed)); got != 0 {
		t.Fatalf("delivered %d (%v) with the reply's turn a second away", got, err)
	}
	c.Advance(time.Second)
	if got, err := n.NotifyBatch(ctx, r, delivery([]platform.Event{transition(1, platform.Pending)}, nil, &handed)); got != 1 || err != nil {
		t.Fatalf("delivered %d, %v; want the first event", got, err)
	}
	if calls := f.take(); len(calls) == 0 || calls[0] != "dm alice" {
		t.Errorf("calls %q, want the requester's direct messages opened first, as the story began", calls)
	}
	// The channel is busy (its token spent); the request becomes ready
	// and its connection details wait in the same run.
	r.State = platform.Ready
	evs := []platform.Event{transition(2, platform.Ready), {ID: 3, ResourceID: 7, Kind: platform.EventSecret}}
	secrets := map[int64]map[string]string{3: {"password": "x"}}
	got, err := n.NotifyBatch(ctx, r, delivery(evs, secrets, &handed))
	if got != 0 {
		t.Fatalf("delivered %d events while the channel was busy", got)
	}
	paced(t, err)
	// The details go first, to the direct messages opened as the story
	// began, then the root shows the new state (the edits have turns of
	// their own) while the reply waits.
	check(t, f.fakeTransport, "post dm-alice secret:7:4ea940c0f3d0", "edit REQ m1")
	if len(handed) != 1 || handed[0] != 3 {
		t.Errorf("handed over = %v, want event 3", handed)
	}
	// In its turn the thread catches up in one reply: the state and the
	// note that the details were sent; they are not sent again.
	c.Advance(time.Second)
	got, err = n.NotifyBatch(ctx, r, delivery(evs, map[int64]map[string]string{}, &handed))
	if got != 2 || err != nil {
		t.Fatalf("delivered %d, %v; want both events", got, err)
	}
	check(t, f.fakeTransport, "reply REQ/t-m1 event:3")
	if want := "event:3 tells 2"; f.told[len(f.told)-1] != want {
		t.Errorf("last reply %q, want %q", f.told[len(f.told)-1], want)
	}
}

func TestBatchCoalescesWhatWaited(t *testing.T) {
	t.Parallel()
	n, f, c := batchSetup(t)
	ctx := context.Background()
	r := resource()
	var handed []int64
	// Another story took the channel's turns: this one queues.
	for i := range 3 {
		c.Advance(time.Second)
		other := resource()
		other.ID = int64(100 + i)
		if got, err := n.NotifyBatch(ctx, other, delivery([]platform.Event{transition(int64(200+i), platform.Pending)}, nil, &handed)); got != 0 && err != nil {
			t.Fatal(err)
		}
	}
	f.take()
	evs := []platform.Event{transition(1, platform.Pending)}
	if _, err := n.NotifyBatch(ctx, r, delivery(evs, nil, &handed)); err == nil {
		t.Fatal("the story went at once in a busy channel")
	}
	// Steps pile up while it waits; when its turn comes they go in as
	// few messages as the turns allow: the root, then one reply.
	for id := int64(2); id <= 5; id++ {
		evs = append(evs, platform.Event{ID: id, ResourceID: 7, Kind: platform.EventStep, Message: fmt.Sprintf("step %d", id)})
	}
	delivered := 0
	for range 20 {
		c.Advance(time.Second)
		got, err := n.NotifyBatch(ctx, r, delivery(evs[delivered:], nil, &handed))
		delivered += got
		if err == nil && delivered == len(evs) {
			break
		}
		if err != nil {
			paced(t, err)
		}
	}
	if delivered != len(evs) {
		t.Fatalf("delivered %d of %d events", delivered, len(evs))
	}
	var replies []string
	for _, call := range f.take() {
		if len(call) > 5 && call[:5] == "reply" {
			replies = append(replies, call)
		}
	}
	if len(replies) != 1 || f.told[len(f.told)-1] != "event:5 tells 5" {
		t.Errorf("replies %q (told %q), want one telling all five events", replies, f.told)
	}
}

func TestBatchRedeliveryKeepsTheAttemptedMessage(t *testing.T) {
	t.Parallel()
	n, f, c := batchSetup(t)
	ctx := context.Background()
	r := resource()
	var handed []int64
	if got, _ := n.NotifyBatch(ctx, r, delivery([]platform.Event{transition(1, platform.Pending)}, nil, &handed)); got != 0 {
		t.Fatal("want a wait for the reply's turn")
	}
	c.Advance(time.Second)
	if got, err := n.NotifyBatch(ctx, r, delivery([]platform.Event{transition(1, platform.Pending)}, nil, &handed)); got != 1 {
		t.Fatal(err)
	}
	f.take()
	// An earlier attempt began the message of events 2–3 and was cut off:
	// the next run tells exactly those under that key (found, not posted
	// again), then event 4 in a reply of its own.
	evs := []platform.Event{
		{ID: 2, ResourceID: 7, Kind: platform.EventStep, Message: "a"},
		{ID: 3, ResourceID: 7, Kind: platform.EventStep, Message: "b"},
		{ID: 4, ResourceID: 7, Kind: platform.EventStep, Message: "c"},
	}
	f.posted["event:3"] = "m-earlier"
	d := delivery(evs, nil, &handed)
	d.Attempted = 3
	d.Start = func(ctx context.Context, through int64) (context.Context, error) {
		if through == 3 {
			return platform.WithRedelivery(ctx), nil
		}
		return ctx, nil
	}
	delivered := 0
	for range 5 {
		c.Advance(time.Second)
		d.Events = evs[delivered:]
		got, _ := n.NotifyBatch(ctx, r, d)
		delivered += got
		if delivered == len(evs) {
			break
		}
	}
	check(t, f.fakeTransport, "find REQ event:3", "reply REQ/t-m1 event:4")
}

// roomyFake is a transport whose buckets rarely fill, and whose client
// holds back the next holds replies (their bucket spent, nothing sent).
type roomyFake struct {
	*fakeTransport
	holds int
}

func (*roomyFake) Limits(op thread.Op, channel, _ string) []thread.Limit {
	return []thread.Limit{{Key: fmt.Sprint(op, channel), Every: time.Millisecond, Burst: 10}}
}

func (f *roomyFake) Reply(ctx context.Context, th platform.Thread, m thread.Message, key string) (string, error) {
	f.mu.Lock()
	held := f.holds > 0
	if held {
		f.holds--
		f.calls = append(f.calls, "held "+key)
	}
	f.mu.Unlock()
	if held {
		return "", &thread.RateLimitError{Bucket: "client", After: 5 * time.Millisecond, Paced: true}
	}
	return f.fakeTransport.Reply(ctx, th, m, key)
}

// A call the platform's own client held back waits for its bucket in the
// process and is made then, once: the delivery does not end for a wait it
// can make. Held back again and again, it ends the delivery, to wait as a
// job.
func TestHeldCallWaitsInProcess(t *testing.T) {
	t.Parallel()
	f := &roomyFake{fakeTransport: newFake(), holds: 1}
	n := thread.New(thread.Config{Transport: f, Threads: &threadtest.Threads{}, RequestsChannel: "REQ", MaxWait: time.Minute})
	ctx := context.Background()
	r := resource()
	if err := n.Notify(ctx, r, transition(1, platform.Pending)); err != nil {
		t.Fatalf("Notify = %v, want the held reply made after its wait", err)
	}
	check(t, f.fakeTransport, "dm alice", "post REQ root:7", "start REQ m1 dm=false", "held event:1", "reply REQ/t-m1 event:1")

	f.mu.Lock()
	f.holds = 100
	f.mu.Unlock()
	err := n.Notify(ctx, r, platform.Event{ID: 2, ResourceID: 7, Kind: platform.EventStep, Message: "x"})
	if w := paced(t, err); w <= 0 {
		t.Errorf("held back each time: wait %v, want the client's", w)
	}
	check(t, f.fakeTransport, "held event:2", "held event:2", "held event:2")
}
