package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// postEvent posts an Events API body to /slack/events, signed at ts with
// secret.
func (h *harness) postEvent(body []byte, secret string, ts time.Time) (int, []byte) {
	h.t.Helper()
	hdr := slackfake.Sign(secret, ts, body)
	hdr.Set("Content-Type", "application/json")
	return h.postRaw(EventsPath, body, hdr)
}

// create requests a resource as user through the router.
func (h *harness) create(user slackfake.User, text string) *platform.Resource {
	h.t.Helper()
	rep := h.router.Handle(context.Background(), commands.Request{Actor: platform.Actor{ID: "slack:" + user.ID, Name: user.Name, Email: user.Email}, Platform: Platform, Channel: testChannel, Text: text})
	if rep.Err != nil || rep.Resource == nil {
		h.t.Fatalf("%s: %s", text, rep.Text())
	}
	return rep.Resource
}

// home waits for the n-th view published to user's Home tab and returns it.
func (h *harness) home(user slackfake.User, n int) slackfake.Published {
	h.t.Helper()
	slackfake.Eventually(h.t, 5*time.Second, fmt.Sprintf("home view %d of %s", n, user.ID), func() bool { return len(h.fake.Home(user.ID)) >= n })
	return h.fake.Home(user.ID)[n-1]
}

func TestAppHomeOpenedPublishesMyHome(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.create(alice, "create postgresql-database name=orders-db team=payments")
	h.create(carol, "create postgresql-database name=infra-db team=platform")

	status, body := h.postEvent(h.fake.AppHomeOpened(alice), testSecret, time.Now())
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("app_home_opened: %d %q, want an empty 200", status, body)
	}
	v := h.home(alice, 1)
	text := string(v.JSON)
	for _, want := range []string{"orders-db #1", "infra-db #2", `"type":"home"`, "Catalog", `"action_id":"idp_home_create"`, `"value":"status 1"`} {
		if !strings.Contains(text, want) {
			t.Errorf("alice's home lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Waiting for your approval") {
		t.Errorf("alice approves nothing, her home shows approvals")
	}
	// mallory is in no team: her home has none of them.
	h.postEvent(h.fake.AppHomeOpened(mallory), testSecret, time.Now())
	if text := string(h.home(mallory, 1).JSON); strings.Contains(text, "orders-db") || !strings.Contains(text, "None yet") {
		t.Errorf("mallory's home:\n%s", text)
	}
	// The admin approves: a production request waits for them.
	h.create(alice, "create postgresql-database name=prod-db team=payments env=production high_availability=true")
	h.postEvent(h.fake.AppHomeOpened(admin), testSecret, time.Now())
	if text := string(h.home(admin, 1).JSON); !strings.Contains(text, "Waiting for your approval") || !strings.Contains(text, `"value":"approve 3"`) {
		t.Errorf("admin's home lacks the request waiting for approval:\n%s", text)
	}
}

func TestEventsEndpointRefusesWhatSlackDidNotSign(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.create(alice, "create postgresql-database name=orders-db team=payments")
	body := h.fake.AppHomeOpened(alice)
	tests := []struct {
		name   string
		status int
		post   func() (int, []byte)
	}{
		{"forged", http.StatusUnauthorized, func() (int, []byte) { return h.postEvent(body, "not-the-secret", time.Now()) }},
		{"stale", http.StatusUnauthorized, func() (int, []byte) { return h.postEvent(body, testSecret, time.Now().Add(-10*time.Minute)) }},
		{"unsigned", http.StatusUnauthorized, func() (int, []byte) {
			return h.postRaw(EventsPath, body, http.Header{"Content-Type": {"application/json"}})
		}},
		{"huge", http.StatusRequestEntityTooLarge, func() (int, []byte) {
			big := append(bytes.TrimSuffix(body, []byte("}")), []byte(`,"pad":"`+strings.Repeat("x", MaxEventBody)+`"}`)...)
			return h.postEvent(big, testSecret, time.Now())
		}},
	}
	for _, tt := range tests {
		if status, _ := tt.post(); status != tt.status {
			t.Errorf("%s event: status %d, want %d", tt.name, status, tt.status)
		}
	}
	// A signed event after them publishes; the refused ones published
	// nothing (the adapter has finished what it started once Wait returns).
	h.postEvent(h.fake.AppHomeOpened(carol), testSecret, time.Now())
	h.home(carol, 1)
	h.adapter.Wait()
	if n := len(h.fake.Home(alice.ID)); n != 0 {
		t.Errorf("refused events published %d views", n)
	}
	if calls := h.fake.Calls("views.publish"); len(calls) != 1 {
		t.Errorf("views.publish calls = %d, want 1 (carol's)", len(calls))
	}

	status, got := h.postEvent(slackfake.URLVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"), testSecret, time.Now())
	if status != http.StatusOK || string(got) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification: %d %q, want the challenge", status, got)
	}
	if status, _ := h.postRaw(EventsPath, slackfake.URLVerification("x"), http.Header{"Content-Type": {"application/json"}}); status != http.StatusUnauthorized {
		t.Errorf("unsigned url_verification: status %d, want 401", status)
	}
}

// bigHome is a home with n resources.
func bigHome(n int) *commands.Home {
	h := &commands.Home{Actor: platform.Actor{ID: "slack:U0ALICE"}, Approver: true}
	for i := 1; i <= n; i++ {
		r := &platform.Resource{ID: int64(i), Name: fmt.Sprintf("db-%03d", i), Service: "postgresql-database", Team: "payments", Environment: "development", State: platform.Ready}
		h.Resources = append(h.Resources, commands.HomeItem{Title: fmt.Sprintf("%s %s", r.Name, r.Ref()), Text: "postgresql-database · payments/development · ready",
			Actions: []commands.Action{{Label: "Status", Command: fmt.Sprintf("status %d", i)}, {Label: "Delete", Command: fmt.Sprintf("delete %d", i), Style: "danger"}}, Resource: r})
	}
	h.Approvals = []commands.HomeItem{{Title: "prod-db #999", Text: "waiting 3h 12m", Actions: commands.ApprovalActions(&platform.Resource{ID: 999}),
		Resource: &platform.Resource{ID: 999}}}
	h.Services = []commands.HomeItem{{Title: "PostgreSQL Database (postgresql-database)", Text: "A managed database.", Create: "postgresql-database"}}
	h.Survey = &commands.HomeItem{Title: "How likely are you to recommend the platform?", Actions: []commands.Action{{Label: "9", Command: "nps 9"}}}
	return h
}

func TestHomeViewPaginates(t *testing.T) {
	t.Parallel()
	h := bigHome(120)
	_, pages := HomeView(h, 0)
	if pages < 3 {
		t.Fatalf("120 resources of 2 blocks each fit in %d pages, want at least 3", pages)
	}
	seen := map[string]int{}
	for p := range pages {
		v, _ := HomeView(h, p)
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if probs := slackfake.CheckHomeView(data); len(probs) > 0 {
			t.Errorf("page %d: Slack would refuse it: %q", p, probs)
		}
		if n := len(v.Blocks.BlockSet); n > maxHomeBlocks {
			t.Errorf("page %d has %d blocks", p, n)
		}
		text := string(data)
		if more := strings.Contains(text, `"action_id":"idp_home_page_next","text":{"type":"plain_text","text":"More"`) ||
			strings.Contains(text, `"action_id":"idp_home_page_next"`); more != (p < pages-1) {
			t.Errorf("page %d of %d: More button %v", p, pages, more)
		}
		if prev := strings.Contains(text, `"action_id":"idp_home_page_prev"`); prev != (p > 0) {
			t.Errorf("page %d: Previous button %v", p, prev)
		}
		if p > 0 && !strings.Contains(text, "(continued)") {
			t.Errorf("page %d does not say which part it continues", p)
		}
		for i := 1; i <= 120; i++ {
			if strings.Contains(text, fmt.Sprintf(`"value":"status %d"`, i)) {
				seen[fmt.Sprint(i)]++
			}
		}
	}
	for i := 1; i <= 120; i++ {
		if seen[fmt.Sprint(i)] != 1 {
			t.Errorf("resource %d is on %d pages, want 1", i, seen[fmt.Sprint(i)])
		}
	}
	// A page out of range shows the last one.
	last, _ := HomeView(h, pages-1)
	beyond, _ := HomeView(h, 99)
	if a, b := viewJSON(t, last), viewJSON(t, beyond); a != b {
		t.Error("page 99 is not the last page")
	}
	small, n := HomeView(bigHome(2), 0)
	if n != 1 || strings.Contains(viewJSON(t, small), "idp_home_page") {
		t.Errorf("a small home has %d pages or navigation", n)
	}
	golden(t, "home", small)
}

func viewJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestHomeButtonsRunCommandsAndPages(t *testing.T) {
	t.Parallel()
	org := testOrg()
	org.DefaultQuotas["postgresql-database"] = 100
	f := fixture(t, platformtest.WithOrg(org))
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for i := range 60 {
		h.create(alice, fmt.Sprintf("create postgresql-database name=db-%02d team=payments", i))
	}
	h.postEvent(h.fake.AppHomeOpened(alice), testSecret, time.Now())
	first := h.home(alice, 1)
	if !strings.Contains(string(first.JSON), "idp_home_page_next") {
		t.Fatalf("60 resources fit one page:\n%s", first.JSON)
	}
	// More publishes the next page.
	h.interact(h.fake.HomeClick(alice, first, ActionHomePage+"_next"))
	second := h.home(alice, 2)
	if !strings.Contains(string(second.JSON), "idp_home_page_prev") || !strings.Contains(string(second.JSON), "(continued)") {
		t.Errorf("second page:\n%s", second.JSON)
	}
	// Status runs as alice; the answer comes in her messages with the app,
	// and the Home tab is published again on the page she was on.
	h.interact(h.fake.HomeClick(alice, second, ActionRun+"0"))
	slackfake.Eventually(t, 5*time.Second, "status in alice's messages", func() bool { return len(h.fake.Messages(alice.ID)) > 0 })
	if m := h.fake.Messages(alice.ID)[0]; !strings.Contains(m.Text+string(m.Blocks), "db-") {
		t.Errorf("status answer: %s %s", m.Text, m.Blocks)
	}
	third := h.home(alice, 3)
	if !strings.Contains(string(third.JSON), "idp_home_page_prev") {
		t.Errorf("the home after a click is not the page alice was on")
	}
	// Create opens the service's form with the click's trigger.
	h.interact(h.fake.HomeClick(alice, second, ActionHomeCreate))
	v := h.lastView()
	if !strings.Contains(string(v.JSON), CallbackCreate) {
		t.Errorf("Create opened:\n%s", v.JSON)
	}
}

func TestHomeRefreshedOnceForABurstOfEvents(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	gate := make(chan time.Time)
	h.adapter.homeAfter = func(time.Duration) <-chan time.Time { return gate }
	r := h.create(alice, "create postgresql-database name=orders-db team=payments")
	other := h.create(carol, "create postgresql-database name=infra-db team=platform")
	ctx := context.Background()
	// carol never opened her Home tab: nothing is published for her.
	if err := h.notifier.Notify(ctx, other, platform.Event{ResourceID: other.ID, Kind: platform.EventTransition, To: platform.Pending, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.postEvent(h.fake.AppHomeOpened(alice), testSecret, time.Now())
	h.home(alice, 1)
	for _, to := range []platform.State{platform.Provisioning, platform.Ready} {
		if err := h.notifier.Notify(ctx, r, platform.Event{ResourceID: r.ID, Kind: platform.EventTransition, From: platform.Pending, To: to, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.notifier.Notify(ctx, r, platform.Event{ResourceID: r.ID, Kind: platform.EventStep, Message: "database created", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// A request that starts waiting for approval refreshes the admin's
	// home (the admin approves), not only its requester's.
	h.postEvent(h.fake.AppHomeOpened(admin), testSecret, time.Now())
	h.home(admin, 1)
	prod := h.create(alice, "create postgresql-database name=prod-db team=payments env=production high_availability=true")
	if err := h.notifier.Notify(ctx, prod, platform.Event{ResourceID: prod.ID, Kind: platform.EventTransition, From: platform.Pending, To: platform.AwaitingApproval, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	close(gate)
	h.adapter.Wait()
	if n := len(h.fake.Home(alice.ID)); n != 2 {
		t.Errorf("alice's home published %d times, want 2 (opened, then once for the burst)", n)
	}
	if n := len(h.fake.Home(admin.ID)); n != 2 {
		t.Errorf("admin's home published %d times, want 2 (opened, then once for the request awaiting approval)", n)
	} else if !strings.Contains(string(h.fake.Home(admin.ID)[1].JSON), `"value":"approve `+strconv.FormatInt(prod.ID, 10)+`"`) {
		t.Errorf("admin's refreshed home lacks the request:\n%s", h.fake.Home(admin.ID)[1].JSON)
	}
	if n := len(h.fake.Home(carol.ID)); n != 0 {
		t.Errorf("carol's home published %d times without her opening it", n)
	}
	_ = thread.Root
}

func TestSocketModeEventsAPI(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, appToken: slackfake.DefaultAppToken})
	h.create(alice, "create postgresql-database name=orders-db team=payments")
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = h.adapter.RunSocketMode(ctx, h.router)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	h.fake.WaitSocket(t, 5*time.Second)
	var payload map[string]any
	if err := json.Unmarshal(h.fake.AppHomeOpened(alice), &payload); err != nil {
		t.Fatal(err)
	}
	id, err := h.fake.SendEnvelope("events_api", payload)
	if err != nil {
		t.Fatal(err)
	}
	if ack := h.fake.WaitAck(t, id, 5*time.Second); len(ack.Payload) != 0 {
		t.Errorf("events_api ack payload %s, want none", ack.Payload)
	}
	if text := string(h.home(alice, 1).JSON); !strings.Contains(text, "orders-db") {
		t.Errorf("home over Socket Mode:\n%s", text)
	}
}

var _ = slackapi.VTHomeTab

// The Home tab's Update button opens the update form pre-filled with the
// resource's values, with the click's trigger, rather than answering in
// the person's messages.
func TestHomeUpdateButtonOpensTheForm(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	r := h.create(alice, "create postgresql-database name=orders-db team=payments size=medium")
	// Only a ready resource can be updated: provisioning runs apart.
	slackfake.Eventually(t, 10*time.Second, "orders-db ready", func() bool {
		got, err := f.Store.Resource(context.Background(), r.ID)
		return err == nil && got.State == platform.Ready
	})
	h.postEvent(h.fake.AppHomeOpened(alice), testSecret, time.Now())
	home := h.home(alice, 1)
	var update string
	for _, b := range home.Blocks() {
		els, _ := b["elements"].([]any)
		for _, e := range els {
			if em, _ := e.(map[string]any); em["value"] == "update 1" {
				update, _ = em["action_id"].(string)
			}
		}
	}
	if update == "" {
		t.Fatalf("alice's home has no Update button for orders-db:\n%s", home.JSON)
	}
	h.interact(h.fake.HomeClick(alice, home, update))
	v := h.lastView()
	for _, want := range []string{CallbackUpdate, `"initial_option"`, "medium"} {
		if !strings.Contains(string(v.JSON), want) {
			t.Errorf("the Update button opened a view without %s:\n%s", want, v.JSON)
		}
	}
	if n := len(h.fake.Messages(alice.ID)); n != 0 {
		t.Errorf("the Update button also wrote %d message(s) to alice", n)
	}
}
