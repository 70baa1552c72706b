package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// buttons returns the buttons of rows, row by row.
func buttons(t *testing.T, rows []discordgo.MessageComponent) [][]discordgo.Button {
	t.Helper()
	var out [][]discordgo.Button
	for _, r := range rows {
		row, ok := r.(discordgo.ActionsRow)
		if !ok {
			t.Fatalf("component %T is not a row", r)
		}
		var bs []discordgo.Button
		for _, c := range row.Components {
			b, ok := c.(discordgo.Button)
			if !ok {
				t.Fatalf("component %T is not a button", c)
			}
			bs = append(bs, b)
		}
		out = append(out, bs)
	}
	return out
}

func TestActionButtons(t *testing.T) {
	t.Parallel()
	rows, notes, problems := actionRows([]commands.Action{
		{Label: "Approve", Command: "approve 12", Style: "primary"},
		{Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"},
		{Label: "", Command: " extend 12 7d "},
		{Label: "Approve again", Command: "approve 12"},
		{Label: strings.Repeat("L", 100), Command: "nps 12 7"},
	}, maxRows)
	want := [][]discordgo.Button{{
		{Label: "Approve", Style: discordgo.PrimaryButton, CustomID: "idp:run:approve 12"},
		{Label: "Reject", Style: discordgo.DangerButton, CustomID: "idp:ask:6:Reasonreject 12"},
		{Label: "extend 12 7d", Style: discordgo.SecondaryButton, CustomID: "idp:run:extend 12 7d"},
		{Label: strings.Repeat("L", 79) + "…", Style: discordgo.SecondaryButton, CustomID: "idp:run:nps 12 7"},
	}}
	if diff := cmp.Diff(want, buttons(t, rows)); diff != "" {
		t.Errorf("buttons mismatch (-want +got):\n%s", diff)
	}
	if notes != nil || problems != nil {
		t.Errorf("notes %q, problems %v; want none (a repeated command is one button)", notes, problems)
	}
	label, cmd, ok := parseAsk(strings.TrimPrefix(want[0][1].CustomID, idAsk))
	if !ok || label != "Reason" || cmd != "reject 12" {
		t.Errorf("parseAsk = %q, %q, %v; want Reason, reject 12", label, cmd, ok)
	}
}

func TestActionButtonsKeepDiscordLimits(t *testing.T) {
	t.Parallel()
	var many []commands.Action
	for i := range 27 {
		many = append(many, commands.Action{Label: fmt.Sprint(i), Command: fmt.Sprintf("nps 12 %d", i)})
	}
	rows, notes, problems := actionRows(many, maxRows)
	var sizes []int
	for _, r := range buttons(t, rows) {
		sizes = append(sizes, len(r))
	}
	if diff := cmp.Diff([]int{5, 5, 5, 5, 5}, sizes); diff != "" {
		t.Errorf("row sizes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"• 25: `/idp run text:nps 12 25`", "• 26: `/idp run text:nps 12 26`"}, notes); diff != "" {
		t.Errorf("notes for the buttons left out mismatch (-want +got):\n%s", diff)
	}
	if len(problems) != 2 {
		t.Errorf("problems = %v, want 2", problems)
	}

	// A confirmation takes a row: four are left.
	rows, _, _ = actionRows(many[:21], maxRows-1)
	if len(rows) != 4 {
		t.Errorf("%d rows under a confirmation, want 4", len(rows))
	}

	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		act  commands.Action
		note string
	}{
		{commands.Action{Label: "Too long", Command: "support " + long}, "• Too long: `/idp run text:support " + long + "`"},
		{commands.Action{Label: "Too long for a modal", Command: "reject " + long[:85], Input: "Why"}, "• Too long for a modal: `/idp run text:reject " + long[:85] + " <why>`"},
		{commands.Action{Label: "Two lines", Command: "reject 1\n--yes"}, "• Two lines: `/idp run text:reject 1 --yes`"},
		{commands.Action{Label: "Nothing"}, ""},
	} {
		rows, notes, problems := actionRows([]commands.Action{tc.act}, maxRows)
		if len(rows) != 0 || len(problems) != 1 {
			t.Errorf("actionRows(%q) = %d rows, problems %v; want no button and one problem", tc.act.Label, len(rows), problems)
		}
		var note string
		if len(notes) > 0 {
			note = notes[0]
		}
		if note != tc.note {
			t.Errorf("note for %q = %q, want %q", tc.act.Label, note, tc.note)
		}
	}
	// The longest commands that fit.
	fits := []commands.Action{
		{Label: "Run", Command: long[:100-len(idRun)]},
		{Label: "Ask", Command: long[:100-len(idAsk)-len("3:Why")], Input: "Why"},
	}
	if rows, _, problems := actionRows(fits, maxRows); len(problems) != 0 || len(buttons(t, rows)[0]) != 2 {
		t.Errorf("commands that just fit: problems %v", problems)
	}
}

func TestParseAskRejectsMalformedIDs(t *testing.T) {
	t.Parallel()
	for _, rest := range []string{"", "x:Reasonreject 1", "6:Reason", "6:Reason   ", "60:Reasonreject 1", "-1:reject 1", "0:reject 1", "6"} {
		if label, cmd, ok := parseAsk(rest); ok {
			t.Errorf("parseAsk(%q) = %q, %q, true; want false", rest, label, cmd)
		}
	}
}

func TestReplyWithActionsGolden(t *testing.T) {
	t.Parallel()
	rep := commands.Reply{
		Title: "Approval needed: orders-db #12",
		Sections: []commands.Section{{Heading: "postgresql-database for payments in production", Fields: []commands.KV{
			{Key: "Requested by", Value: "alice"}, {Key: "size", Value: "large"},
		}}},
		Confirm: &commands.Confirm{Prompt: "Delete orders-db #12?", Yes: "delete #12 --yes"},
		Actions: []commands.Action{
			{Label: "Approve", Command: "approve 12", Style: "primary"},
			{Label: "Reject", Command: "reject 12", Style: "danger", Input: "Reason"},
			{Label: "Details", Command: "status #12"},
			{Label: "Escalate", Command: "support " + strings.Repeat("very ", 30) + "long"},
		},
	}
	m := ReplyMessage(rep)
	golden(t, "reply_actions", m)
	checkMessage(t, m)
	if len(m.Components) != 2 || !strings.Contains(m.Content, "Escalate: `/idp run text:support very") {
		t.Errorf("message = %+v, want the confirmation row, a row of actions and the long one as text", m)
	}
	res, problems := resultMessage(commands.Reply{Resource: resource(platform.Deleting), Actions: rep.Actions[:1]}, "in <#1>")
	if len(res.Components) != 1 || problems != nil {
		t.Errorf("result message components = %v (problems %v), want the action's row", res.Components, problems)
	}
}

// statusCard posts a card whose buttons show, delete and look up a
// resource, and returns the message as the fake holds it.
func statusCard(t *testing.T, h *harness) discordtest.Message {
	t.Helper()
	ref, err := h.notifier.Post(context.Background(), testChannel, commands.Reply{Title: "orders-db #1 is ready", Actions: []commands.Action{
		{Label: "Status", Command: "status #1"},
		{Label: "Delete", Command: "delete #1 --yes", Style: "danger"},
		{Label: "Look up", Command: "status", Input: "Resource name"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := h.fake.Message(ref)
	if !ok {
		t.Fatalf("card %s not posted", ref)
	}
	return m
}

func TestButtonRunsItsCommandAsTheClicker(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, ordersDB()...)))
	f.Settle(1, 5*time.Second)
	card := statusCard(t, h)

	got := h.send(h.fake.ClickOn(alice, card, "idp:run:status #1"))
	ephemeralContent(t, got)
	if !strings.Contains(got.Data.text(), "orders-db #1: ready") {
		t.Errorf("alice's Status click = %q, want the status of orders-db", got.Data.text())
	}
	// mallory is in no team: the same button shows her nothing, and
	// deletes nothing.
	for _, id := range []string{"idp:run:status #1", "idp:run:delete #1 --yes"} {
		if got := ephemeralContent(t, h.send(h.fake.ClickOn(mallory, card, id))); !strings.Contains(got, `There is no resource "#1" that you can see`) {
			t.Errorf("mallory's click on %q = %q, want not found", id, got)
		}
	}
	if n := f.Driver.Count(platformtest.OpDeprovision); n != 0 {
		t.Fatalf("mallory's click deprovisioned %d times", n)
	}
	del := ephemeralContent(t, h.send(h.fake.ClickOn(alice, card, "idp:run:delete #1 --yes")))
	if !strings.Contains(del, "Deleting orders-db #1") {
		t.Errorf("alice's Delete click = %q, want the deletion started", del)
	}
	r := f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted })
	if r.State != platform.Deleted {
		t.Errorf("state = %s, want deleted", r.State)
	}
	evs, _ := f.Store.Events(context.Background(), 1)
	var by string
	for _, ev := range evs {
		if ev.To == platform.Deleting {
			by = ev.Actor.ID
		}
	}
	if by != "discord:"+alice.ID {
		t.Errorf("deletion recorded as %q, want the clicker", by)
	}
	// The card itself is left as it is; the answers were alice's alone.
	if m, _ := h.fake.Message(card.ID); m.Edits != 0 {
		t.Errorf("the card was edited %d times", m.Edits)
	}
}

func TestInputButtonAsksThenRunsWithTheText(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	ephemeralContent(t, h.send(h.fake.Command(alice, testChannel, ordersDB()...)))
	f.Settle(1, 5*time.Second)
	card := statusCard(t, h)

	modal := h.send(h.fake.ClickOn(alice, card, "idp:ask:13:Resource namestatus"))
	if modal.Type != discordgo.InteractionResponseModal {
		t.Fatalf("click on an Input action = %+v, want a modal", modal)
	}
	golden(t, "modal_action", modal.Data)
	if modal.Data.CustomID != "idp:with:status" {
		t.Fatalf("modal custom id = %q", modal.Data.CustomID)
	}
	submit := func(u discordtest.User, text string) string {
		t.Helper()
		resp := h.send(h.fake.SubmitModal(u, testChannel, modal.Data.CustomID, map[string]string{actionInput: text}))
		ephemeralContent(t, resp)
		return resp.Data.text()
	}
	if got := submit(alice, "orders-db"); !strings.Contains(got, "orders-db #1: ready") {
		t.Errorf("submitted orders-db: %q, want its status", got)
	}
	if got := submit(mallory, "orders-db"); !strings.Contains(got, `There is no resource "orders-db" that you can see`) {
		t.Errorf("mallory submitted orders-db: %q, want not found", got)
	}
	// The text is one argument, whatever it holds.
	if got := submit(alice, `orders-db #1 "x" 'y'`); !strings.Contains(got, `There is no resource "orders-db #1 \"x\" 'y'"`) {
		t.Errorf("submitted text with quotes: %q, want it looked up as one name", got)
	}
	for text, want := range map[string]string{"   ": "The text is required", strings.Repeat("é", maxActionInput+1): "The text is 501 characters; at most 500"} {
		if got := submit(alice, text); !strings.Contains(got, want) {
			t.Errorf("submitted %.10q…: %q, want %q", text, got, want)
		}
	}
	// A custom id that was not rendered by the bot is refused.
	if got := ephemeralContent(t, h.send(h.fake.Click(alice, testChannel, "idp:ask:99:Reasonreject 1"))); !strings.Contains(got, "no longer handled") {
		t.Errorf("malformed ask button = %q", got)
	}
}

func TestApprovalButtonsInTheThread(t *testing.T) {
	t.Parallel()
	extend := func(r *platform.Resource, ev platform.Event) []commands.Action {
		if ev.Kind == platform.EventNote && strings.HasPrefix(ev.Message, "expires") {
			return []commands.Action{{Label: "Extend 7 days", Command: fmt.Sprintf("extend %d 7d", r.ID), Style: "primary"}}
		}
		// The same buttons offered twice make one button each.
		return append(commands.EventActions(r, ev), commands.EventActions(r, ev)...)
	}
	h, f, n := deliveringHarness(t, harnessConfig{actions: extend})
	in := h.fake.Command(alice, testChannel, create("postgresql-database", discordtest.String("name", "orders-db"), discordtest.String("team", "payments"),
		discordtest.String("environment", "production"), discordtest.Boolean("high_availability", true))...)
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "recorded") {
		t.Fatalf("answer = %q", got)
	}
	r := f.Settle(1, 5*time.Second)
	f.Flush(5 * time.Second)
	if r.State != platform.AwaitingApproval {
		t.Fatalf("state = %s, want awaiting_approval", r.State)
	}
	if err := h.notifier.Notify(context.Background(), r, platform.Event{ID: 99, Kind: platform.EventNote, Message: "expires in 2 days"}); err != nil {
		t.Fatal(err)
	}
	root := h.fake.Messages(testChannel)[0]
	ms := h.fake.Messages(root.ID)
	if len(ms) != 2 {
		t.Fatalf("thread = %q, want the request and the expiry note", contents(ms))
	}
	var ids [][]string
	for _, m := range ms {
		var rows []struct {
			Components []struct {
				CustomID string `json:"custom_id"`
				Label    string `json:"label"`
			} `json:"components"`
		}
		_ = json.Unmarshal(m.Components, &rows)
		var got []string
		for _, row := range rows {
			for _, c := range row.Components {
				got = append(got, c.Label+"="+c.CustomID)
			}
		}
		ids = append(ids, got)
	}
	want := [][]string{{"Approve=idp:run:approve 1", "Reject=idp:ask:6:Reasonreject 1"}, {"Extend 7 days=idp:run:extend 1 7d"}}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("thread buttons mismatch (-want +got):\n%s", diff)
	}
	// Reject asks for the reason.
	modal := h.send(h.fake.ClickOn(bob, ms[0], "idp:ask:6:Reasonreject 1"))
	if modal.Type != discordgo.InteractionResponseModal || modal.Data.CustomID != "idp:with:reject 1" || modal.Data.Title != "/idp reject 1" {
		t.Errorf("Reject click = %+v, want the reason's modal", modal.Data)
	}
	if n.errs != nil {
		t.Errorf("delivery errors: %v", n.errs)
	}
}
