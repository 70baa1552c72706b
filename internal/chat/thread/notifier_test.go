package thread_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/chat/thread/threadtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// fakeTransport records what the Notifier asks of a platform. Channels
// named "lost…" refuse posts with thread.ErrLost; the direct channel of
// an actor is "dm-<name>"; messages are kept by key, so Find works.
type fakeTransport struct {
	mu      sync.Mutex
	calls   []string
	posted  map[string]string // key → ref
	refs    int
	fail    map[string]error // call prefix → error, once
	noDM    bool
	refuses bool // the person takes no direct messages
}

func newFake() *fakeTransport {
	return &fakeTransport{posted: map[string]string{}, fail: map[string]error{}}
}

func (f *fakeTransport) Platform() string { return "fake" }

func (f *fakeTransport) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	for prefix, err := range f.fail {
		if strings.HasPrefix(call, prefix) {
			delete(f.fail, prefix)
			return err
		}
	}
	return nil
}

func (f *fakeTransport) deliver(call, channel, key string) (string, error) {
	if err := f.record(call); err != nil {
		return "", err
	}
	if strings.HasPrefix(channel, "lost") {
		return "", thread.Classify(thread.ErrLost, errors.New("not_in_channel"))
	}
	if f.refuses && strings.HasPrefix(channel, "dm-") && strings.HasPrefix(key, "secret:") {
		return "", thread.Classify(thread.ErrCannotDM, errors.New("cannot DM"))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs++
	ref := fmt.Sprintf("m%d", f.refs)
	f.posted[key] = ref
	return ref, nil
}

func (f *fakeTransport) Post(_ context.Context, channel string, m thread.Message, key string) (string, error) {
	return f.deliver(fmt.Sprintf("post %s %s", channel, key), channel, key)
}

func (f *fakeTransport) Reply(_ context.Context, th platform.Thread, m thread.Message, key string) (string, error) {
	return f.deliver(fmt.Sprintf("reply %s/%s %s", th.Channel, th.ThreadRef, key), th.Channel, key)
}

func (f *fakeTransport) Edit(_ context.Context, channel, ref string, m thread.Message) error {
	if err := f.record(fmt.Sprintf("edit %s %s", channel, ref)); err != nil {
		return err
	}
	if strings.HasPrefix(channel, "lost") {
		return thread.Classify(thread.ErrLost, errors.New("not_in_channel"))
	}
	return nil
}

func (f *fakeTransport) StartThread(_ context.Context, th platform.Thread, _ *platform.Resource, dm bool) (platform.Thread, error) {
	if err := f.record(fmt.Sprintf("start %s %s dm=%v", th.Channel, th.RootRef, dm)); err != nil {
		return platform.Thread{}, err
	}
	th.ThreadRef = "t-" + th.RootRef
	return th, nil
}

func (f *fakeTransport) DirectChannel(_ context.Context, who platform.Actor) (string, error) {
	if err := f.record("dm " + who.Name); err != nil {
		return "", err
	}
	if f.noDM {
		return "", nil
	}
	return "dm-" + who.Name, nil
}

func (f *fakeTransport) Find(_ context.Context, channel, threadRef, key string) (string, error) {
	if err := f.record(fmt.Sprintf("find %s %s", channel, key)); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posted[key], nil
}

func (f *fakeTransport) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

func resource() *platform.Resource {
	return &platform.Resource{ID: 7, Name: "orders-db", Service: "postgresql-database", Team: "payments", Environment: "development",
		State: platform.Pending, Requester: platform.Actor{ID: "fake:alice", Name: "alice"}, Origin: platform.Origin{Platform: "fake", Channel: "C1"}}
}

func transition(id int64, to platform.State) platform.Event {
	return platform.Event{ID: id, ResourceID: 7, Kind: platform.EventTransition, To: to}
}

func setup(t *testing.T, requests string) (*thread.Notifier, *fakeTransport, *threadtest.Threads) {
	t.Helper()
	f := newFake()
	threads := &threadtest.Threads{}
	return thread.New(thread.Config{Transport: f, Threads: threads, RequestsChannel: requests}), f, threads
}

func check(t *testing.T, f *fakeTransport, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

func TestStoryInTheRequestsChannel(t *testing.T) {
	t.Parallel()
	n, f, threads := setup(t, "REQ")
	ctx := context.Background()
	r := resource()
	if err := n.Notify(ctx, r, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	check(t, f, "post REQ root:7", "start REQ m1 dm=false", "reply REQ/t-m1 event:1")
	r.State = platform.Provisioning
	if err := n.Notify(ctx, r, transition(2, platform.Provisioning)); err != nil {
		t.Fatal(err)
	}
	// A state change edits the root; a step only replies.
	check(t, f, "edit REQ m1", "reply REQ/t-m1 event:2")
	if err := n.Notify(ctx, r, platform.Event{ID: 3, Kind: platform.EventStep, Message: "creating role"}); err != nil {
		t.Fatal(err)
	}
	check(t, f, "reply REQ/t-m1 event:3")
	// Secrets and empty notes show no line.
	_ = n.Notify(ctx, r, platform.Event{ID: 4, Kind: platform.EventSecret})
	_ = n.Notify(ctx, r, platform.Event{ID: 5, Kind: platform.EventNote})
	check(t, f)
	// Connection details go to the requester, and a note to the thread.
	if err := n.Private(ctx, r, map[string]string{"password": "x"}); err != nil {
		t.Fatal(err)
	}
	check(t, f, "dm alice", "post dm-alice secret:7:4ea940c0f3d0", "reply REQ/t-m1 secret-note:7:4ea940c0f3d0")
	th, _, _ := threads.Thread(ctx, 7, "fake")
	if th != (platform.Thread{Channel: "REQ", RootRef: "m1", ThreadRef: "t-m1"}) {
		t.Errorf("thread = %+v", th)
	}
}

func TestOriginChannelThenDirectMessage(t *testing.T) {
	t.Parallel()
	n, f, _ := setup(t, "")
	ctx := context.Background()
	r := resource()
	if err := n.Notify(ctx, r, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	check(t, f, "post C1 root:7", "start C1 m1 dm=false", "reply C1/t-m1 event:1")

	// No channel at all: the requester's direct messages, where the
	// connection details need no note.
	n2, f2, _ := setup(t, "")
	r2 := resource()
	r2.Origin.Channel = ""
	if err := n2.Notify(ctx, r2, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	check(t, f2, "dm alice", "post dm-alice root-dm:7", "start dm-alice m1 dm=true", "reply dm-alice/t-m1 event:1")
	if err := n2.Private(ctx, r2, map[string]string{"password": "x"}); err != nil {
		t.Fatal(err)
	}
	check(t, f2, "post dm-alice secret:7:4ea940c0f3d0") // the direct channel is remembered
}

func TestLostChannelMovesTheStoryToDirectMessages(t *testing.T) {
	t.Parallel()
	// The requests channel refuses the root: the story starts in a DM.
	n, f, _ := setup(t, "lost-req")
	ctx := context.Background()
	r := resource()
	if err := n.Notify(ctx, r, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	check(t, f, "post lost-req root:7", "dm alice", "post dm-alice root-dm:7", "start dm-alice m1 dm=true", "reply dm-alice/t-m1 event:1")

	// The channel is lost half-way: the root edit is skipped, the reply
	// moves to a DM with a new root, and later events follow it there.
	n2, f2, threads := setup(t, "")
	_ = threads.SaveThread(ctx, 7, "fake", platform.Thread{Channel: "lost-C1", RootRef: "r0", ThreadRef: "r0"})
	if err := n2.Notify(ctx, r, transition(2, platform.Provisioning)); err != nil {
		t.Fatal(err)
	}
	check(t, f2, "edit lost-C1 r0", "reply lost-C1/r0 event:2", "dm alice", "post dm-alice root-dm:7", "start dm-alice m1 dm=true", "reply dm-alice/t-m1 event:2")
	if err := n2.Notify(ctx, r, platform.Event{ID: 3, Kind: platform.EventStep, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	check(t, f2, "reply dm-alice/t-m1 event:3")

	// A requester who is not a user of the platform: nowhere to go, and
	// no error to retry forever.
	n3, f3, _ := setup(t, "")
	f3.noDM = true
	r3 := resource()
	r3.Origin.Channel = ""
	if err := n3.Notify(ctx, r3, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	check(t, f3, "dm alice")
}

func TestRetriesRepeatOnlyIdempotentWork(t *testing.T) {
	t.Parallel()
	n, f, _ := setup(t, "REQ")
	ctx := context.Background()
	r := resource()
	// Starting the thread fails after the root was posted and saved: the
	// retry starts the thread from that root, without a second root.
	f.fail["start"] = errors.New("503")
	if err := n.Notify(ctx, r, transition(1, platform.Pending)); err == nil {
		t.Fatal("Notify with the platform down = nil, want an error to retry")
	}
	check(t, f, "post REQ root:7", "start REQ m1 dm=false")
	if err := n.Notify(ctx, r, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	check(t, f, "start REQ m1 dm=false", "reply REQ/t-m1 event:1")

	// A redelivery looks for its message before posting it again.
	redo := platform.WithRedelivery(ctx)
	if err := n.Notify(redo, r, transition(1, platform.Pending)); err != nil {
		t.Fatal(err)
	}
	// (The root shows the state already: no edit.)
	check(t, f, "find REQ event:1")
	if err := n.Notify(redo, r, platform.Event{ID: 2, Kind: platform.EventStep, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	check(t, f, "find REQ event:2", "reply REQ/t-m1 event:2")

	// A rate limit on the root's edit is returned, to wait and retry; the
	// reply is not posted before the root shows the state.
	f.fail["edit"] = &thread.RateLimitError{Bucket: "fake edit", After: time.Second}
	r.State = platform.Provisioning
	err := n.Notify(ctx, r, transition(3, platform.Provisioning))
	var rl interface{ RetryAfter() time.Duration }
	if !errors.As(err, &rl) || rl.RetryAfter() != time.Second {
		t.Errorf("Notify with the edit rate limited = %v, want a RetryAfter", err)
	}
	check(t, f, "edit REQ m1")
	// A root that is gone stays gone; the story goes on.
	f.fail["edit"] = thread.Classify(thread.ErrGone, errors.New("message_not_found"))
	if err := n.Notify(ctx, r, transition(3, platform.Provisioning)); err != nil {
		t.Fatal(err)
	}
	check(t, f, "edit REQ m1", "reply REQ/t-m1 event:3")
}

func TestPrivateWhenDirectMessagesAreRefused(t *testing.T) {
	t.Parallel()
	n, f, threads := setup(t, "REQ")
	ctx := context.Background()
	r := resource()
	_ = threads.SaveThread(ctx, 7, "fake", platform.Thread{Channel: "REQ", RootRef: "r0", ThreadRef: "t0"})
	f.refuses = true
	if err := n.Private(ctx, r, map[string]string{"password": "x"}); err != nil {
		t.Fatal(err)
	}
	check(t, f, "dm alice", "post dm-alice secret:7:4ea940c0f3d0", "reply REQ/t0 secret-note:7:4ea940c0f3d0")
	style, text := thread.NoteOf(thread.CannotDM, "alice")
	if style != thread.LockStyle || !strings.Contains(text, "do not accept direct messages") {
		t.Errorf("note = %v %q", style, text)
	}
}

func TestPostsOutsideAStory(t *testing.T) {
	t.Parallel()
	n, f, _ := setup(t, "")
	ctx := context.Background()
	card := commands.Reply{Title: "orders-db #7 awaits approval"}
	ref, err := n.Post(ctx, "APPROVALS", card)
	if err != nil || ref != "m1" {
		t.Fatalf("Post = %q, %v", ref, err)
	}
	calls := f.take()
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "post APPROVALS post:") {
		t.Fatalf("calls = %q", calls)
	}
	// The same post retried after a lost answer is found, not repeated.
	again, err := n.Post(platform.WithRedelivery(ctx), "APPROVALS", card)
	if err != nil || again != ref {
		t.Errorf("redelivered Post = %q, %v; want %q", again, err, ref)
	}
	if calls := f.take(); len(calls) != 1 || !strings.HasPrefix(calls[0], "find APPROVALS post:") {
		t.Errorf("redelivered Post calls = %q", calls)
	}
	// A message that is gone is NotFound for the job that edits it.
	f.fail["edit"] = thread.Classify(thread.ErrGone, errors.New("message_not_found"))
	if err := n.Edit(ctx, "APPROVALS", ref, card); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Edit of a deleted message = %v, want NotFound", err)
	}
	if n, err := n.ChannelMembers(ctx, "APPROVALS"); n != 0 || err != nil {
		t.Errorf("ChannelMembers without platform support = %d, %v", n, err)
	}
}

func TestWording(t *testing.T) {
	t.Parallel()
	r := resource()
	r.State = platform.Ready
	r.Parameters = map[string]any{"size": "small", "high_availability": false}
	r.Outputs = map[string]string{"port": "5432", "host": "db"}
	f := thread.RootOf(r)
	if f.State.Label != "Ready" || len(f.Parameters) != 2 || f.Parameters[0].Key != "high_availability" || len(f.Outputs) != 2 || f.Reason != "" {
		t.Errorf("RootOf = %+v", f)
	}
	r.State, r.Reason = platform.Provisioning, "stale"
	if f := thread.RootOf(r); len(f.Outputs) != 0 || f.Reason != "" {
		t.Errorf("RootOf while provisioning shows outputs or a reason: %+v", f)
	}
	l, ok := thread.LineOf(r, platform.Event{Kind: platform.EventTransition, To: platform.Ready, Message: "Ready"})
	if !ok || l.Text != "" || l.Label != "Ready" || len(l.Outputs) != 2 {
		t.Errorf("LineOf(ready) = %+v", l)
	}
	d := thread.SecretOf(r, map[string]string{"password": "p", "url": "u", "user": "x"})
	if got := []string{d.Values[0].Key, d.Values[1].Key, d.Values[2].Key}; !cmp.Equal(got, []string{"url", "password", "user"}) {
		t.Errorf("secret order = %q, want the URL first", got)
	}
	if st := thread.StateStyle("unheard-of"); st.Label != "unheard-of" {
		t.Errorf("StateStyle(unknown) = %+v", st)
	}
}
