package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform"
)

// seedTeam records n ready resources of team with names as long as
// allowed (63 characters), requested by actor, oldest first.
func seedTeam(t *testing.T, s platform.Store, n int, team string, actor platform.Actor) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("%s-%03d", strings.Repeat("n", 59), i)
		r := &platform.Resource{Service: "postgresql-database", ServiceType: "database", Name: name, Team: team, Environment: "staging",
			State: platform.Ready, Requester: actor, SelfService: true}
		if err := s.CreateResource(context.Background(), r, platform.Event{Kind: platform.EventTransition, To: platform.Ready, Actor: actor}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// buttonValues returns the value of each button of blocks by label.
func buttonValues(t *testing.T, blocks json.RawMessage) map[string]string {
	t.Helper()
	var bs []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
			Text     struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range bs {
		for _, e := range b.Elements {
			if b.Type == "actions" {
				out[e.Text.Text] = e.ActionID + " " + e.Value
			}
		}
	}
	return out
}

var rowRef = regexp.MustCompile(`(?m)^(#\d+) +n{59}`)

// TestListPagesWithButtons pages a team of 45 long-named resources in
// Slack: each page is a message Slack accepts, and its Next and Previous
// buttons, clicked, show the next and previous pages.
func TestListPagesWithButtons(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	seedTeam(t, f.Store, 45, "payments", platform.Actor{ID: "slack:" + alice.ID, Name: alice.Name})

	status, body := h.slash(alice, "list --team payments")
	ack := decode(t, body)
	blocks := mustJSON(t, ack["blocks"])
	if p := slackfake.CheckBlocks(blocks, slackfake.SurfaceMessage); status != 200 || len(p) > 0 {
		t.Fatalf("first page: status %d, Slack would reject it: %q", status, p)
	}
	text := strings.ReplaceAll(string(blocks), "\u00a0", " ")
	if refs := rowRef.FindAllStringSubmatch(strings.ReplaceAll(text, `\n`, "\n"), -1); len(refs) != 20 || refs[0][1] != "#45" || refs[19][1] != "#26" {
		t.Fatalf("first page rows %v, want #45 to #26", refs)
	}
	if !strings.Contains(text, "Page 1 · rows 1–20 of 45") {
		t.Errorf("first page lacks where it is: %s", text)
	}
	buttons := buttonValues(t, blocks)
	if buttons["Next"] != "idp_run_0 list --team payments --after #26" || buttons["Previous"] != "" {
		t.Fatalf("first page buttons %v, want Next alone", buttons)
	}
	page := slackfake.Message{Channel: testChannel, Text: fmt.Sprint(ack["text"]), Blocks: blocks}
	got := h.click(alice, page, true, "idp_run_0")
	second := json.RawMessage(got.Params["blocks"])
	if p := slackfake.CheckBlocks(second, slackfake.SurfaceMessage); len(p) > 0 {
		t.Fatalf("second page: Slack would reject it: %q", p)
	}
	text = strings.ReplaceAll(string(second), "\u00a0", " ")
	if refs := rowRef.FindAllStringSubmatch(strings.ReplaceAll(text, `\n`, "\n"), -1); len(refs) != 20 || refs[0][1] != "#25" || !strings.Contains(text, "Page 2 · rows 21–40 of 45") {
		t.Fatalf("Next showed rows %v:\n%s", refs, text)
	}
	buttons = buttonValues(t, second)
	if buttons["Previous"] != "idp_run_0 list --team payments --before #25" || buttons["Next"] != "idp_run_1 list --team payments --after #6" {
		t.Fatalf("second page buttons %v", buttons)
	}
	got = h.click(alice, slackfake.Message{Channel: testChannel, Text: got.Params["text"], Blocks: second}, true, "idp_run_0")
	if back := strings.ReplaceAll(got.Params["blocks"], "\u00a0", " "); !strings.Contains(back, "Page 1 · rows 1–20 of 45") || !strings.Contains(back, "#45") {
		t.Errorf("Previous did not show the first page again: %s", back)
	}
}
