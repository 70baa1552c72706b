package thread_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/platform"
)

func TestFailedDeletionOffersRetryAndForget(t *testing.T) {
	t.Parallel()
	r := &platform.Resource{ID: 12, Name: "orders-db", State: platform.Failed}
	l, ok := thread.LineOf(r, platform.Event{Kind: platform.EventTransition, From: platform.Deleting, To: platform.Failed, Message: "deprovisioning failed: database is in use"})
	want := "deprovisioning failed: database is in use Retry with /idp retry #12; if it cannot be deprovisioned, an admin can remove the record with /idp forget #12 --reason <text>."
	if !ok || l.Text != want {
		t.Errorf("LineOf(failed deletion).Text = %q, want %q", l.Text, want)
	}
	l, _ = thread.LineOf(r, platform.Event{Kind: platform.EventTransition, From: platform.Provisioning, To: platform.Failed, Message: "the script exited with status 1"})
	if l.Text != "the script exited with status 1" {
		t.Errorf("LineOf(failed provisioning).Text = %q: only a failed deletion hints at forget", l.Text)
	}
	if st := thread.StateStyle(platform.Forgotten); st.Label != "Forgotten" || st.Tone != thread.Muted {
		t.Errorf("StateStyle(forgotten) = %+v", st)
	}
}

// Rotated credentials are a message of their own: a platform that drops a
// repeated key (Discord's nonce) or finds a redelivered one (Slack) must
// never take them for the first credentials already sent.
func TestRotatedCredentialsAreANewMessage(t *testing.T) {
	t.Parallel()
	n, f, threads := setup(t, "REQ")
	ctx := context.Background()
	r := resource()
	_ = threads.SaveThread(ctx, 7, "fake", platform.Thread{Channel: "REQ", RootRef: "r0", ThreadRef: "t0"})
	keys := map[string]bool{}
	for _, pw := range []string{"first", "rotated", "first"} {
		if err := n.Private(ctx, r, map[string]string{"password": pw}); err != nil {
			t.Fatal(err)
		}
		calls := f.take()
		// The direct channel is opened once, then remembered.
		calls = slices.DeleteFunc(calls, func(c string) bool { return c == "dm alice" })
		if len(calls) != 2 || !strings.HasPrefix(calls[0], "post dm-alice secret:7:") {
			t.Fatalf("calls = %q, want a private post", calls)
		}
		keys[calls[0]] = true
		if strings.Contains(calls[0], pw) {
			t.Errorf("the key %q shows the password", calls[0])
		}
	}
	if len(keys) != 2 {
		t.Errorf("keys %v: want the same key for the same credentials and another for rotated ones", keys)
	}
}
