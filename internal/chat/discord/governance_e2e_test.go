package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/jobs/jobstest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// End-to-end tests of governance on Discord, wired as cmd/bot wires the
// server: signed interactions into the adapter's HTTP handler, a fake
// Discord recording what people see, a real PostgreSQL store and engine,
// and the River runner delivering threads and posting approval cards
// (jobs.Governance in the store's OnEvent hook, Governance.Register
// with the adapter as the "discord" Poster). Time is a clock the tests
// move; the governance sweep is Engine.Sweep, as the leader's periodic job
// runs it.

const (
	// approvalsChannel is channels.approvals.discord of the configuration.
	approvalsChannel = "1100000000000000102"
	// approverRole is the Discord role of the approvers; bob has it.
	approverRole = "1100000000000000299"
)

// carol is in payments by user id, and no approver.
var carol = discordtest.User{ID: "1100000000000000304", Username: "carol"}

// govDeadlines are the configured approval and expiry timings: not the
// defaults, so that the tests show the configuration applies.
var govDeadlines = platform.Deadlines{RemindAfter: 2 * time.Hour, ExpireAfter: 8 * time.Hour, WarnBefore: 24 * time.Hour}

// devTTL is the lifetime of development resources.
const devTTL = 7 * 24 * time.Hour

// govOrg is the test organisation with roles: production needs one
// approval; bob approves through his Discord role; alice, who makes the
// requests, is an approver too (so her own requests test self-approval);
// carol is in her team but no approver; development resources live a
// week.
func govOrg() *platform.Org {
	org := testOrg()
	org.Teams[0].Members = append(org.Teams[0].Members, "discord:"+carol.ID)
	org.Environments = []platform.Environment{{Name: "development", TTL: devTTL}, {Name: "staging"}, {Name: "production", Approvals: 1}}
	org.Approvers = []string{"discord-role:" + approverRole, "discord:" + alice.ID}
	return org
}

// govHarness is the Discord adapter in front of a real store, engine and
// job runner with governance, on a clock the test moves.
type govHarness struct {
	*dbHarness
	clock *platformtest.Clock
}

func newGovHarness(t *testing.T) *govHarness {
	t.Helper()
	pool := postgrestest.Pool(t)
	clock := platformtest.NewClock(platformtest.Start, 0)
	cat := realCatalog(t)
	enq := jobstest.Enqueuer(t, pool, jobs.EnqueuerConfig{Org: govOrg(), Catalog: cat, ApprovalChannels: map[string]string{Platform: approvalsChannel}})
	store := postgres.NewStore(pool, postgres.StoreOptions{Now: clock.Now, OnEvent: enq.OnEvent})
	sealer := platformtest.Sealer(t)
	driver := platformtest.NewDriver()
	driver.AttemptTimeout = 10 * time.Second
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: cat, Org: govOrg(), Sealer: sealer,
		Drivers:   map[string]platform.Driver{"postgres": driver},
		Policies:  []platform.Policy{productionHA{}},
		Now:       clock.Now,
		Deadlines: govDeadlines,
	})
	h := newHarness(t, harnessConfig{engine: engine, threads: store, requests: requestsChannel, now: clock.Now})
	h.fake.AddChannel(approvalsChannel)
	// Runs after the runner stopped: nothing the bot did was an error.
	t.Cleanup(func() {
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") {
				t.Errorf("error logged: %s", l)
			}
		}
	})
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	runner, err := jobs.New(jobs.Config{
		Pool: pool, Engine: engine, Store: store, Logger: log,
		Notifiers: map[string]jobs.Notifier{Platform: h.notifier},
		Register: func(w *river.Workers) {
			jobs.AddGovernanceWorkers(w, engine, store, map[string]commands.Poster{Platform: h.notifier}, log)
		},
		Schema:            postgrestest.Schema(pool),
		DefaultTimeout:    10 * time.Second,
		RescueAfter:       time.Minute,
		RetryPolicy:       fixedRetry(20 * time.Millisecond),
		FetchPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("jobs Run = %v", err)
		}
	})
	return &govHarness{dbHarness: &dbHarness{harness: h, pool: pool, store: store, driver: driver}, clock: clock}
}

// answer sends interaction in and returns the ephemeral answer as the
// person reads it, waiting for it when the adapter deferred it.
func (h *govHarness) answer(in discordtest.Interaction) string {
	h.t.Helper()
	resp := h.send(in)
	if resp.Data == nil || resp.Data.Flags&discordgo.MessageFlagsEphemeral == 0 {
		h.t.Fatalf("answer to interaction %s = %+v, want an ephemeral message", in.ID, resp)
	}
	switch resp.Type {
	case discordgo.InteractionResponseChannelMessageWithSource:
		return resp.Data.text()
	case discordgo.InteractionResponseDeferredChannelMessageWithSource:
		var orig *discordtest.Message
		h.fake.WaitFor(10*time.Second, "the deferred answer to interaction "+in.ID, func() bool {
			a, _ := h.fake.Answer(in.ID)
			orig = a.Original
			return orig != nil
		})
		return messageText(*orig)
	}
	h.t.Fatalf("answer to interaction %s has type %d, want a message", in.ID, resp.Type)
	return ""
}

// messageText is everything a message shows, as a person reads it.
func messageText(m discordtest.Message) string {
	d := responseData{Content: m.Content, Embeds: m.Embeds}
	return d.text()
}

// buttonsOf returns a message's buttons as label=custom_id.
func buttonsOf(components json.RawMessage) []string {
	var rows []struct {
		Components []struct {
			Label    string `json:"label"`
			CustomID string `json:"custom_id"`
		} `json:"components"`
	}
	_ = json.Unmarshal(components, &rows)
	var out []string
	for _, row := range rows {
		for _, c := range row.Components {
			out = append(out, c.Label+"="+c.CustomID)
		}
	}
	return out
}

// approvalButtons are the buttons of request id awaiting approval.
func approvalButtons(id int64) []string {
	return []string{fmt.Sprintf("Approve=idp:run:approve %d", id), fmt.Sprintf("Reject=idp:ask:6:Reasonreject %d", id)}
}

// request has alice request a postgresql-database called name in env and
// returns its id and her answer, checked to say it was recorded.
func (h *govHarness) request(name, env string) (int64, string) {
	h.t.Helper()
	opts := []discordtest.Option{discordtest.String("name", name), discordtest.String("team", "payments"), discordtest.String("environment", env)}
	if env == "production" {
		opts = append(opts, discordtest.Boolean("high_availability", true))
	}
	got := h.answer(h.fake.Command(alice, testChannel, create("postgresql-database", opts...)...))
	if !strings.Contains(got, fmt.Sprintf("recorded: **%s**, postgresql-database for payments in %s. Follow it in the thread in <#%s>", name, env, requestsChannel)) {
		h.t.Fatalf("answer to the request of %s = %q", name, got)
	}
	for _, r := range h.resources() {
		if r.Name == name {
			return r.ID, got
		}
	}
	h.t.Fatalf("%s was not recorded", name)
	return 0, ""
}

// resource returns resource id as stored.
func (h *govHarness) resource(id int64) *platform.Resource {
	h.t.Helper()
	r, err := h.store.Resource(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// history returns resource id's audit events but the provisioning steps
// and the secret, one line each: kind, from→to, actor, message.
func (h *govHarness) history(id int64) []string {
	h.t.Helper()
	evs, err := h.store.Events(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == platform.EventStep || ev.Kind == platform.EventSecret {
			continue
		}
		line := string(ev.Kind)
		if ev.Kind == platform.EventTransition {
			line += fmt.Sprintf(" %s→%s", ev.From, ev.To)
		}
		out = append(out, line+" "+ev.Actor.ID+": "+ev.Message)
	}
	return out
}

// cards waits until the approvals channel holds n messages and returns
// them.
func (h *govHarness) cards(n int) []discordtest.Message {
	h.t.Helper()
	var got []discordtest.Message
	h.fake.WaitFor(20*time.Second, fmt.Sprintf("%d message(s) in the approvals channel", n), func() bool {
		got = h.fake.Messages(approvalsChannel)
		return len(got) >= n
	})
	if len(got) != n {
		h.t.Fatalf("approvals channel holds %d messages, want %d: %q", len(got), n, contents(got))
	}
	return got
}

// delivered waits until resource id is in state want with its whole
// history in its thread, checks the thread holds exactly that, and
// returns the thread's messages with the text people read.
func (h *govHarness) delivered(id int64, want platform.State) ([]discordtest.Message, []string) {
	h.t.Helper()
	thread := h.waitThread(id, want)
	if diff := cmp.Diff(h.expectedThread(id), contents(thread)); diff != "" {
		h.t.Errorf("thread of #%d mismatch (-want +got):\n%s", id, diff)
	}
	texts := make([]string, len(thread))
	for i, m := range thread {
		texts[i] = messageText(m)
	}
	return thread, texts
}

// root returns resource id's root message in the requests channel.
func (h *govHarness) root(id int64) discordtest.Message {
	h.t.Helper()
	m, ok := h.fake.Message(h.thread(id).RootRef)
	if !ok || m.ChannelID != requestsChannel || len(m.Embeds) != 1 {
		h.t.Fatalf("root message of #%d = %+v, want one embed in the requests channel", id, m)
	}
	return m
}

// sweep runs the governance sweep and checks what it did.
func (h *govHarness) sweep(want platform.Sweep) {
	h.t.Helper()
	got, err := h.harness.engine.Sweep(context.Background())
	if err != nil {
		h.t.Fatalf("Sweep = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		h.t.Fatalf("Sweep at %s mismatch (-want +got):\n%s", h.clock.Peek().Format(time.DateTime), diff)
	}
}

func TestGovernanceApprove(t *testing.T) {
	t.Parallel()
	h := newGovHarness(t)
	id, answer := h.request("orders-db", "production")
	if !strings.Contains(answer, "State: awaiting_approval (needs 1 approval before provisioning)") {
		t.Errorf("answer to the request = %q, want it to say it needs an approval", answer)
	}

	// The request waits: its thread says so with Approve/Reject, and the
	// approvals channel gets a card with the same buttons.
	thread, texts := h.delivered(id, platform.AwaitingApproval)
	if diff := cmp.Diff([]string{"✋ **Awaiting approval** — requested by alice; needs 1 approval(s)"}, texts); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(approvalButtons(id), buttonsOf(thread[0].Components)); diff != "" {
		t.Errorf("thread buttons mismatch (-want +got):\n%s", diff)
	}
	card := h.cards(1)[0]
	for _, want := range []string{
		"**Approval needed: orders-db #1, postgresql-database for payments in production**",
		"Requested by: alice (discord:" + alice.ID + ")",
		"Requested: 2026-03-02 13:02 UTC",
		"Approvals: 1 approval needed, never from the requester",
		"Decide with the buttons, or /idp approve 1 and /idp reject 1 <reason>.",
	} {
		if !strings.Contains(messageText(card), want) {
			t.Errorf("approval card lacks %q:\n%s", want, messageText(card))
		}
	}
	if diff := cmp.Diff(approvalButtons(id), buttonsOf(card.Components)); diff != "" {
		t.Errorf("card buttons mismatch (-want +got):\n%s", diff)
	}
	if got := h.root(id).Embeds[0].Title; got != "✋ orders-db #1" {
		t.Errorf("root title = %q, want awaiting approval", got)
	}

	// A member of the team who is no approver, and someone outside it,
	// click Approve: refused, nothing changes.
	if got := h.answer(h.fake.ClickOn(carol, card, "idp:run:approve 1")); got != "⚠️ Only approvers and platform admins can approve requests." {
		t.Errorf("carol's Approve = %q, want a refusal", got)
	}
	if got := h.answer(h.fake.ClickOn(mallory, card, "idp:run:approve 1")); !strings.Contains(got, `There is no resource "1" that you can see.`) {
		t.Errorf("mallory's Approve = %q, want not found", got)
	}
	if r := h.resource(id); r.State != platform.AwaitingApproval {
		t.Fatalf("after carol's and mallory's clicks: %s", r.State)
	}

	// bob approves on the card: provisioning starts; the thread tells
	// alice who approved.
	if got := h.answer(h.fake.ClickOn(bob, card, "idp:run:approve 1")); got != "**Approved orders-db #1: provisioning starts. alice is told in the request's thread.**" {
		t.Errorf("bob's Approve = %q", got)
	}
	_, texts = h.delivered(id, platform.Ready)
	if len(texts) < 2 || texts[1] != "⚙️ **Provisioning** — approved by bob (1 of 1); provisioning starts" {
		t.Errorf("thread = %q, want the approval by bob second", texts)
	}
	if got := h.root(id).Embeds[0].Title; got != "✅ orders-db #1" {
		t.Errorf("root title = %q, want ready", got)
	}
	want := []string{
		"transition →awaiting_approval discord:" + alice.ID + ": requested by alice; needs 1 approval(s)",
		"transition awaiting_approval→provisioning discord:" + bob.ID + ": approved by bob (1 of 1); provisioning starts",
		"transition provisioning→ready system:idpbot: ready",
	}
	if diff := cmp.Diff(want, h.history(id)); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if n := h.driver.Count(platformtest.OpProvision); n != 1 {
		t.Errorf("provisioned %d times, want 1", n)
	}

	// The card itself now shows the decision, its buttons gone.
	var decided discordtest.Message
	h.fake.WaitFor(20*time.Second, "the card to show the decision", func() bool {
		decided = h.fake.Messages(approvalsChannel)[0]
		return strings.Contains(messageText(decided), "**Approved: orders-db #1, postgresql-database for payments in production**")
	})
	if decided.ID != card.ID || len(buttonsOf(decided.Components)) != 0 || !strings.Contains(messageText(decided), "Decision: approved by bob (1 of 1); provisioning starts") {
		t.Errorf("the decided card (id %s, card id %s, buttons %q):\n%s", decided.ID, card.ID, buttonsOf(decided.Components), messageText(decided))
	}

	// The card's buttons, clicked on a stale copy, change nothing.
	if got := h.answer(h.fake.ClickOn(bob, card, "idp:run:approve 1")); !strings.Contains(got, "orders-db #1 is ready; only requests awaiting approval can be approved.") {
		t.Errorf("second Approve = %q", got)
	}
	if n := len(h.fake.Messages(approvalsChannel)); n != 1 {
		t.Errorf("approvals channel holds %d messages, want the one card", n)
	}
	if n := h.driver.Count(platformtest.OpProvision); n != 1 {
		t.Errorf("provisioned %d times after a second Approve, want 1", n)
	}
}

func TestGovernanceReject(t *testing.T) {
	t.Parallel()
	h := newGovHarness(t)
	id, _ := h.request("orders-db", "production")
	h.delivered(id, platform.AwaitingApproval)
	card := h.cards(1)[0]

	// Reject asks for the reason in a modal.
	modal := h.send(h.fake.ClickOn(bob, card, "idp:ask:6:Reasonreject 1"))
	if modal.Type != discordgo.InteractionResponseModal || modal.Data.CustomID != "idp:with:reject 1" || modal.Data.Title != "/idp reject 1" {
		t.Fatalf("Reject = %+v, want the reason's modal", modal.Data)
	}
	var rows []struct {
		Components []struct {
			CustomID  string `json:"custom_id"`
			Label     string `json:"label"`
			Required  bool   `json:"required"`
			MinLength int    `json:"min_length"`
		} `json:"components"`
	}
	if err := json.Unmarshal(modal.Data.Components, &rows); err != nil || len(rows) != 1 || len(rows[0].Components) != 1 {
		t.Fatalf("modal components = %s", modal.Data.Components)
	}
	if in := rows[0].Components[0]; in.CustomID != actionInput || in.Label != "Reason" || !in.Required || in.MinLength != 1 {
		t.Errorf("modal input = %+v, want a required Reason", in)
	}

	// An empty reason is refused, in the modal and typed as a command.
	submit := func(reason string) string {
		t.Helper()
		return h.answer(h.fake.SubmitModal(bob, approvalsChannel, modal.Data.CustomID, map[string]string{actionInput: reason}))
	}
	if got := submit(" \n "); !strings.Contains(got, "The text is required") {
		t.Errorf("empty reason = %q, want it refused", got)
	}
	typed := h.answer(h.fake.Command(bob, approvalsChannel, discordtest.Sub("run", discordtest.String("text", "reject 1"))))
	if !strings.Contains(typed, "Give a reason, which the requester will read: /idp reject <id> <reason>.") {
		t.Errorf("/idp run text:reject 1 = %q, want a reason asked for", typed)
	}
	if r := h.resource(id); r.State != platform.AwaitingApproval {
		t.Fatalf("after rejections without a reason: %s", r.State)
	}

	// The reason is the person's text as one argument, whatever it holds
	// (quotes, markdown, what looks like an option), on one line.
	got := submit("too big for a \"first\" try;\n  use *medium* --yes")
	const reason = `rejected by bob: too big for a "first" try; use *medium* --yes`
	for _, want := range []string{"**Rejected orders-db #1. alice is told in the request's thread.**", "Reason: " + reason} {
		if !strings.Contains(got, want) {
			t.Errorf("rejection answer = %q, want %q", got, want)
		}
	}
	thread, texts := h.delivered(id, platform.Rejected)
	if diff := cmp.Diff([]string{
		"✋ **Awaiting approval** — requested by alice; needs 1 approval(s)",
		"🚫 **Rejected** — " + reason,
	}, texts); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(thread[1].Content, `use \*medium\*`) {
		t.Errorf("thread message %q shows the reason's markdown", thread[1].Content)
	}
	if root := h.root(id).Embeds[0]; root.Title != "🚫 orders-db #1" || unescape(root.Description) != "**Reason:** "+reason {
		t.Errorf("root = %q / %q, want rejected with the reason", root.Title, root.Description)
	}
	if r := h.resource(id); r.Reason != reason {
		t.Errorf("reason = %q", r.Reason)
	}
	want := []string{
		"transition →awaiting_approval discord:" + alice.ID + ": requested by alice; needs 1 approval(s)",
		"transition awaiting_approval→rejected discord:" + bob.ID + ": " + reason,
	}
	if diff := cmp.Diff(want, h.history(id)); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if got := h.answer(h.fake.ClickOn(bob, card, "idp:run:approve 1")); !strings.Contains(got, "orders-db #1 is already rejected ("+reason+").") {
		t.Errorf("Approve after the rejection = %q", got)
	}
	if n := len(h.driver.Calls()); n != 0 {
		t.Errorf("a rejected request reached the driver %d times", n)
	}
}

func TestGovernanceSelfApprovalRefused(t *testing.T) {
	t.Parallel()
	h := newGovHarness(t)
	id, _ := h.request("orders-db", "production")
	thread, _ := h.delivered(id, platform.AwaitingApproval)
	card := h.cards(1)[0]

	// alice is an approver, but this is her own request: on her thread
	// and on the card, Approve and Reject are refused, to her alone.
	const approveRefused = "You cannot approve your own request; another approver must decide on #1."
	for _, m := range []discordtest.Message{thread[0], card} {
		if got := h.answer(h.fake.ClickOn(alice, m, "idp:run:approve 1")); !strings.Contains(got, approveRefused) {
			t.Errorf("alice's Approve on message %s = %q, want %q", m.ID, got, approveRefused)
		}
	}
	modal := h.send(h.fake.ClickOn(alice, thread[0], "idp:ask:6:Reasonreject 1"))
	if modal.Type != discordgo.InteractionResponseModal {
		t.Fatalf("alice's Reject = %+v, want the reason's modal", modal)
	}
	got := h.answer(h.fake.SubmitModal(alice, thread[0].ChannelID, modal.Data.CustomID, map[string]string{actionInput: "changed my mind"}))
	if !strings.Contains(got, "You cannot reject your own request; another approver must decide on #1.") {
		t.Errorf("alice's rejection = %q", got)
	}

	if r := h.resource(id); r.State != platform.AwaitingApproval {
		t.Errorf("after alice's own decisions: %s, want awaiting_approval", r.State)
	}
	want := []string{"transition →awaiting_approval discord:" + alice.ID + ": requested by alice; needs 1 approval(s)"}
	if diff := cmp.Diff(want, h.history(id)); diff != "" {
		t.Errorf("history mismatch (-want +got), want no decision recorded:\n%s", diff)
	}
	if ms := h.fake.Messages(thread[0].ChannelID); len(ms) != 1 {
		t.Errorf("thread = %q, want only the request", contents(ms))
	}
	if root := h.root(id); root.Edits != 0 {
		t.Errorf("root message edited %d times", root.Edits)
	}
	if n := len(h.driver.Calls()); n != 0 {
		t.Errorf("the driver was called %d times", n)
	}
}

func TestGovernanceReminderThenExpiry(t *testing.T) {
	t.Parallel()
	h := newGovHarness(t)
	id, _ := h.request("orders-db", "production")
	h.delivered(id, platform.AwaitingApproval)
	h.cards(1)
	h.sweep(platform.Sweep{})

	// After RemindAfter, the approvers are reminded once: in the thread
	// and with a reminder card, both with the buttons.
	h.clock.Advance(govDeadlines.RemindAfter)
	h.sweep(platform.Sweep{Reminded: []int64{id}})
	const reminder = "still awaiting approval after 2h: needs 1 more approval(s) from an approver; it expires without a decision in 6h"
	thread, texts := h.delivered(id, platform.AwaitingApproval)
	if len(texts) != 2 || texts[1] != "📝 "+reminder {
		t.Fatalf("thread = %q, want the reminder second", texts)
	}
	if diff := cmp.Diff(approvalButtons(id), buttonsOf(thread[1].Components)); diff != "" {
		t.Errorf("reminder buttons mismatch (-want +got):\n%s", diff)
	}
	card := h.cards(2)[1]
	if got := messageText(card); !strings.Contains(got, "**Reminder: orders-db #1 (postgresql-database for payments in production) "+reminder+"**") {
		t.Errorf("reminder card = %q", got)
	}
	if diff := cmp.Diff(approvalButtons(id), buttonsOf(card.Components)); diff != "" {
		t.Errorf("reminder card buttons mismatch (-want +got):\n%s", diff)
	}
	h.clock.Advance(time.Hour)
	h.sweep(platform.Sweep{})

	// After ExpireAfter without a decision, the request expires and the
	// thread tells alice.
	h.clock.Advance(govDeadlines.ExpireAfter - govDeadlines.RemindAfter - time.Hour)
	h.sweep(platform.Sweep{Expired: []int64{id}})
	_, texts = h.delivered(id, platform.Expired)
	if diff := cmp.Diff([]string{
		"✋ **Awaiting approval** — requested by alice; needs 1 approval(s)",
		"📝 " + reminder,
		"⌛ **Expired** — no approval decision within 8h",
	}, texts); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if root := h.root(id).Embeds[0]; root.Title != "⌛ orders-db #1" || root.Description != "**Reason:** no approval decision within 8h" {
		t.Errorf("root = %q / %q, want expired with the reason", root.Title, root.Description)
	}
	want := []string{
		"transition →awaiting_approval discord:" + alice.ID + ": requested by alice; needs 1 approval(s)",
		"reminder system:idpbot: " + reminder,
		"transition awaiting_approval→expired system:idpbot: no approval decision within 8h",
	}
	if diff := cmp.Diff(want, h.history(id)); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if got := h.answer(h.fake.ClickOn(bob, card, "idp:run:approve 1")); !strings.Contains(got, "orders-db #1 is already expired (no approval decision within 8h).") {
		t.Errorf("Approve after the expiry = %q", got)
	}
	if n := len(h.fake.Messages(approvalsChannel)); n != 2 {
		t.Errorf("approvals channel holds %d messages, want the card and one reminder", n)
	}
	if n := len(h.driver.Calls()); n != 0 {
		t.Errorf("an expired request reached the driver %d times", n)
	}
}

func TestGovernanceTTLWarningExtendAndDeprovision(t *testing.T) {
	t.Parallel()
	h := newGovHarness(t)
	id, answer := h.request("scratch-db", "development")
	if !strings.Contains(answer, "Expires: 2026-03-09 13:02:00 UTC (in 7d)") {
		t.Errorf("answer to the request = %q, want its expiry", answer)
	}
	_, texts := h.delivered(id, platform.Ready)
	r := h.resource(id)
	if want := platformtest.Start.Add(devTTL); !r.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %s, want %s", r.ExpiresAt, want)
	}
	h.sweep(platform.Sweep{})

	// A day before the end of its TTL, the thread warns alice with an
	// Extend button, once.
	h.clock.Advance(r.ExpiresAt.Sub(h.clock.Peek()) - 25*time.Hour)
	h.sweep(platform.Sweep{})
	h.clock.Advance(2 * time.Hour)
	h.sweep(platform.Sweep{Warned: []int64{id}})
	thread, got := h.delivered(id, platform.Ready)
	const warning = "📝 expires in 23h (2026-03-09 13:02 UTC) and will then be deleted; keep it longer with /idp extend 1 7d"
	if len(got) != len(texts)+1 || got[len(got)-1] != warning {
		t.Fatalf("thread = %q, want the warning last", got)
	}
	warned := thread[len(thread)-1]
	if diff := cmp.Diff([]string{"Extend 7d=idp:run:extend 1 7d"}, buttonsOf(warned.Components)); diff != "" {
		t.Errorf("warning buttons mismatch (-want +got):\n%s", diff)
	}
	h.sweep(platform.Sweep{})

	// Someone outside the team cannot extend it; alice can.
	if got := h.answer(h.fake.ClickOn(mallory, warned, "idp:run:extend 1 7d")); !strings.Contains(got, `There is no resource "1" that you can see`) {
		t.Errorf("mallory's Extend = %q", got)
	}
	if got := h.resource(id).ExpiresAt; !got.Equal(r.ExpiresAt) {
		t.Fatalf("mallory's click moved the expiry to %s", got)
	}
	if got := h.answer(h.fake.ClickOn(alice, warned, "idp:run:extend 1 7d")); got != "**Extended scratch-db #1 by 7d: it now expires 2026-03-16 13:02:00 UTC (in 7d23h).**" {
		t.Errorf("alice's Extend = %q", got)
	}
	extended := r.ExpiresAt.Add(7 * 24 * time.Hour)
	if got := h.resource(id).ExpiresAt; !got.Equal(extended) {
		t.Fatalf("expires at %s after Extend, want %s", got, extended)
	}
	_, got = h.delivered(id, platform.Ready)
	if last := got[len(got)-1]; last != "📝 expiry extended by 7d to 2026-03-16 13:02 UTC by alice" {
		t.Errorf("thread ends with %q, want the extension", last)
	}

	// The old expiry passes: nothing happens. A day before the new one,
	// a new warning; at the new one, it is deprovisioned.
	h.clock.Advance(24 * time.Hour)
	h.sweep(platform.Sweep{})
	h.clock.Advance(extended.Sub(h.clock.Peek()) - 12*time.Hour)
	h.sweep(platform.Sweep{Warned: []int64{id}})
	h.clock.Advance(12 * time.Hour)
	h.sweep(platform.Sweep{Deprovisioned: []int64{id}})
	_, got = h.delivered(id, platform.Deleted)
	tail := []string{
		"📝 expires in 12h (2026-03-16 13:02 UTC) and will then be deleted; keep it longer with /idp extend 1 7d",
		"🗑️ **Deleting** — expired (TTL)",
		"🔹 dropping database payments_development_scratch_db",
		"🔹 dropping role payments_development_scratch_db",
		"⚪ **Deleted**",
	}
	if len(got) < len(tail) {
		t.Fatalf("thread = %q, want it to end with %q", got, tail)
	}
	if diff := cmp.Diff(tail, got[len(got)-len(tail):]); diff != "" {
		t.Errorf("thread's end mismatch (-want +got):\n%s", diff)
	}
	if root := h.root(id).Embeds[0]; root.Title != "⚪ scratch-db #1" {
		t.Errorf("root title = %q, want deleted", root.Title)
	}
	if r := h.resource(id); r.Reason != platform.ExpiredReason {
		t.Errorf("reason = %q, want %q", r.Reason, platform.ExpiredReason)
	}
	if n := h.driver.Count(platformtest.OpDeprovision); n != 1 {
		t.Errorf("deprovisioned %d times, want 1", n)
	}
	hist := h.history(id)
	if last := hist[len(hist)-2:]; !cmp.Equal(last, []string{"transition ready→deleting system:idpbot: expired (TTL)", "transition deleting→deleted system:idpbot: deleted"}) {
		t.Errorf("history ends with %q", last)
	}
}
