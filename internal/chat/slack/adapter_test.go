package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return out
}

func viewMeta(t testing.TB, v slackfake.View) (callback string, md Metadata) {
	t.Helper()
	var view struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
	}
	if err := json.Unmarshal(v.JSON, &view); err != nil {
		t.Fatal(err)
	}
	if view.PrivateMetadata != "" {
		if err := json.Unmarshal([]byte(view.PrivateMetadata), &md); err != nil {
			t.Fatal(err)
		}
	}
	return view.CallbackID, md
}

func resources(t testing.TB, f *platformtest.Fixture) []*platform.Resource {
	t.Helper()
	rs, err := f.Store.Resources(context.Background(), platform.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestCreateModalInlineErrorsAndSubmit(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	status, body := h.slash(alice, "create postgresql-database")
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("slash command ack: %d %q, want an empty 200 (the modal answers)", status, body)
	}
	v := h.lastView()
	if cb, md := viewMeta(t, v); cb != CallbackCreate || md.Service != "postgresql-database" || md.Channel != testChannel {
		t.Fatalf("opened view %s with metadata %+v, want the postgresql-database form for %s", cb, md, testChannel)
	}

	ack := h.submit(v, alice, map[string]string{"name": "Orders DB; drop table", "backup_retention_days": "99"})
	if ack["response_action"] != "errors" {
		t.Fatalf("invalid submission: ack %v, want response_action errors", ack)
	}
	errs := ack["errors"].(map[string]any)
	for _, field := range []string{"name", "team", "backup_retention_days"} {
		if _, ok := errs[field]; !ok {
			t.Errorf("no inline error on %s; errors %v", field, errs)
		}
	}
	if n := len(resources(t, f)); n != 0 {
		t.Fatalf("%d resources after an invalid submission, want 0", n)
	}

	ack = h.submit(v, alice, map[string]string{"name": "orders-db", "team": "payments", "size": "medium"})
	if diff := cmp.Diff(map[string]any{"response_action": "clear"}, ack); diff != "" {
		t.Fatalf("valid submission ack mismatch (-want +got):\n%s", diff)
	}
	// Slack retries a submission it did not see answered: same view, same request.
	if ack := h.submit(v, alice, map[string]string{"name": "orders-db", "team": "payments", "size": "medium"}); ack["response_action"] != "clear" {
		t.Fatalf("retried submission ack %v, want clear", ack)
	}
	rs := resources(t, f)
	if len(rs) != 1 {
		t.Fatalf("%d resources after a submission and its retry, want 1", len(rs))
	}
	r := rs[0]
	want := platform.Origin{Platform: Platform, Channel: testChannel}
	if r.Origin != want || r.Requester.ID != "slack:U0ALICE" || r.IdempotencyKey != "slack:view:"+v.ID+":slack:U0ALICE" ||
		r.Parameters["size"] != "medium" || r.Parameters["backup_retention_days"] != int64(7) || r.Parameters["high_availability"] != false {
		t.Errorf("resource = %+v", r)
	}
	if msgs := h.fake.AllMessages(); len(msgs) != 0 {
		t.Errorf("the handler posted %d messages; the root must come from the outbox", len(msgs))
	}
}

func TestPolicyDenialShowsOnTheFieldItConcerns(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.slash(alice, "create postgresql-database")
	form := h.lastView()
	ack := h.submit(form, alice, map[string]string{"name": "orders-db", "team": "payments", "environment": "production"})
	errs, _ := ack["errors"].(map[string]any)
	msg, _ := errs["high_availability"].(string)
	if !strings.Contains(msg, "must have high_availability enabled") || !strings.Contains(msg, "production-high-availability") {
		t.Fatalf("errors = %v, want the denial on high_availability naming its rule", errs)
	}
	if ack := h.submit(form, alice, map[string]string{"name": "orders-db", "team": "payments", "environment": "production", "high_availability": "true"}); ack["response_action"] != "clear" {
		t.Fatalf("with high availability: ack %v, want clear", ack)
	}
}

func TestQuotaDenialShowsOnTeam(t *testing.T) {
	t.Parallel()
	org := testOrg()
	org.Teams[0].Quotas = map[string]int{"postgresql-database": 0}
	f := fixture(t, platformtest.WithOrg(org))
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.slash(alice, "create postgresql-database")
	ack := h.submit(h.lastView(), alice, map[string]string{"name": "orders-db", "team": "payments"})
	errs, _ := ack["errors"].(map[string]any)
	if msg, _ := errs["team"].(string); !strings.Contains(msg, "team payments has 0 of 0 postgresql-database") {
		t.Fatalf("errors = %v, want the quota on team", errs)
	}
}

func TestUnavailableServiceAnswersInsteadOfAModal(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	status, body := h.slash(alice, "create web-application")
	ack := decode(t, body)
	if status != http.StatusOK || ack["response_type"] != "ephemeral" || !strings.Contains(ack["text"].(string), "no kubernetes target configured") {
		t.Fatalf("ack %d %v, want an ephemeral message with the reason", status, ack)
	}
	if n := len(h.fake.Calls("views.open")); n != 0 {
		t.Errorf("%d views opened for an unavailable service", n)
	}
}

func TestPickerUpdatesToTheChosenForm(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	if status, body := h.slash(alice, "create"); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("ack %d %q", status, body)
	}
	picker := h.lastView()
	if cb, md := viewMeta(t, picker); cb != CallbackPick || md.Channel != testChannel {
		t.Fatalf("opened %s %+v, want the service picker", cb, md)
	}
	if status, body := h.interact(h.fake.ViewSelect(picker, alice, ActionService, "postgresql-database")); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("block_actions ack %d %q, want an empty 200", status, body)
	}
	slackfake.Eventually(t, 5*time.Second, "the picker to become the form", func() bool {
		v, _ := h.fake.View(picker.ID)
		cb, _ := viewMeta(t, v)
		return cb == CallbackCreate
	})
	form, _ := h.fake.View(picker.ID)
	if _, md := viewMeta(t, form); md.Service != "postgresql-database" || md.Channel != testChannel {
		t.Errorf("updated view metadata %+v", md)
	}
	if ack := h.submit(form, alice, map[string]string{"name": "from-picker", "team": "platform"}); ack["response_action"] != "clear" {
		t.Fatalf("submit the form reached from the picker: %v", ack)
	}

	// "Next" on a picker showing an unavailable service: the view explains.
	h.slash(alice, "create")
	status, body := h.interact(slackfake.ViewSubmission(h.lastView(), alice, map[string]string{ActionService: "web-application"}))
	ack := decode(t, body)
	if status != http.StatusOK || ack["response_action"] != "update" || !contains(ack["view"], "no kubernetes target configured") {
		t.Fatalf("Next with an unavailable service: %d %v", status, ack)
	}
	if p := slackfake.CheckView(mustJSON(t, ack["view"])); len(p) > 0 {
		t.Errorf("Slack would reject the updated view: %q", p)
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestOtherVerbsAnswerEphemerally(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for _, tc := range []struct{ text, want string }{
		{"help", "/idp create"},
		{"catalog database", "PostgreSQL Database"},
		{"list", "No resources of your teams"},
		{"status nothing-here", "There is no resource"},
		{"crate x", "Did you mean create?"},
		{"create postgresql-database name=cli-db team=payments --dry-run", "Dry run"},
		{strings.Repeat("x", 10000), "Unknown command"},
	} {
		status, body := h.slash(alice, tc.text)
		ack := decode(t, body)
		if status != http.StatusOK || ack["response_type"] != "ephemeral" || !contains(ack, tc.want) {
			t.Errorf("/idp %.40s: ack %d %.300v, want an ephemeral answer with %q", tc.text, status, ack, tc.want)
		}
		if p := slackfake.CheckBlocks(mustJSON(t, ack["blocks"]), slackfake.SurfaceMessage); len(p) > 0 {
			t.Errorf("/idp %.40s: Slack would reject the answer: %q", tc.text, p)
		}
	}
	if n := len(resources(t, f)); n != 0 {
		t.Errorf("%d resources after a dry run", n)
	}
}

func TestSlowCommandAnswersThroughResponseURL(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, ackBudget: 50 * time.Millisecond})
	h.fake.Delay("users.info", 400*time.Millisecond)
	start := time.Now()
	status, body := h.slash(carol, "help")
	if took := time.Since(start); took > time.Second {
		t.Errorf("ack took %v", took)
	}
	if ack := decode(t, body); status != http.StatusOK || !strings.Contains(ack["text"].(string), "Working on it") {
		t.Fatalf("ack %d %v, want a working-on-it message", status, ack)
	}
	slackfake.Eventually(t, 5*time.Second, "the answer through response_url", func() bool { return len(h.fake.Responses()) == 1 })
	r := h.fake.Responses()[0]
	if !r.ReplaceOriginal || r.ResponseType != "ephemeral" || !strings.Contains(string(r.Blocks), "/idp create") {
		t.Errorf("response = %+v, want the help replacing the working-on-it message", r)
	}
}

func TestDeleteConfirmFlow(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	actor := platform.Actor{ID: "slack:U0ALICE", Name: "alice"}
	r, _, err := f.Engine.Submit(context.Background(), actor, platform.Request{Service: "postgresql-database", Name: "orders-db",
		Team: "payments", Environment: "development", Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
	if err != nil {
		t.Fatal(err)
	}
	f.Settle(r.ID, 5*time.Second)

	_, body := h.slash(alice, "delete orders-db")
	ack := decode(t, body)
	var button struct {
		Value string `json:"value"`
	}
	blocks, _ := ack["blocks"].([]any)
	for _, b := range blocks {
		if bm := b.(map[string]any); bm["type"] == "actions" {
			els := bm["elements"].([]any)
			data, _ := json.Marshal(els[0])
			_ = json.Unmarshal(data, &button)
		}
	}
	if button.Value == "" || !contains(ack, `"style":"danger"`) {
		t.Fatalf("delete answer %v, want a danger button", ack)
	}
	if st := f.Settle(r.ID, time.Second).State; st != platform.Ready {
		t.Fatalf("asking to confirm changed the state to %s", st)
	}

	// Cancel removes the question and deletes nothing.
	h.interact(h.fake.ButtonClick(alice, testChannel, "confirm", ActionCancel, "cancel"))
	slackfake.Eventually(t, 5*time.Second, "the question to be removed", func() bool { return len(h.fake.Responses()) == 1 })
	if !h.fake.Responses()[0].DeleteOriginal {
		t.Errorf("cancel: %+v, want delete_original", h.fake.Responses()[0])
	}

	// mallory cannot delete with alice's button: the command runs as the clicker.
	h.interact(h.fake.ButtonClick(mallory, testChannel, "confirm", ActionConfirm, button.Value))
	slackfake.Eventually(t, 5*time.Second, "the refusal", func() bool { return len(h.fake.Responses()) == 2 })
	if got := h.fake.Responses()[1]; !got.ReplaceOriginal || !strings.Contains(got.Text, "no resource") {
		t.Errorf("mallory's click: %+v, want a refusal replacing the question", got)
	}

	status, body := h.interact(h.fake.ButtonClick(alice, testChannel, "confirm", ActionConfirm, button.Value))
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("click ack %d %q", status, body)
	}
	slackfake.Eventually(t, 5*time.Second, "the result of the deletion", func() bool { return len(h.fake.Responses()) == 3 })
	if got := h.fake.Responses()[2]; !got.ReplaceOriginal || !strings.Contains(strings.ToLower(got.Text), "delet") {
		t.Errorf("deletion answer %+v, want it to replace the question", got)
	}
	if st := f.WaitState(r.ID, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted }).State; st != platform.Deleted {
		t.Errorf("state %s, want deleted", st)
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	teams := func(u slackfake.User) []string {
		t.Helper()
		if _, body := h.slash(u, "create postgresql-database"); len(body) != 0 {
			t.Fatalf("%s: ack %s, want the modal", u.Name, body)
		}
		var view struct {
			Blocks []struct {
				BlockID string `json:"block_id"`
				Element struct {
					Options []struct{ Value string } `json:"options"`
				} `json:"element"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(h.lastView().JSON, &view); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range view.Blocks {
			if b.BlockID == "team" {
				for _, o := range b.Element.Options {
					out = append(out, o.Value)
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		user slackfake.User
		want []string
	}{
		{alice, []string{"payments", "platform"}},
		{carol, []string{"platform"}},
		{dave, []string{"platform"}},
	} {
		if diff := cmp.Diff(tc.want, teams(tc.user)); diff != "" {
			t.Errorf("teams of %s mismatch (-want +got):\n%s", tc.user.Name, diff)
		}
	}
	_, body := h.slash(mallory, "create postgresql-database")
	if !strings.Contains(string(body), "not a member of any team") {
		t.Errorf("mallory: %s, want the no-team message", body)
	}
	infos, groups := len(h.fake.Calls("users.info")), len(h.fake.Calls("usergroups.users.list"))
	teams(carol)
	teams(dave)
	if n := len(h.fake.Calls("users.info")); n != infos {
		t.Errorf("users.info called again for known users: %d → %d", infos, n)
	}
	if n := len(h.fake.Calls("usergroups.users.list")); n != groups || groups != 1 {
		t.Errorf("usergroups.users.list calls %d → %d, want 1 in all (cached)", groups, n)
	}
}

func TestIdentityDegradesWhenSlackFails(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.fake.Fail("usergroups.users.list", 1, http.StatusInternalServerError, 0)
	_, body := h.slash(dave, "create postgresql-database")
	if !strings.Contains(string(body), "not a member of any team") {
		t.Errorf("dave while Slack fails: %s, want ids only (no team)", body)
	}
	if !strings.Contains(h.logs.String(), "slack identity lookup failed") {
		t.Error("the failed lookup was not logged")
	}
	// alice is a member by id: she never depends on the lookups.
	if _, body := h.slash(alice, "list"); !strings.Contains(string(body), "ephemeral") {
		t.Errorf("alice: %s", body)
	}
}

func TestModalThatCannotOpenIsExplained(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.fake.Fail("views.open", 1, http.StatusInternalServerError, 0)
	if status, body := h.slash(alice, "create postgresql-database"); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("ack %d %q", status, body)
	}
	slackfake.Eventually(t, 5*time.Second, "the explanation through response_url", func() bool { return len(h.fake.Responses()) == 1 })
	if r := h.fake.Responses()[0]; r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "Something went wrong (ref: ") {
		t.Errorf("response %+v, want an ephemeral message with a reference", r)
	}
	if !strings.Contains(h.logs.String(), "open modal") {
		t.Error("the failure was not logged with its reference")
	}

	form := h.fake.SlashCommand(alice, testChannel, "create postgresql-database")
	form.Set("trigger_id", "1.2.expired")
	h.post("/slack/commands", form)
	slackfake.Eventually(t, 5*time.Second, "the second explanation", func() bool { return len(h.fake.Responses()) == 2 })
	if r := h.fake.Responses()[1]; !strings.Contains(r.Text, "did not let me open the form in time") {
		t.Errorf("response %+v, want the expired-trigger explanation", r)
	}
	if v := h.fake.TakeViolations(); len(v) != 1 || !strings.Contains(v[0], "invalid_trigger_id") {
		t.Errorf("violations %q, want the unknown trigger", v)
	}
}

func TestReadyInHTTPMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessConfig{engine: fixture(t).Engine})
	if err := h.adapter.Ready(); err != nil {
		t.Errorf("Ready in HTTP mode = %v", err)
	}
	ctx := context.Background()
	if err := h.adapter.Verify(ctx); err != nil {
		t.Errorf("Verify = %v", err)
	}

	// Slack out of reach: not ready until it answers.
	h.fake.Fail("auth.test", 1, http.StatusServiceUnavailable, 0)
	if err := h.adapter.Verify(ctx); err == nil || platform.ErrorCode(err) == platform.Forbidden {
		t.Errorf("Verify with Slack down = %v, want a plain error", err)
	}
	if err := h.adapter.Ready(); err == nil || !strings.Contains(err.Error(), "slack bot token not verified") {
		t.Errorf("Ready after a failed Verify = %v", err)
	}
	if err := h.adapter.Verify(ctx); err != nil || h.adapter.Ready() != nil {
		t.Errorf("Verify once Slack answers = %v, Ready = %v", err, h.adapter.Ready())
	}

	// A refused token is Forbidden, with what to do.
	h.fake.Refuse("auth.test", "token_revoked")
	err := h.adapter.Verify(ctx)
	if platform.ErrorCode(err) != platform.Forbidden || !strings.Contains(platform.ErrorMessage(err), "Slack refused SLACK_BOT_TOKEN (token_revoked)") {
		t.Errorf("Verify with a revoked token = %v", err)
	}
	if h.adapter.Ready() == nil {
		t.Error("ready with a revoked token")
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no token", Config{SigningSecret: "s", Engine: f.Engine}, "bot token"},
		{"no secret", Config{BotToken: "xoxb-1", Engine: f.Engine}, "signing secret"},
		{"bot token as app token", Config{BotToken: "xoxb-1", AppToken: "xoxb-1", Engine: f.Engine}, "xapp-"},
		{"no engine", Config{BotToken: "xoxb-1", SigningSecret: "s"}, "Engine"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error about %s", tc.name, err, tc.want)
		}
	}
}

// recordingMetrics records what the adapter reports.
type recordingMetrics struct {
	mu    sync.Mutex
	lines []string
}

func (m *recordingMetrics) add(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = append(m.lines, s)
}

func (m *recordingMetrics) Ack(p, kind string, _ time.Duration) { m.add("ack " + p + " " + kind) }
func (m *recordingMetrics) Command(p, verb, outcome string, _ time.Duration) {
	m.add("command " + p + " " + verb + " " + outcome)
}
func (m *recordingMetrics) Error(p string, code platform.Code) {
	m.add("error " + p + " " + string(code))
}
func (m *recordingMetrics) ChatCall(p, method, status string) {
	m.add("call " + p + " " + method + " " + status)
}
func (m *recordingMetrics) RateLimited(p string, _ time.Duration) { m.add("ratelimited " + p) }
func (m *recordingMetrics) has(s string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.lines, s)
}

var _ chat.Metrics = (*recordingMetrics)(nil)

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	rec := &recordingMetrics{}
	h.adapter.metrics = rec
	h.adapter.http.Transport.(*chat.CountingTransport).Metrics = rec
	h.slash(alice, "crate")
	h.slash(alice, "create postgresql-database")
	h.lastView()
	for _, want := range []string{
		"ack slack command", "command slack other invalid", "error slack invalid",
		"command slack create ok", "call slack views.open 200",
	} {
		slackfake.Eventually(t, 5*time.Second, want, func() bool { return rec.has(want) })
	}
}
