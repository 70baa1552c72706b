package discord

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Every call the Notifier paces tells its Pacer what Discord's headers
// say of the call's bucket: one call made outside the Pacer (another
// replica's, say) leaves it four of the window's five, and the fifth
// waits for the window to close.
func TestHeadersReachThePacer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessConfig{engine: fixture(t).Engine, rateScale: 1})
	h.fake.SetLimits(discordtest.DocumentedLimits())
	ctx := context.Background()
	post := thread.Message{Kind: thread.Post, Reply: commands.Reply{Title: "hello"}}
	r := &platform.Resource{ID: 7, Name: "orders-db", Team: "payments", Environment: "staging", State: platform.Pending}

	// The message edited and threaded is in a channel of its own.
	root, err := h.adapter.Post(ctx, requestsChannel, post, "root")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[thread.Op]func() error{
		thread.OpPost: func() error {
			_, err := h.adapter.Post(ctx, testChannel, post, "post")
			return err
		},
		thread.OpEdit: func() error { return h.adapter.Edit(ctx, requestsChannel, root, post) },
		thread.OpThread: func() error {
			_, err := h.adapter.StartThread(ctx, platform.Thread{Channel: requestsChannel, RootRef: root}, r, false)
			return err
		},
		thread.OpOpen: func() error {
			_, err := h.adapter.DirectChannel(ctx, platform.Actor{ID: "discord:" + alice.ID})
			return err
		},
	}
	for op, call := range calls {
		p := thread.NewPacer(nil)
		h.adapter.ReportTo(p)
		if err := call(); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
		channel := requestsChannel
		if op == thread.OpPost {
			channel = testChannel
		}
		bucket := h.adapter.Limits(op, channel, "")[:1]
		for i := range channelBurst - 1 {
			if w := p.Take(bucket, fmt.Sprint("caller", i), thread.Routine); w != 0 {
				t.Fatalf("op %d: call %d of the four left waits %v", op, i+1, w)
			}
		}
		if w := p.Take(bucket, "fifth", thread.Routine); w <= 0 || w > 5*time.Second+10*time.Millisecond {
			t.Errorf("op %d: the fifth call waits %v, want the rest of Discord's 5s window", op, w)
		}
	}
}

func TestRouteOf(t *testing.T) {
	t.Parallel()
	a := &Adapter{rateScale: 1}
	for _, c := range []struct {
		method, path, want string
	}{
		{"POST", "/api/v10/channels/11/messages", "POST /channels/11/messages"},
		{"PATCH", "/api/v10/channels/11/messages/22", "PATCH /channels/11/messages"},
		{"POST", "/api/v10/channels/11/messages/22/threads", "POST /channels/11/threads"},
		{"POST", "/api/v10/users/@me/channels", "POST /users/@me/channels"},
		{"GET", "/api/v10/channels/11/messages", ""},
		{"DELETE", "/api/v10/channels/11/messages/22", ""},
		{"POST", "/api/v10/interactions/33/tok/callback", ""},
	} {
		l, ok := a.routeOf(c.method, c.path)
		if ok != (c.want != "") || l.Key != c.want {
			t.Errorf("routeOf(%s %s) = %q, %v; want %q", c.method, c.path, l.Key, ok, c.want)
		}
	}
}
