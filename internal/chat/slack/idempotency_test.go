package slack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// slashWithTrigger runs "/idp text" as user with the given trigger_id and
// returns the acknowledgement.
func (h *harness) slashWithTrigger(user slackfake.User, trigger, text string) string {
	h.t.Helper()
	form := h.fake.SlashCommand(user, testChannel, text)
	form.Set("trigger_id", trigger)
	status, body := h.post("/slack/commands", form)
	if status != http.StatusOK {
		h.t.Fatalf("slash command: status %d: %s", status, body)
	}
	return string(body)
}

// TestSlashCreatesWithTheSameTriggerAreEachTheirOwn: two people whose slash
// commands carry the same trigger_id each get their own request, and a
// redelivery of one of them still answers with the request it made.
func TestSlashCreatesWithTheSameTriggerAreEachTheirOwn(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	const trigger = "1.2.same"
	if ack := h.slashWithTrigger(alice, trigger, "create postgresql-database name=alices-db team=payments"); !strings.Contains(ack, "Requested alices-db") {
		t.Fatalf("alice's answer = %s", ack)
	}
	ack := h.slashWithTrigger(carol, trigger, "create postgresql-database name=carols-db team=platform")
	if !strings.Contains(ack, "Requested carols-db") || strings.Contains(ack, "alices-db") {
		t.Fatalf("carol's answer = %s, want her own request", ack)
	}
	if ack := h.slashWithTrigger(alice, trigger, "create postgresql-database name=alices-db team=payments"); !strings.Contains(ack, "Requested alices-db") {
		t.Fatalf("answer to alice's redelivery = %s", ack)
	}
	rs := resources(t, f)
	if len(rs) != 2 {
		t.Fatalf("%d resources, want alice's and carol's", len(rs))
	}
	for _, r := range rs {
		if want := map[string]string{"alices-db": "slack:U0ALICE", "carols-db": "slack:U0CAROL"}[r.Name]; r.Requester.ID != want {
			t.Errorf("%s requested by %s, want %s", r.Name, r.Requester.ID, want)
		}
	}
}

// TestSlashCreateWithoutTriggerIsRefused: a slash command without a
// trigger_id cannot be told apart from another one; it is refused in the
// chat rather than answered with someone else's request.
func TestSlashCreateWithoutTriggerIsRefused(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for _, tc := range []struct {
		user slackfake.User
		text string
	}{
		{alice, "create postgresql-database name=alices-db team=payments"},
		{carol, "create postgresql-database name=carols-db team=platform"},
	} {
		ack := h.slashWithTrigger(tc.user, "", tc.text)
		if !strings.Contains(ack, "with no trigger id") || strings.Contains(ack, "Requested") {
			t.Errorf("%s's answer = %s, want a refusal", tc.user.Name, ack)
		}
	}
	if rs := resources(t, f); len(rs) != 0 {
		t.Errorf("%d resources from commands without a trigger id, want none", len(rs))
	}
}

// TestViewSubmissionsOfTheSameViewAreEachTheirOwn: submissions carrying the
// same view id from two people create two requests; one without a view
// id is refused on the form.
func TestViewSubmissionsOfTheSameViewAreEachTheirOwn(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.slash(alice, "create postgresql-database")
	v := h.lastView()
	if ack := h.submit(v, alice, map[string]string{"name": "alices-db", "team": "payments"}); ack["response_action"] != "clear" {
		t.Fatalf("alice's submission ack %v", ack)
	}
	if ack := h.submit(v, carol, map[string]string{"name": "carols-db", "team": "platform"}); ack["response_action"] != "clear" {
		t.Fatalf("carol's submission ack %v", ack)
	}
	rs := resources(t, f)
	if len(rs) != 2 {
		t.Fatalf("%d resources, want alice's and carol's", len(rs))
	}
	noID := v
	noID.ID = ""
	ack := h.submit(noID, carol, map[string]string{"name": "carols-other-db", "team": "platform"})
	errs, _ := json.Marshal(ack["errors"])
	if ack["response_action"] != "errors" || !strings.Contains(string(errs), "with no view id") {
		t.Errorf("submission without a view id: ack %v, want it refused", ack)
	}
	if rs := resources(t, f); len(rs) != 2 {
		t.Errorf("%d resources after a submission without a view id, want 2", len(rs))
	}
}

// TestButtonClickWithoutTriggerIsRefused: a button click without a
// trigger_id does not run the button's command; the clicker is told why.
func TestButtonClickWithoutTriggerIsRefused(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ordersDB(t, f)
	card := statusCard(t, h)
	payload, err := h.fake.Click(alice, card, false, "idp_run_1") // Delete
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	p["trigger_id"] = ""
	before := len(h.fake.Ephemeral())
	if status, body := h.interact(json.Marshal(p)); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("click ack %d %q, want an empty 200", status, body)
	}
	slackfake.Eventually(t, 5*time.Second, "the answer to the click", func() bool { return len(h.fake.Ephemeral()) > before })
	if got := h.fake.Ephemeral()[before]; got.Params["user"] != alice.ID || !strings.Contains(got.Params["text"], "with no action id") {
		t.Errorf("answer to the click = %+v, want alice told it was refused", got.Params)
	}
	if n := f.Driver.Count(platformtest.OpDeprovision); n != 0 {
		t.Errorf("a click without a trigger id deprovisioned %d times", n)
	}
	if r := f.Settle(1, time.Second); r.State != platform.Ready {
		t.Errorf("state = %s, want ready", r.State)
	}
}
