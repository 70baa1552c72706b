package thread_test

import (
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
