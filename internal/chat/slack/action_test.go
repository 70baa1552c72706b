package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// button is a rendered button, as Slack receives it.
type button struct {
	Block    string
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
	Style    string `json:"style"`
	Text     struct {
		Text string `json:"text"`
	} `json:"text"`
}

// buttonsOf returns the buttons of the actions blocks in blocks (JSON),
// block by block.
func buttonsOf(t testing.TB, blocks json.RawMessage) [][]button {
	t.Helper()
	var bs []struct {
		Type     string          `json:"type"`
		BlockID  string          `json:"block_id"`
		Elements json.RawMessage `json:"elements"`
	}
	if len(blocks) > 0 {
		if err := json.Unmarshal(blocks, &bs); err != nil {
			t.Fatalf("blocks %s: %v", blocks, err)
		}
	}
	var out [][]button
	for _, b := range bs {
		if b.Type != "actions" || b.BlockID == "confirm" {
			continue
		}
		var els []button
		if err := json.Unmarshal(b.Elements, &els); err != nil {
			t.Fatalf("elements %s: %v", b.Elements, err)
		}
		for i := range els {
			els[i].Block = b.BlockID
		}
		out = append(out, els)
	}
	return out
}

// labels renders buttons as "label=action_id:value".
func labels(bs [][]button) []string {
	var out []string
	for _, row := range bs {
		for _, b := range row {
			s := b.Text.Text + "=" + b.ActionID + ":" + b.Value
			if b.Style != "" {
				s += " (" + b.Style + ")"
			}
			out = append(out, s)
		}
	}
	return out
}

func renderedButtons(t testing.TB, blocks []slackapi.Block) [][]button {
	t.Helper()
	data, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return buttonsOf(t, data)
}

func TestActionBlocks(t *testing.T) {
	t.Parallel()
	blocks, notes, problems := actionBlocks([]commands.Action{
		{Label: "Approve", Command: "approve 12", Style: "primary"},
		{Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"},
		{Label: "", Command: " extend 12 7d "},
		{Label: "Approve again", Command: "approve 12"},
		{Label: strings.Repeat("L", 100), Command: "status #12", Style: "bold"},
	}, maxActionBlocks)
	want := []string{
		"Approve=idp_run_0:approve 12 (primary)",
		`Reject=idp_ask_1:{"command":"reject 12","input":"Reason","label":"Reject"} (danger)`,
		"extend 12 7d=idp_run_2:extend 12 7d",
		strings.Repeat("L", 74) + "…=idp_run_3:status #12",
	}
	if diff := cmp.Diff(want, labels(renderedButtons(t, blocks))); diff != "" {
		t.Errorf("buttons mismatch (-want +got):\n%s", diff)
	}
	if notes != nil || problems != nil {
		t.Errorf("notes %q, problems %v; want none (a repeated command is one button)", notes, problems)
	}

	// NPS: eleven buttons fit in one actions block.
	var nps []commands.Action
	for i := range 11 {
		nps = append(nps, commands.Action{Label: fmt.Sprint(i), Command: fmt.Sprintf("nps %d", i)})
	}
	blocks, _, _ = actionBlocks(nps, maxActionBlocks)
	if bs := renderedButtons(t, blocks); len(bs) != 1 || len(bs[0]) != 11 || bs[0][10].Value != "nps 10" {
		t.Errorf("NPS buttons = %v, want one block of 11", labels(bs))
	}

	// More than a block holds: several blocks, then commands to type.
	var many []commands.Action
	for i := range maxActionBlocks*maxActionsElements + 2 {
		many = append(many, commands.Action{Label: fmt.Sprint(i), Command: fmt.Sprintf("nps %d", i)})
	}
	blocks, notes, problems = actionBlocks(many, maxActionBlocks)
	var sizes []int
	ids := map[string]bool{}
	for _, b := range renderedButtons(t, blocks) {
		sizes = append(sizes, len(b))
		for _, e := range b {
			ids[e.ActionID] = true
		}
	}
	if diff := cmp.Diff([]int{25, 25, 25, 25}, sizes); diff != "" {
		t.Errorf("block sizes mismatch (-want +got):\n%s", diff)
	}
	if len(ids) != 100 {
		t.Errorf("%d distinct action_ids for 100 buttons", len(ids))
	}
	if diff := cmp.Diff([]string{"• 100: `/idp nps 100`", "• 101: `/idp nps 101`"}, notes); diff != "" || len(problems) != 2 {
		t.Errorf("notes mismatch (-want +got):\n%s\nproblems %v", diff, problems)
	}
	data, _ := json.Marshal(blocks)
	if p := slackfake.CheckBlocks(data, slackfake.SurfaceMessage); len(p) > 0 {
		t.Errorf("Slack would reject the blocks: %q", p)
	}

	long := strings.Repeat("x", maxButtonValue)
	for _, tc := range []struct {
		act  commands.Action
		note string
	}{
		{commands.Action{Label: "Too long", Command: "support " + long}, "• Too long: `/idp support " + strings.Repeat("x", 291) + "…`"},
		{commands.Action{Label: "Too long to ask", Command: "reject " + long[:1960], Input: "Why"}, "• Too long to ask: `/idp reject " + strings.Repeat("x", 292) + "…`"},
		{commands.Action{Label: "Two lines", Command: "reject 1\n--yes"}, "• Two lines: `/idp reject 1 --yes`"},
		{commands.Action{Label: "<b>", Command: "status `x`"}, ""},
		{commands.Action{Label: "Nothing"}, ""},
	} {
		blocks, notes, problems := actionBlocks([]commands.Action{tc.act}, maxActionBlocks)
		if tc.act.Label == "<b>" {
			// Backticks are fine in a value; the label is plain text.
			if bs := renderedButtons(t, blocks); len(bs) != 1 || bs[0][0].Text.Text != "<b>" {
				t.Errorf("button %q = %v", tc.act.Label, labels(bs))
			}
			continue
		}
		if len(blocks) != 0 || len(problems) != 1 {
			t.Errorf("actionBlocks(%q) = %d blocks, problems %v; want no button and one problem", tc.act.Label, len(blocks), problems)
		}
		var note string
		if len(notes) > 0 {
			note = notes[0]
		}
		if note != tc.note {
			t.Errorf("note for %q = %q, want %q", tc.act.Label, note, tc.note)
		}
	}
}

func TestActionModalGolden(t *testing.T) {
	t.Parallel()
	v, err := actionModal(askValue{Command: "reject 12", Input: "Reason", Label: "Reject"},
		actionMeta{Command: "reject 12", Channel: "C0APPROVALS", Thread: "1700000000.000001", ResponseURL: "https://hooks.slack.com/actions/T0/1/x"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "modal_action", v)
	data, _ := json.Marshal(v)
	if p := slackfake.CheckView(data); len(p) > 0 {
		t.Errorf("Slack would reject the modal: %q", p)
	}
	// Metadata that would not fit drops the response_url (the channel
	// answers), and a command that still does not fit is an error.
	long := strings.Repeat("x", 2000)
	v, err = actionModal(askValue{Command: "support " + long, Input: "Why"}, actionMeta{Command: "support " + long, Channel: "C0", ResponseURL: "https://hooks.slack.com/" + long})
	if err != nil || strings.Contains(v.PrivateMetadata, "hooks") || v.Title.Text != "Run /idp support" {
		t.Errorf("actionModal with a long response_url = %v, title %q; want it without the response_url", err, v.Title.Text)
	}
	if _, err := actionModal(askValue{Command: "x", Input: "Why"}, actionMeta{Command: strings.Repeat("x", 3000)}); err == nil {
		t.Error("actionModal with 3000 characters of command succeeded, want an error")
	}
}

// approvalCard is a card as the approval job posts it.
func approvalCard() commands.Reply {
	return commands.Reply{
		Title: "Approval needed: orders-db #12",
		Sections: []commands.Section{{Heading: "postgresql-database for payments in production", Fields: []commands.KV{
			{Key: "Requested by", Value: "alice"}, {Key: "Parameters", Value: "size=large high_availability=true"},
		}}},
		Actions: []commands.Action{
			{Label: "Approve", Command: "approve 12", Style: "primary"},
			{Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"},
		},
	}
}

func TestReplyWithActionsGolden(t *testing.T) {
	t.Parallel()
	rep := approvalCard()
	rep.Confirm = &commands.Confirm{Prompt: "Delete orders-db #12?", Yes: "delete #12 --yes"}
	rep.Actions = append(rep.Actions,
		commands.Action{Label: "Details", Command: "status #12"},
		commands.Action{Label: "Escalate", Command: "support " + strings.Repeat("very ", 400) + "long"})
	m := ReplyMessage(rep)
	golden(t, "reply_actions", m)
	if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 {
		t.Errorf("Slack would reject the reply: %q", p)
	}
	if got := labels(renderedButtons(t, m.Blocks)); len(got) != 3 || !contains(m, "Escalate: `/idp support very") {
		t.Errorf("buttons %q, want three and the long one as text", got)
	}
	// The buttons survive a reply cut to the message limit.
	big := rep
	for i := range 80 {
		big.Sections = append(big.Sections, commands.Section{Heading: fmt.Sprint("Section ", i), Text: "text"})
	}
	m = ReplyMessage(big)
	if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 || len(m.Blocks) != maxMessageBlocks {
		t.Errorf("%d blocks; Slack would reject them: %q", len(m.Blocks), p)
	}
	if got := labels(renderedButtons(t, m.Blocks)); len(got) != 3 {
		t.Errorf("buttons of a cut reply = %q, want all three", got)
	}
}

// ordersDB submits orders-db for alice and waits for it to be ready.
func ordersDB(t testing.TB, f *platformtest.Fixture) *platform.Resource {
	t.Helper()
	r, _, err := f.Engine.Submit(context.Background(), aliceActor(), platform.Request{Service: "postgresql-database", Name: "orders-db",
		Team: "payments", Environment: "development", Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
	if err != nil {
		t.Fatal(err)
	}
	if r = f.Settle(r.ID, 5*time.Second); r.State != platform.Ready {
		t.Fatalf("orders-db is %s, want ready", r.State)
	}
	return r
}

// statusCard posts a card whose buttons show, delete and look up a
// resource, and returns the message as the fake holds it.
func statusCard(t testing.TB, h *harness) slackfake.Message {
	t.Helper()
	ts, err := h.notifier.Post(context.Background(), testChannel, commands.Reply{Title: "orders-db #1 is ready", Actions: []commands.Action{
		{Label: "Status", Command: "status #1"},
		{Label: "Delete", Command: "delete #1 --yes", Style: "danger"},
		{Label: "Look up", Command: "status", Input: "Resource name"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.fake.Messages(testChannel) {
		if m.TS == ts {
			return m
		}
	}
	t.Fatalf("card %s not posted", ts)
	return slackfake.Message{}
}

// click clicks button actionID of m as user and waits for the answer shown
// to user alone: the chat.postEphemeral call (or, with ephemeral, the
// response_url post) it caused.
func (h *harness) click(user slackfake.User, m slackfake.Message, ephemeral bool, actionID string) slackfake.Call {
	h.t.Helper()
	before, responses := len(h.fake.Ephemeral()), len(h.fake.Responses())
	status, body := h.interact(h.fake.Click(user, m, ephemeral, actionID))
	if status != http.StatusOK || len(body) != 0 {
		h.t.Fatalf("click ack %d %q, want an empty 200", status, body)
	}
	slackfake.Eventually(h.t, 5*time.Second, "the answer to the click", func() bool {
		return len(h.fake.Ephemeral()) > before || len(h.fake.Responses()) > responses
	})
	if rs := h.fake.Responses(); len(rs) > responses {
		r := rs[len(rs)-1]
		return slackfake.Call{Method: "response_url", Params: map[string]string{"text": r.Text, "blocks": string(r.Blocks),
			"response_type": r.ResponseType, "replace_original": fmt.Sprint(r.ReplaceOriginal)}}
	}
	return h.fake.Ephemeral()[before]
}

func TestButtonRunsItsCommandAsTheClicker(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ordersDB(t, f)
	card := statusCard(t, h)

	got := h.click(alice, card, false, "idp_run_0")
	if got.Method != "chat.postEphemeral" || got.Params["user"] != alice.ID || got.Params["channel"] != testChannel ||
		got.Params["thread_ts"] != "" || !strings.Contains(got.Params["text"], "orders-db #1: ready") {
		t.Errorf("alice's Status click answered %+v, want her alone the status of orders-db", got)
	}
	// mallory is in no team: the same buttons show her nothing, and delete
	// nothing.
	for _, id := range []string{"idp_run_0", "idp_run_1"} {
		if got := h.click(mallory, card, false, id); got.Params["user"] != mallory.ID || !strings.Contains(got.Params["text"], `There is no resource "#1" that you can see`) {
			t.Errorf("mallory's click on %s = %+v, want not found", id, got.Params)
		}
	}
	if n := f.Driver.Count(platformtest.OpDeprovision); n != 0 {
		t.Fatalf("mallory's click deprovisioned %d times", n)
	}
	if got := h.click(alice, card, false, "idp_run_1"); !strings.Contains(got.Params["text"], "Deleting orders-db #1") {
		t.Errorf("alice's Delete click = %q, want the deletion started", got.Params["text"])
	}
	if r := f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted }); r.State != platform.Deleted {
		t.Errorf("state = %s, want deleted", r.State)
	}
	evs, _ := f.Store.Events(context.Background(), 1)
	var by string
	for _, ev := range evs {
		if ev.To == platform.Deleting {
			by = ev.Actor.ID
		}
	}
	if by != "slack:"+alice.ID {
		t.Errorf("deletion recorded as %q, want the clicker", by)
	}
	// The card itself is left as it is; the answers were the clickers'.
	if ms := h.fake.Messages(testChannel); len(ms) != 1 || ms[0].Updates != 0 || len(h.fake.Responses()) != 0 {
		t.Errorf("channel messages %+v, responses %d: want the card alone, unchanged", ms, len(h.fake.Responses()))
	}
	// A button on an ephemeral answer is answered through its response_url.
	eph := ReplyMessage(commands.Reply{Title: "orders-db", Actions: []commands.Action{{Label: "Status", Command: "status orders-db"}}})
	data, _ := json.Marshal(eph.Blocks)
	got = h.click(alice, slackfake.Message{Channel: testChannel, Text: eph.Text, Blocks: data}, true, "idp_run_0")
	if got.Method != "response_url" || got.Params["response_type"] != "ephemeral" || got.Params["replace_original"] != "false" ||
		!strings.Contains(got.Params["text"], "orders-db #1: deleted") {
		t.Errorf("click on an ephemeral message answered %+v, want a new ephemeral message with the status", got)
	}
	// Where Slack refuses an ephemeral message (the bot left the channel),
	// the answer goes through the click's response_url.
	h.fake.DenyChannel(testChannel, "not_in_channel")
	got = h.click(alice, card, false, "idp_run_0")
	if got.Method != "response_url" || got.Params["response_type"] != "ephemeral" || !strings.Contains(got.Params["text"], "orders-db #1: deleted") {
		t.Errorf("click where ephemeral messages fail answered %+v, want the response_url", got)
	}
}

func TestInputButtonAsksThenRunsWithTheText(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ordersDB(t, f)
	card := statusCard(t, h)

	if status, body := h.interact(h.fake.Click(alice, card, false, "idp_ask_2")); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("click ack %d %q", status, body)
	}
	modal := h.lastView()
	var md actionMeta
	var view struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
	}
	if err := json.Unmarshal(modal.JSON, &view); err != nil || json.Unmarshal([]byte(view.PrivateMetadata), &md) != nil {
		t.Fatalf("opened view %s: %v", modal.JSON, err)
	}
	if view.CallbackID != CallbackAction || md.Command != "status" || md.Channel != testChannel || md.Thread != "" || md.ResponseURL == "" {
		t.Fatalf("opened view %s with metadata %+v, want the action's modal for status in %s", view.CallbackID, md, testChannel)
	}
	submit := func(u slackfake.User, text string) (map[string]any, slackfake.Call) {
		t.Helper()
		before := len(h.fake.Ephemeral())
		ack := h.submit(modal, u, map[string]string{actionInput: text})
		if ack["response_action"] != "clear" {
			return ack, slackfake.Call{}
		}
		slackfake.Eventually(t, 5*time.Second, "the result of the submission", func() bool { return len(h.fake.Ephemeral()) > before })
		return ack, h.fake.Ephemeral()[before]
	}
	if _, got := submit(alice, "orders-db"); got.Params["user"] != alice.ID || !strings.Contains(got.Params["text"], "orders-db #1: ready") {
		t.Errorf("submitted orders-db: %+v, want its status for alice alone", got.Params)
	}
	// A refusal shows on the input, and the modal stays open.
	errs := func(ack map[string]any) string {
		m, _ := ack["errors"].(map[string]any)
		s, _ := m[actionInput].(string)
		return s
	}
	if ack, _ := submit(mallory, "orders-db"); !strings.Contains(errs(ack), `There is no resource "orders-db" that you can see`) {
		t.Errorf("mallory submitted orders-db: %v, want not found on the input", ack)
	}
	// The text is one argument, whatever it holds.
	if ack, _ := submit(alice, `orders-db #1 "x" 'y'`); !strings.Contains(errs(ack), `There is no resource "orders-db #1 \"x\" 'y'"`) {
		t.Errorf("submitted text with quotes: %v, want it looked up as one name", ack)
	}
	for text, want := range map[string]string{"   ": "The text is required", strings.Repeat("é", maxActionInput+1): "The text is 501 characters; at most 500"} {
		if ack, _ := submit(alice, text); !strings.Contains(errs(ack), want) {
			t.Errorf("submitted %.10q…: %v, want %q", text, ack, want)
		}
	}
	// A button value the bot did not render is refused.
	bad := card
	bad.Blocks = json.RawMessage(`[{"type":"actions","block_id":"actions","elements":[{"type":"button","action_id":"idp_ask_0","value":"{not json","text":{"type":"plain_text","text":"x"}}]}]`)
	if got := h.click(alice, bad, false, "idp_ask_0"); !strings.Contains(got.Params["text"], "no longer handled") {
		t.Errorf("malformed ask button = %+v", got.Params)
	}
}

// A submission that outlives the acknowledgement budget closes the modal at
// once; its result follows, to the person alone where they clicked.
func TestSlowInputActionClosesTheModalFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user slackfake.User
		// ephemeral: the button is on an ephemeral message, which only
		// the click's response_url reaches.
		ephemeral bool
		want      string
	}{
		// carol (platform) cannot see orders-db: the refusal comes after
		// the modal closed, not on its input.
		{name: "refusal by chat.postEphemeral", user: carol, want: `There is no resource "orders-db"`},
		{name: "result through response_url", user: alice, ephemeral: true, want: "orders-db #1: ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fixture(t)
			h := newHarness(t, harnessConfig{engine: f.Engine, ackBudget: 20 * time.Millisecond})
			ordersDB(t, f)
			card := statusCard(t, h)
			h.interact(h.fake.Click(tc.user, card, tc.ephemeral, "idp_ask_2"))
			modal := h.lastView()
			// The user's lookup is slow: the command outlives the budget.
			h.fake.Delay("users.info", 300*time.Millisecond)
			start := time.Now()
			if ack := h.submit(modal, tc.user, map[string]string{actionInput: "orders-db"}); ack["response_action"] != "clear" {
				t.Fatalf("slow submission ack %v, want clear", ack)
			}
			if took := time.Since(start); took > 250*time.Millisecond {
				t.Errorf("the acknowledgement took %v", took)
			}
			answers := func() int { return len(h.fake.Ephemeral()) + len(h.fake.Responses()) }
			if n := answers(); n != 0 {
				t.Fatalf("%d answers before the command finished, want none", n)
			}
			slackfake.Eventually(t, 5*time.Second, "the result", func() bool { return answers() == 1 })
			if tc.ephemeral {
				r := h.fake.Responses()
				if len(r) != 1 || r[0].ResponseType != "ephemeral" || r[0].ReplaceOriginal || r[0].DeleteOriginal || !strings.Contains(r[0].Text, tc.want) {
					t.Errorf("responses %+v, want one with %q for %s alone, beside the message", r, tc.want, tc.user.ID)
				}
				return
			}
			if got := h.fake.Ephemeral(); len(got) != 1 || got[0].Params["user"] != tc.user.ID || !strings.Contains(got[0].Params["text"], tc.want) {
				t.Errorf("ephemeral messages %+v, want one with %q for %s", got, tc.want, tc.user.ID)
			}
		})
	}
}

func TestApprovalButtonsInTheThread(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, actions: commands.EventActions})
	f.Deliver(Platform, h.notifier)
	r, _, err := f.Engine.Submit(context.Background(), aliceActor(), platform.Request{Service: "postgresql-database", Name: "orders-db",
		Team: "payments", Environment: "production", Parameters: map[string]any{"high_availability": true},
		Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
	if err != nil {
		t.Fatal(err)
	}
	if r = f.Settle(r.ID, 5*time.Second); r.State != platform.AwaitingApproval {
		t.Fatalf("state = %s, want awaiting_approval", r.State)
	}
	f.Flush(5 * time.Second)
	if err := h.notifier.Notify(context.Background(), r, platform.Event{ID: 99, ResourceID: r.ID, Kind: platform.EventExpiring, Message: "expires in 2 days"}); err != nil {
		t.Fatal(err)
	}
	root := h.fake.Messages(testChannel)[0]
	replies := h.fake.Replies(testChannel, root.TS)
	var got [][]string
	var waiting slackfake.Message
	for _, m := range replies {
		if bs := labels(buttonsOf(t, m.Blocks)); bs != nil {
			got = append(got, bs)
			if waiting.TS == "" {
				waiting = m
			}
		}
		if p := slackfake.CheckBlocks(m.Blocks, slackfake.SurfaceMessage); len(m.Blocks) > 0 && len(p) > 0 {
			t.Errorf("Slack would reject reply %q: %q", m.Text, p)
		}
	}
	want := [][]string{
		{"Approve=idp_run_0:approve 1 (primary)", `Reject=idp_ask_1:{"command":"reject 1","input":"Reason","label":"Reject"} (danger)`},
		{"Extend 7d=idp_run_0:extend 1 7d (primary)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("thread buttons mismatch (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(waiting.Text, ":raised_hand: *Awaiting approval*") {
		t.Errorf("the buttons are on %q, want the awaiting approval reply", waiting.Text)
	}

	// alice is no approver: she alone is told, in the thread.
	got1 := h.click(alice, waiting, false, "idp_run_0")
	if got1.Params["thread_ts"] != root.TS || got1.Params["user"] != alice.ID ||
		!strings.Contains(got1.Params["text"], "Only approvers and platform admins can approve") {
		t.Errorf("alice's Approve click = %+v, want a refusal in the thread for her alone", got1.Params)
	}
	// Reject asks the admin for the reason, then rejects with it.
	h.interact(h.fake.Click(admin, waiting, false, "idp_ask_1"))
	modal := h.lastView()
	var reason struct {
		CallbackID string `json:"callback_id"`
		Blocks     []struct {
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(modal.JSON, &reason); err != nil || reason.CallbackID != CallbackAction ||
		reason.Blocks[0].Text.Text != "This runs `/idp reject 1 &lt;reason&gt;` as you." {
		t.Fatalf("Reject click opened %s", modal.JSON)
	}
	if ack := h.submit(modal, admin, map[string]string{actionInput: "too large for a trial; use medium"}); ack["response_action"] != "clear" {
		t.Fatalf("reject submission: %v", ack)
	}
	if r := f.Settle(r.ID, 5*time.Second); r.State != platform.Rejected || r.Reason != "rejected by admin: too large for a trial; use medium" {
		t.Errorf("after the rejection: %s %q", r.State, r.Reason)
	}
	slackfake.Eventually(t, 5*time.Second, "the admin's answer", func() bool {
		for _, c := range h.fake.Ephemeral() {
			if c.Params["user"] == admin.ID && c.Params["thread_ts"] == root.TS && strings.Contains(c.Params["text"], "Rejected orders-db #1") {
				return true
			}
		}
		return false
	})
	evs, _ := f.Store.Events(context.Background(), r.ID)
	if last := evs[len(evs)-1]; last.To != platform.Rejected || last.Actor.ID != "slack:"+admin.ID {
		t.Errorf("last event %+v, want the admin's rejection", last)
	}
}
