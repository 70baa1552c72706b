package slack

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

func TestSlowCommandAnsweredByAModalRemovesTheAck(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, ackBudget: 50 * time.Millisecond})
	h.fake.Delay("users.info", 400*time.Millisecond)
	status, body := h.slash(carol, "create")
	if ack := decode(t, body); status != http.StatusOK || !strings.Contains(ack["text"].(string), "Working on it") {
		t.Fatalf("ack %d %v, want a working-on-it message", status, ack)
	}
	if v := h.lastView(); v.ID == "" {
		t.Fatalf("view = %+v, want the service picker", v)
	}
	slackfake.Eventually(t, 5*time.Second, "a response through response_url", func() bool { return len(h.fake.Responses()) == 1 })
	if r := h.fake.Responses()[0]; !r.DeleteOriginal {
		t.Errorf("response = %+v, want the working-on-it message deleted", r)
	}
}
