package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/jobs/jobstest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// The end-to-end tests of governance (issue 5) through Slack: approve,
// reject, self-approval refused, and expiry of unanswered requests and of
// resources at the end of their TTL. Each drives the adapter's HTTP handler
// with signed requests, in front of a fake Slack, over a real PostgreSQL,
// store, engine and River runner wired as cmd/bot wires them: the store's
// OnEvent enqueues the runner's jobs and the governance posts, and the
// adapter is both the "slack" notifier and Poster.

// approvalsChannel is the configured approvals channel (channels.approvals).
const approvalsChannel = "C0APPROVALS"

// approverUser approves requests and is in no team.
var approverUser = slackfake.User{ID: "U0APPROVER", Name: "approver", Email: "approver@example.com"}

// Timings of the governance tests, set apart from the defaults so that
// the tests show the configured ones apply.
const (
	govRemindAfter = 4 * time.Hour
	govExpireAfter = 12 * time.Hour
	govWarnBefore  = 24 * time.Hour
	devTTL         = 72 * time.Hour
)

// governanceOrg is the organisation of the governance tests: production
// needs one approval; approver approves; carol, in payments by email, is
// also an approver by email, so she can try to approve her own request;
// resources in development live devTTL.
func governanceOrg() *platform.Org {
	return &platform.Org{
		Teams: []platform.Team{
			{Name: "payments", Members: []string{"slack:U0ALICE", "email:carol@example.com"}},
		},
		Environments: []platform.Environment{
			{Name: "development", TTL: devTTL}, {Name: "staging"}, {Name: "production", Approvals: 1},
		},
		DefaultQuotas: map[string]int{"postgresql-database": 5},
		Approvers:     []string{"slack:" + approverUser.ID, "email:carol@example.com"},
	}
}

// govStack is the bot as deployed with governance: stack plus the
// governance posts, the sweep and a movable clock.
type govStack struct {
	*stack
	engine *platform.Engine
	runner *jobs.Runner
	clock  *platformtest.WallClock
}

// newGovStack starts a govStack whose jobs runner stops when the test
// ends.
func newGovStack(t *testing.T) *govStack {
	t.Helper()
	pool := postgrestest.Pool(t)
	clock := &platformtest.WallClock{}
	// As cmd/bot's setup: the jobs and posts an event calls for.
	cat := realCatalog(t)
	enq := jobstest.Enqueuer(t, pool, jobs.EnqueuerConfig{Org: governanceOrg(), Catalog: cat, ApprovalChannels: map[string]string{Platform: approvalsChannel}})
	store := postgres.NewStore(pool, postgres.StoreOptions{Now: clock.Now, OnEvent: enq.OnEvent})
	sealer := platformtest.Sealer(t)
	logs := &bytes.Buffer{}
	log := testLogger(logs)
	drv := platformtest.NewDriver()
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: cat, Org: governanceOrg(), Drivers: map[string]platform.Driver{"postgres": drv},
		Policies: []platform.Policy{productionHA{}}, Sealer: sealer, Now: clock.Now, Logger: log,
		Deadlines: platform.Deadlines{RemindAfter: govRemindAfter, ExpireAfter: govExpireAfter, WarnBefore: govWarnBefore},
	})
	tickets, err := jobs.NewTickets(store, enq, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As cmd/bot's addSlack: the commands' event actions (Extend on a TTL
	// warning, Approve/Reject on a reminder).
	h := newHarness(t, harnessConfig{engine: engine, threads: store, actions: commands.EventActions,
		options: commands.Options{Now: clock.Now, Tickets: tickets}})
	h.fake.AddUser(approverUser)
	runner, err := jobs.New(jobs.Config{
		Pool: pool, Engine: engine, Store: store, Notifiers: map[string]jobs.Notifier{Platform: h.notifier},
		Logger: log, Schema: postgrestest.Schema(pool),
		RetryPolicy: fixedRetry(50 * time.Millisecond), FetchPollInterval: 50 * time.Millisecond,
		// As cmd/bot's startJobs: the post and sweep workers, posting
		// through the adapter. The sweep's periodic job is left out: the
		// tests sweep when they move the clock.
		Register: func(w *river.Workers) {
			jobs.AddGovernanceWorkers(w, engine, store, map[string]commands.Poster{Platform: h.notifier}, log)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := runner.Run(ctx); err != nil {
			t.Errorf("jobs runner: %v", err)
		}
	}()
	// Registered after the harness's cleanup, so it runs first: the jobs
	// stop before the fake Slack and the database go away.
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return &govStack{stack: &stack{harness: h, pool: pool, store: store, driver: drv}, engine: engine, runner: runner, clock: clock}
}

// request asks for a postgresql-database as user through the create
// modal, and returns it once recorded.
func (s *govStack) request(user slackfake.User, answers map[string]string) *platform.Resource {
	s.t.Helper()
	if status, body := s.slash(user, "create postgresql-database"); status != http.StatusOK || len(body) != 0 {
		s.t.Fatalf("slash command: %d %q", status, body)
	}
	if ack := s.submit(s.lastView(), user, answers); ack["response_action"] != "clear" {
		s.t.Fatalf("submission %v: %v", answers, ack)
	}
	return s.resource(answers["name"])
}

// production requests the production database name as user, with high
// availability as the production rule wants.
func (s *govStack) production(user slackfake.User, name string) *platform.Resource {
	s.t.Helper()
	r := s.request(user, map[string]string{"name": name, "team": "payments", "environment": "production", "high_availability": "true"})
	if r.State != platform.AwaitingApproval {
		s.t.Fatalf("%s is %s, want awaiting_approval", name, r.State)
	}
	return r
}

// thread waits for the root message of r's thread and returns it.
func (s *govStack) thread(r *platform.Resource) slackfake.Message {
	s.t.Helper()
	var root slackfake.Message
	slackfake.Eventually(s.t, 10*time.Second, "the root message of "+r.Name, func() bool {
		th, ok, err := s.store.Thread(context.Background(), r.ID, Platform)
		if err != nil || !ok {
			return false
		}
		for _, m := range s.fake.Messages(th.Channel) {
			if m.TS == th.RootRef {
				root = m
				return true
			}
		}
		return false
	})
	return root
}

// reply waits for a reply in root's thread whose text starts with prefix,
// and returns the first such.
func (s *govStack) reply(root slackfake.Message, prefix string) slackfake.Message {
	s.t.Helper()
	var got slackfake.Message
	slackfake.Eventually(s.t, 10*time.Second, "a reply "+strconv.Quote(prefix), func() bool {
		for _, m := range s.fake.Replies(root.Channel, root.TS) {
			if strings.HasPrefix(m.Text, prefix) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// card waits for a message in the approvals channel whose text starts
// with prefix and returns it.
func (s *govStack) card(prefix string) slackfake.Message {
	s.t.Helper()
	var got slackfake.Message
	slackfake.Eventually(s.t, 10*time.Second, "a card "+strconv.Quote(prefix), func() bool {
		for _, m := range s.fake.Messages(approvalsChannel) {
			if strings.HasPrefix(m.Text, prefix) {
				got = m
				return true
			}
		}
		return false
	})
	if p := slackfake.CheckBlocks(got.Blocks, slackfake.SurfaceMessage); len(p) > 0 {
		s.t.Errorf("Slack would reject the card %q: %q", got.Text, p)
	}
	return got
}

// events returns r's audit events.
func (s *govStack) events(r *platform.Resource) []platform.Event {
	s.t.Helper()
	evs, err := s.store.Events(context.Background(), r.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return evs
}

// sweep runs the governance sweep, as the leader's periodic job does.
func (s *govStack) sweep() platform.Sweep {
	s.t.Helper()
	sw, err := s.engine.Sweep(context.Background())
	if err != nil {
		s.t.Fatalf("Sweep: %v", err)
	}
	return sw
}

// waitState waits for r to reach state.
func (s *govStack) waitState(r *platform.Resource, state platform.State) *platform.Resource {
	s.t.Helper()
	var got *platform.Resource
	slackfake.Eventually(s.t, 10*time.Second, r.Name+" to be "+string(state), func() bool {
		cur, err := s.store.Resource(context.Background(), r.ID)
		if err != nil {
			return false
		}
		got = cur
		return cur.State == state
	})
	return got
}

// buttonID returns the action_id of m's button labelled label.
func buttonID(t testing.TB, m slackfake.Message, label string) string {
	t.Helper()
	for _, row := range buttonsOf(t, m.Blocks) {
		for _, b := range row {
			if b.Text.Text == label {
				return b.ActionID
			}
		}
	}
	t.Fatalf("message %q has no button %q; it has %q", m.Text, label, labels(buttonsOf(t, m.Blocks)))
	return ""
}

// approvalButtons are the Approve/Reject buttons of request id as
// rendered.
func approvalButtons(id int64) []string {
	n := strconv.FormatInt(id, 10)
	return []string{
		"Approve=idp_run_0:approve " + n + " (primary)",
		`Reject=idp_ask_1:{"command":"reject ` + n + `","input":"Reason","label":"Reject"} (danger)`,
	}
}

// decisions returns the events that decided on r or counted towards a
// decision: approvals, and transitions out of awaiting_approval.
func decisions(evs []platform.Event) []platform.Event {
	var out []platform.Event
	for _, ev := range evs {
		if ev.Kind == platform.EventApproval || ev.Kind == platform.EventTransition && ev.From == platform.AwaitingApproval {
			out = append(out, ev)
		}
	}
	return out
}

// checkMethods fails the test for every Web API method the bot called that
// the app manifests' scopes were not checked for.
func (s *govStack) checkMethods() {
	s.t.Helper()
	checkScopes(s.t, s.fake)
}

// TestGovernanceApproveEndToEnd: a production request waits for approval
// with Approve/Reject in its thread and a card in the approvals channel;
// the approver approves on the card; the request is provisioned and the
// requester's thread says who approved.
func TestGovernanceApproveEndToEnd(t *testing.T) {
	t.Parallel()
	s := newGovStack(t)
	r := s.production(alice, "ledger-db")
	root := s.thread(r)
	waiting := s.reply(root, ":raised_hand: *Awaiting approval*")
	if diff := cmp.Diff(approvalButtons(r.ID), labels(buttonsOf(t, waiting.Blocks))); diff != "" {
		t.Errorf("buttons of the thread's awaiting approval message mismatch (-want +got):\n%s", diff)
	}
	card := s.card("Approval needed: ledger-db " + r.Ref())
	if diff := cmp.Diff(approvalButtons(r.ID), labels(buttonsOf(t, card.Blocks))); diff != "" {
		t.Errorf("buttons of the approval card mismatch (-want +got):\n%s", diff)
	}
	for _, want := range []string{"postgresql-database for payments in production", "alice (slack:U0ALICE)", "1 approval needed, never from the requester", "high_availability"} {
		if !strings.Contains(card.Text+string(card.Blocks), want) {
			t.Errorf("the approval card lacks %q: %s", want, card.Blocks)
		}
	}

	got := s.click(approverUser, card, false, buttonID(t, card, "Approve"))
	if got.Method != "chat.postEphemeral" || got.Params["channel"] != approvalsChannel || got.Params["user"] != approverUser.ID || got.Params["thread_ts"] != "" ||
		!strings.Contains(got.Params["text"], "Approved ledger-db "+r.Ref()+": provisioning starts. alice is told in the request's thread.") {
		t.Errorf("the approver's click answered %+v, want the approval for the approver alone, under the card", got.Params)
	}
	s.reply(root, ":lock: Connection details were sent")
	// The card itself now shows the decision, its buttons gone.
	decided := s.card("Approved: ledger-db " + r.Ref())
	if decided.TS != card.TS || len(buttonsOf(t, decided.Blocks)) != 0 || !strings.Contains(string(decided.Blocks), "approved by approver (1 of 1)") {
		t.Errorf("the decided card (ts %s, card ts %s): %s", decided.TS, card.TS, decided.Blocks)
	}
	ident := platformtest.Identifier(r)
	want := []string{
		waiting.Text,
		":gear: *Provisioning* — approved by approver (1 of 1); provisioning starts",
		":small_blue_diamond: creating role " + ident,
		":small_blue_diamond: creating database " + ident,
		":white_check_mark: *Ready*",
		":lock: Connection details were sent to <@U0ALICE> by direct message.",
	}
	if diff := cmp.Diff(want, firstLines(texts(s.fake.Replies(root.Channel, root.TS)))); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if m := s.thread(r); !strings.Contains(string(m.Blocks), "Ready") {
		t.Errorf("root message after approval: %s", m.Blocks)
	}
	r = s.resource("ledger-db")
	dec := decisions(s.events(r))
	if r.State != platform.Ready || len(dec) != 1 || dec[0].Actor.ID != "slack:"+approverUser.ID || dec[0].To != platform.Provisioning ||
		dec[0].Message != "approved by approver (1 of 1); provisioning starts" {
		t.Errorf("state %s, decisions %+v: want ready, approved once by the approver", r.State, dec)
	}

	// The card stays; a later click on it is told the request moved on,
	// and provisions nothing more.
	got = s.click(carol, card, false, buttonID(t, card, "Approve"))
	if want := "ledger-db " + r.Ref() + " is ready; only requests awaiting approval can be approved."; !strings.Contains(got.Params["text"], want) {
		t.Errorf("a click on the decided card = %q, want %q", got.Params["text"], want)
	}
	if n := s.driver.Count(platformtest.OpProvision); n != 1 {
		t.Errorf("provisioned %d times, want 1", n)
	}
	if n := len(s.fake.Messages(approvalsChannel)); n != 1 {
		t.Errorf("%d messages in the approvals channel, want the one card", n)
	}
	s.checkMethods()
}

// TestGovernanceRejectEndToEnd: the approver clicks Reject on the card, a
// modal asks for the reason (an empty one is refused, as is /idp reject
// without one), and the requester is told the reason in the thread.
func TestGovernanceRejectEndToEnd(t *testing.T) {
	t.Parallel()
	s := newGovStack(t)
	r := s.production(alice, "ledger-db")
	root := s.thread(r)
	s.reply(root, ":raised_hand: *Awaiting approval*")
	card := s.card("Approval needed: ledger-db " + r.Ref())

	// Typed without a reason, /idp reject is refused.
	if status, body := s.slash(approverUser, "reject "+strconv.FormatInt(r.ID, 10)); status != http.StatusOK ||
		!strings.Contains(string(body), "Give a reason, which the requester will read") {
		t.Errorf("/idp reject without a reason: %d %s", status, body)
	}

	if status, body := s.interact(s.fake.Click(approverUser, card, false, buttonID(t, card, "Reject"))); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("Reject click ack %d %q", status, body)
	}
	modal := s.lastView()
	var view struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
		Blocks          []struct {
			Type  string `json:"type"`
			Label struct {
				Text string `json:"text"`
			} `json:"label"`
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	var md actionMeta
	if err := json.Unmarshal(modal.JSON, &view); err != nil || json.Unmarshal([]byte(view.PrivateMetadata), &md) != nil {
		t.Fatalf("opened view %s: %v", modal.JSON, err)
	}
	if view.CallbackID != CallbackAction || len(view.Blocks) != 2 || view.Blocks[1].Label.Text != "Reason" ||
		view.Blocks[0].Text.Text != "This runs `/idp reject "+strconv.FormatInt(r.ID, 10)+" &lt;reason&gt;` as you." ||
		md.Channel != approvalsChannel || md.Thread != "" {
		t.Fatalf("the Reject click opened %s, want the reason modal answering in the approvals channel", modal.JSON)
	}

	// An empty reason is refused on the input; nothing changes.
	before := len(s.events(r))
	for _, empty := range []string{"", "   \n "} {
		ack := s.submit(modal, approverUser, map[string]string{actionInput: empty})
		errs, _ := ack["errors"].(map[string]any)
		if ack["response_action"] != "errors" || errs[actionInput] != "The text is required." {
			t.Errorf("empty reason %q: %v, want the input refused", empty, ack)
		}
	}
	if cur := s.resource("ledger-db"); cur.State != platform.AwaitingApproval || len(s.events(r)) != before {
		t.Fatalf("after empty reasons: %s with %d events, want awaiting_approval with %d", cur.State, len(s.events(r)), before)
	}

	reason := "production databases need a cost review first"
	ephemeral := len(s.fake.Ephemeral())
	if ack := s.submit(modal, approverUser, map[string]string{actionInput: reason}); ack["response_action"] != "clear" {
		t.Fatalf("reason submission: %v", ack)
	}
	slackfake.Eventually(t, 10*time.Second, "the approver's answer", func() bool { return len(s.fake.Ephemeral()) > ephemeral })
	if got := s.fake.Ephemeral()[ephemeral]; got.Params["user"] != approverUser.ID || got.Params["channel"] != approvalsChannel ||
		!strings.Contains(got.Params["text"], "Rejected ledger-db "+r.Ref()+". alice is told in the request's thread.") {
		t.Errorf("answer to the rejection %+v", got.Params)
	}
	rejected := s.reply(root, ":no_entry_sign: *Rejected*")
	if want := ":no_entry_sign: *Rejected* — rejected by approver: " + reason; rejected.Text != want {
		t.Errorf("the thread says %q, want %q", rejected.Text, want)
	}
	if m := s.thread(r); !strings.Contains(string(m.Blocks), "Rejected") {
		t.Errorf("root message after rejection: %s", m.Blocks)
	}
	r = s.resource("ledger-db")
	dec := decisions(s.events(r))
	if r.State != platform.Rejected || r.Reason != "rejected by approver: "+reason || len(dec) != 1 ||
		dec[0].To != platform.Rejected || dec[0].Actor.ID != "slack:"+approverUser.ID {
		t.Errorf("state %s (%q), decisions %+v: want rejected by the approver with the reason", r.State, r.Reason, dec)
	}
	if n := len(s.driver.Calls()); n != 0 {
		t.Errorf("a rejected request reached the driver %d times", n)
	}
	s.checkMethods()
}

// TestGovernanceSelfApprovalRefusedEndToEnd: carol is an approver, but not
// of her own request: her clicks are refused to her alone, nothing is
// recorded, and another approver can still decide.
func TestGovernanceSelfApprovalRefusedEndToEnd(t *testing.T) {
	t.Parallel()
	s := newGovStack(t)
	r := s.production(carol, "ledger-db")
	root := s.thread(r)
	waiting := s.reply(root, ":raised_hand: *Awaiting approval*")
	card := s.card("Approval needed: ledger-db " + r.Ref())
	refusal := "You cannot approve your own request; another approver must decide on " + r.Ref() + "."

	got := s.click(carol, card, false, buttonID(t, card, "Approve"))
	if got.Method != "chat.postEphemeral" || got.Params["user"] != carol.ID || got.Params["channel"] != approvalsChannel || !strings.Contains(got.Params["text"], refusal) {
		t.Errorf("carol's Approve on the card answered %+v, want %q for her alone", got.Params, refusal)
	}
	got = s.click(carol, waiting, false, buttonID(t, waiting, "Approve"))
	if got.Params["user"] != carol.ID || got.Params["thread_ts"] != root.TS || !strings.Contains(got.Params["text"], refusal) {
		t.Errorf("carol's Approve in the thread answered %+v, want %q for her alone, in the thread", got.Params, refusal)
	}
	// Reject asks for the reason, then refuses it on the input.
	s.interact(s.fake.Click(carol, card, false, buttonID(t, card, "Reject")))
	ack := s.submit(s.lastView(), carol, map[string]string{actionInput: "changed my mind"})
	errs, _ := ack["errors"].(map[string]any)
	if msg, _ := errs[actionInput].(string); ack["response_action"] != "errors" || !strings.Contains(msg, "You cannot reject your own request") {
		t.Errorf("carol's own rejection: %v, want it refused on the input", ack)
	}

	if cur := s.resource("ledger-db"); cur.State != platform.AwaitingApproval {
		t.Errorf("after carol's clicks: %s, want awaiting_approval", cur.State)
	}
	if dec := decisions(s.events(r)); len(dec) != 0 {
		t.Errorf("decisions recorded for carol's own request: %+v", dec)
	}
	if n := len(s.driver.Calls()); n != 0 {
		t.Errorf("the driver was called %d times", n)
	}
	for _, m := range s.fake.Replies(root.Channel, root.TS) {
		if strings.Contains(m.Text, "approved") || strings.Contains(m.Text, "Rejected") {
			t.Errorf("the thread tells a decision: %q", m.Text)
		}
	}

	// The same click by another approver decides.
	s.click(approverUser, card, false, buttonID(t, card, "Approve"))
	s.waitState(r, platform.Ready)
	if dec := decisions(s.events(r)); len(dec) != 1 || dec[0].Actor.ID != "slack:"+approverUser.ID {
		t.Errorf("decisions %+v, want the approver's alone", dec)
	}
	s.checkMethods()
}

// TestGovernanceApprovalExpiryEndToEnd: an unanswered request is reminded
// once (the thread, with Approve/Reject, and a reminder card) after the
// configured RemindAfter, expires after ExpireAfter, and the thread tells
// the requester; its cards then decide nothing.
func TestGovernanceApprovalExpiryEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newGovStack(t)
	r := s.production(alice, "ledger-db")
	root := s.thread(r)
	s.reply(root, ":raised_hand: *Awaiting approval*")
	s.card("Approval needed: ledger-db " + r.Ref())

	s.clock.Advance(govRemindAfter - time.Minute)
	if sw := s.sweep(); len(sw.Reminded)+len(sw.Expired) != 0 {
		t.Fatalf("Sweep before RemindAfter = %+v, want nothing done", sw)
	}
	// The reminder comes from the leader's job, as in the bot.
	s.clock.Advance(time.Minute)
	res, err := s.runner.Client().Insert(ctx, jobs.SweepArgs{}, nil)
	if err != nil || res.UniqueSkippedAsDuplicate {
		t.Fatalf("insert the sweep job: %+v, %v", res, err)
	}
	reminder := s.reply(root, ":memo: still awaiting approval")
	wantReminder := ":memo: still awaiting approval after 4h: needs 1 more approval(s) from an approver; it expires without a decision in 8h"
	if reminder.Text != wantReminder {
		t.Errorf("reminder in the thread = %q, want %q", reminder.Text, wantReminder)
	}
	if diff := cmp.Diff(approvalButtons(r.ID), labels(buttonsOf(t, reminder.Blocks))); diff != "" {
		t.Errorf("buttons of the reminder mismatch (-want +got):\n%s", diff)
	}
	card := s.card("Reminder: ledger-db " + r.Ref())
	if diff := cmp.Diff(approvalButtons(r.ID), labels(buttonsOf(t, card.Blocks))); diff != "" {
		t.Errorf("buttons of the reminder card mismatch (-want +got):\n%s", diff)
	}
	// Once: a later sweep before the expiry reminds no more.
	s.clock.Advance(time.Hour)
	if sw := s.sweep(); len(sw.Reminded)+len(sw.Expired) != 0 {
		t.Errorf("second Sweep = %+v, want no second reminder", sw)
	}

	s.clock.Advance(govExpireAfter - govRemindAfter - time.Hour)
	if sw := s.sweep(); !slices.Equal(sw.Expired, []int64{r.ID}) {
		t.Fatalf("Sweep at ExpireAfter = %+v, want %s expired", sw, r.Ref())
	}
	expired := s.reply(root, ":hourglass: *Expired*")
	if want := ":hourglass: *Expired* — no approval decision within 12h"; expired.Text != want {
		t.Errorf("the thread says %q, want %q", expired.Text, want)
	}
	if m := s.thread(r); !strings.Contains(string(m.Blocks), "Expired") {
		t.Errorf("root message after expiry: %s", m.Blocks)
	}
	got := s.click(approverUser, card, false, buttonID(t, card, "Approve"))
	if want := "ledger-db " + r.Ref() + " is already expired (no approval decision within 12h)."; !strings.Contains(got.Params["text"], want) {
		t.Errorf("Approve on the reminder card after expiry = %q, want %q", got.Params["text"], want)
	}

	r = s.resource("ledger-db")
	var reminders int
	var last platform.Event
	for _, ev := range s.events(r) {
		if ev.Kind == platform.EventReminder {
			reminders++
		}
		last = ev
	}
	if r.State != platform.Expired || r.Reason != "no approval decision within 12h" || reminders != 1 ||
		last.To != platform.Expired || last.Actor.ID != platform.System.ID {
		t.Errorf("state %s (%q), %d reminders, last event %+v: want expired by the system after one reminder", r.State, r.Reason, reminders, last)
	}
	if n := len(s.fake.Messages(approvalsChannel)); n != 2 {
		t.Errorf("%d messages in the approvals channel, want the card and the reminder", n)
	}
	if n := len(s.driver.Calls()); n != 0 {
		t.Errorf("an expired request reached the driver %d times", n)
	}
	s.checkMethods()
}

// TestGovernanceTTLExpiryEndToEnd: a development database lives devTTL;
// a day before its end the thread warns, once, with an Extend button;
// Extend moves the expiry; the old one passes without effect; a day before
// the new one the thread warns again; at the new one it is deprovisioned
// and the thread says so.
func TestGovernanceTTLExpiryEndToEnd(t *testing.T) {
	t.Parallel()
	s := newGovStack(t)
	r := s.request(alice, map[string]string{"name": "scratch-db", "team": "payments", "environment": "development"})
	if got := r.ExpiresAt.Sub(r.CreatedAt); got < devTTL-time.Second || got > devTTL+time.Second {
		t.Errorf("scratch-db expires %v after its creation, want the environment's TTL %v", got, devTTL)
	}
	r = s.waitState(r, platform.Ready)
	root := s.thread(r)
	s.reply(root, ":white_check_mark: *Ready*")
	expires := r.ExpiresAt

	s.clock.Advance(expires.Sub(s.clock.Now()) - govWarnBefore - time.Hour)
	if sw := s.sweep(); len(sw.Warned)+len(sw.Deprovisioned) != 0 {
		t.Fatalf("Sweep 25h before the expiry = %+v, want nothing done", sw)
	}
	s.clock.Advance(time.Hour)
	if sw := s.sweep(); !slices.Equal(sw.Warned, []int64{r.ID}) {
		t.Fatalf("Sweep a day before the expiry = %+v, want %s warned", sw, r.Ref())
	}
	warning := s.reply(root, ":memo: expires in")
	wantWarning := ":memo: expires in 1d (" + expires.UTC().Format("2006-01-02 15:04 MST") + ") and will then be deleted; keep it longer with /idp extend " +
		strconv.FormatInt(r.ID, 10) + " 7d"
	if warning.Text != wantWarning {
		t.Errorf("warning = %q, want %q", warning.Text, wantWarning)
	}
	if diff := cmp.Diff([]string{"Extend 7d=idp_run_0:extend " + strconv.FormatInt(r.ID, 10) + " 7d (primary)"}, labels(buttonsOf(t, warning.Blocks))); diff != "" {
		t.Errorf("buttons of the warning mismatch (-want +got):\n%s", diff)
	}
	if sw := s.sweep(); len(sw.Warned) != 0 {
		t.Errorf("second Sweep = %+v, want no second warning", sw)
	}

	// mallory is in no team: her click changes nothing.
	if got := s.click(mallory, warning, false, buttonID(t, warning, "Extend 7d")); !strings.Contains(got.Params["text"], "that you can see") {
		t.Errorf("mallory's Extend = %q, want not found", got.Params["text"])
	}
	got := s.click(alice, warning, false, buttonID(t, warning, "Extend 7d"))
	if got.Params["user"] != alice.ID || got.Params["thread_ts"] != root.TS ||
		!strings.Contains(got.Params["text"], "Extended scratch-db "+r.Ref()+" by 7d: it now expires "+expires.Add(7*24*time.Hour).UTC().Format("2006-01-02 15:04")) {
		t.Errorf("alice's Extend answered %+v, want the new expiry for her alone, in the thread", got.Params)
	}
	extended := s.resource("scratch-db")
	if want := expires.Add(7 * 24 * time.Hour); !extended.ExpiresAt.Equal(want) {
		t.Fatalf("expiry after Extend = %v, want %v", extended.ExpiresAt, want)
	}
	note := s.reply(root, ":memo: expiry extended")
	if want := ":memo: expiry extended by 7d to " + extended.ExpiresAt.UTC().Format("2006-01-02 15:04 MST") + " by alice"; note.Text != want {
		t.Errorf("the thread says %q, want %q", note.Text, want)
	}

	// The old expiry passes: nothing happens.
	s.clock.Advance(25 * time.Hour)
	if sw := s.sweep(); len(sw.Deprovisioned) != 0 {
		t.Fatalf("Sweep after the old expiry = %+v, want nothing deprovisioned", sw)
	}
	if cur := s.resource("scratch-db"); cur.State != platform.Ready {
		t.Fatalf("after the old expiry: %s, want ready", cur.State)
	}
	// A day before the new expiry, the owners are warned again.
	s.clock.Advance(extended.ExpiresAt.Sub(s.clock.Now()) - govWarnBefore)
	if sw := s.sweep(); !slices.Equal(sw.Warned, []int64{r.ID}) {
		t.Fatalf("Sweep a day before the new expiry = %+v, want %s warned again", sw, r.Ref())
	}
	again := s.reply(root, ":memo: expires in 1d ("+extended.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")+")")
	if got := labels(buttonsOf(t, again.Blocks)); len(got) != 1 {
		t.Errorf("buttons of the second warning = %q, want Extend", got)
	}
	// The new expiry passes: it is deprovisioned, and the thread says so.
	s.clock.Advance(govWarnBefore + time.Minute)
	if sw := s.sweep(); !slices.Equal(sw.Deprovisioned, []int64{r.ID}) {
		t.Fatalf("Sweep after the new expiry = %+v, want %s deprovisioned", sw, r.Ref())
	}
	s.reply(root, ":white_circle: *Deleted*")
	replies := firstLines(texts(s.fake.Replies(root.Channel, root.TS)))
	i := slices.Index(replies, again.Text)
	ident := platformtest.Identifier(r)
	want := []string{
		":wastebasket: *Deleting* — expired (TTL)",
		":small_blue_diamond: dropping database " + ident,
		":small_blue_diamond: dropping role " + ident,
		":white_circle: *Deleted*",
	}
	if diff := cmp.Diff(want, replies[i+1:]); i < 0 || diff != "" {
		t.Errorf("thread after the second warning mismatch (-want +got):\n%s", diff)
	}
	if m := s.thread(r); !strings.Contains(string(m.Blocks), "Deleted") {
		t.Errorf("root message after expiry: %s", m.Blocks)
	}
	r = s.resource("scratch-db")
	var deleting platform.Event
	for _, ev := range s.events(r) {
		if ev.To == platform.Deleting {
			deleting = ev
		}
	}
	if r.State != platform.Deleted || r.Reason != platform.ExpiredReason || deleting.Actor.ID != platform.System.ID {
		t.Errorf("state %s (%q), deletion by %q: want deleted at the end of its TTL by the system", r.State, r.Reason, deleting.Actor.ID)
	}
	if n := s.driver.Count(platformtest.OpDeprovision); n != 1 {
		t.Errorf("deprovisioned %d times, want 1", n)
	}
	s.checkMethods()
}

// TestLostAnswersPostEachMessageOnce: Slack posts a message but its answer
// is lost (a 500 after the post, as when a connection drops): the root,
// the approval card, thread replies and the direct message with the
// connection details are each retried, find the message the lost attempt
// posted, and are posted once.
func TestLostAnswersPostEachMessageOnce(t *testing.T) {
	t.Parallel()
	s := newGovStack(t)
	s.fake.LoseResponses("chat.postMessage", 3) // the root, the card and the first reply, in some order
	r := s.production(alice, "ledger-db")
	root := s.thread(r)
	s.reply(root, ":raised_hand: *Awaiting approval*")
	card := s.card("Approval needed: ledger-db " + r.Ref())

	s.fake.LoseResponses("chat.postMessage", 6) // every reply of the provisioning, the direct message and its note
	s.click(approverUser, card, false, buttonID(t, card, "Approve"))
	s.reply(root, ":lock: Connection details were sent")
	s.card("Approved: ledger-db " + r.Ref())

	var tops []string
	for _, m := range s.fake.Messages(root.Channel) {
		if m.ThreadTS == "" {
			tops = append(tops, m.TS)
		}
	}
	if len(tops) != 1 {
		t.Errorf("%d root messages in %s, want 1", len(tops), root.Channel)
	}
	if n := len(s.fake.Messages(approvalsChannel)); n != 1 {
		t.Errorf("%d messages in the approvals channel, want the one card", n)
	}
	if n := len(s.fake.Messages("D" + alice.ID)); n != 1 {
		t.Errorf("%d direct messages to alice, want the one with the connection details", n)
	}
	got := firstLines(texts(s.fake.Replies(root.Channel, root.TS)))
	want := []string{
		":raised_hand: *Awaiting approval* — requested by alice; needs 1 approval(s)",
		":gear: *Provisioning* — approved by approver (1 of 1); provisioning starts",
		":small_blue_diamond: creating role " + platformtest.Identifier(r),
		":small_blue_diamond: creating database " + platformtest.Identifier(r),
		":white_check_mark: *Ready*",
		":lock: Connection details were sent to <@U0ALICE> by direct message.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	if lost := len(s.fake.Calls("chat.postMessage")) - len(s.fake.AllMessages()); lost != 0 {
		t.Errorf("%d chat.postMessage calls did not leave a message", lost)
	}
	if n := len(s.fake.Calls("conversations.history", "conversations.replies")); n < 9 {
		t.Errorf("%d lookups for the 9 messages whose answers were lost", n)
	}
	s.checkMethods()
}
