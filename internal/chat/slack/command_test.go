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

// /idp help is rendered once per set of roles and its acknowledgement
// reused: asking again gives the same bytes, an admin gets the admin's.
func TestHelpAckRenderedOncePerRoles(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	_, first := h.slash(alice, "help")
	status, again := h.slash(alice, "help")
	if status != http.StatusOK || string(again) != string(first) {
		t.Fatalf("second help ack %d %s, want %s", status, again, first)
	}
	if ack := decode(t, first); ack["response_type"] != "ephemeral" || len(ack["blocks"].([]any)) == 0 {
		t.Errorf("help ack = %v, want ephemeral blocks", ack)
	}
	_, adm := h.slash(admin, "help")
	if string(adm) == string(first) || !strings.Contains(string(adm), "forget") {
		t.Errorf("admin's help ack = %s, want the admin verbs", adm)
	}
	// Every command is shown, with room for those a platform team adds:
	// one block per command within a message's 50.
	if blocks := decode(t, adm)["blocks"].([]any); len(blocks) > 40 || strings.Contains(string(adm), `"block_id":"more"`) {
		t.Errorf("admin's help has %d blocks (cut: %t), want at most 40 and none cut", len(blocks), strings.Contains(string(adm), `"block_id":"more"`))
	}
}

// A help that outlives the acknowledgement still arrives, through
// response_url, also when it was rendered before.
func TestLateHelpAnsweredThroughResponseURL(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, ackBudget: 50 * time.Millisecond})
	h.slash(alice, "help") // rendered and kept
	h.fake.Delay("users.info", 400*time.Millisecond)
	status, body := h.slash(carol, "help")
	if ack := decode(t, body); status != http.StatusOK || !strings.Contains(ack["text"].(string), "Working on it") {
		t.Fatalf("ack %d %v, want a working-on-it message", status, ack)
	}
	slackfake.Eventually(t, 5*time.Second, "a response through response_url", func() bool { return len(h.fake.Responses()) == 1 })
	if r := h.fake.Responses()[0]; !r.ReplaceOriginal || !strings.Contains(r.Text, "Commands") {
		t.Errorf("response = %+v, want the help replacing the ack", r)
	}
}
