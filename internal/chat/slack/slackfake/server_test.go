package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

func client(s *slackfake.Server) *slackapi.Client {
	return slackapi.New(s.BotToken, slackapi.OptionAPIURL(s.URL()), slackapi.OptionHTTPClient(&http.Client{Timeout: 5 * time.Second}))
}

func TestSpecKnowsTheMethodsTheBotCalls(t *testing.T) {
	t.Parallel()
	spec, err := slackfake.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method   string
		required []string
	}{
		{"views.open", []string{"trigger_id", "view"}},
		{"chat.postMessage", []string{"channel"}},
		{"chat.update", []string{"channel", "ts"}},
		{"usergroups.users.list", []string{"usergroup"}},
	} {
		m, ok := spec.Method(tc.method)
		if !ok {
			t.Errorf("Method(%q) not found", tc.method)
			continue
		}
		if strings.Join(m.Required, ",") != strings.Join(tc.required, ",") {
			t.Errorf("Method(%q).Required = %v, want %v", tc.method, m.Required, tc.required)
		}
	}
	if _, ok := spec.Method("chat.postMesage"); ok {
		t.Error("Method(chat.postMesage) found, want unknown")
	}
}

func TestUnknownMethodAndBadAuthAreRejected(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	post := func(method, token string) map[string]any {
		t.Helper()
		form := url.Values{"channel": {"C1"}, "text": {"hi"}}
		if token != "" {
			form.Set("token", token)
		}
		resp, err := http.PostForm(s.URL()+method, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct{ method, token, want string }{
		{"chat.postMesage", s.BotToken, "unknown_method"},
		{"chat.postMessage", "", "not_authed"},
		{"chat.postMessage", "xoxb-wrong", "invalid_auth"},
		{"apps.connections.open", s.BotToken, "invalid_auth"},
	} {
		if got := post(tc.method, tc.token); got["error"] != tc.want {
			t.Errorf("%s with token %q: error = %v, want %s", tc.method, tc.token, got["error"], tc.want)
		}
	}
	if v := s.TakeViolations(); len(v) != 4 {
		t.Errorf("violations = %q, want 4", v)
	}
}

func TestMissingRequiredParameterIsRejected(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	_, _, err := client(s).PostMessageContext(context.Background(), "", slackapi.MsgOptionText("hi", false))
	if err == nil || !strings.Contains(err.Error(), "invalid_arguments") {
		t.Fatalf("PostMessage without channel: err = %v, want invalid_arguments", err)
	}
	_, err = client(s).GetUserGroupMembersContext(context.Background(), "")
	if err == nil {
		t.Fatal("usergroups.users.list without usergroup succeeded")
	}
	if v := s.TakeViolations(); len(v) != 2 || !strings.Contains(v[0], "channel") || !strings.Contains(v[1], "usergroup") {
		t.Errorf("violations = %q, want channel then usergroup", v)
	}
}

func TestMessagesThreadsAndUpdates(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	ctx := context.Background()
	_, root, err := api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("root", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("reply", false), slackapi.MsgOptionTS(root)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", root, slackapi.MsgOptionText("root v2", false)); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages("C1")
	if len(msgs) != 2 || msgs[0].Text != "root v2" || msgs[0].Updates != 1 || msgs[1].ThreadTS != root {
		t.Errorf("Messages(C1) = %+v, want the updated root and one reply in its thread", msgs)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("orphan", false), slackapi.MsgOptionTS("1.2")); err == nil {
		t.Error("reply to an unknown thread succeeded")
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", "9.9", slackapi.MsgOptionText("x", false)); err == nil {
		t.Error("update of an unknown message succeeded")
	}
	if _, _, err := api.PostMessageContext(ctx, "C1"); err == nil {
		t.Error("message without text or blocks succeeded")
	}
	if v := s.TakeViolations(); len(v) != 3 {
		t.Errorf("violations = %q, want 3", v)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	ctx := context.Background()
	s.Fail("chat.postMessage", 1, http.StatusTooManyRequests, 2*time.Second)
	s.Fail("chat.postMessage", 1, http.StatusInternalServerError, 0)
	_, _, err := api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("a", false))
	var rl *slackapi.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("first post: err = %v, want a RateLimitedError of 2s", err)
	}
	_, _, err = api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("a", false))
	var sc slackapi.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusInternalServerError {
		t.Fatalf("second post: err = %v, want a 500", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("a", false)); err != nil {
		t.Fatalf("third post: %v", err)
	}
	if n := len(s.Messages("C1")); n != 1 {
		t.Errorf("%d messages stored, want 1 (faulted calls store nothing)", n)
	}
	if n := len(s.Calls("chat.postMessage")); n != 3 {
		t.Errorf("%d calls recorded, want 3", n)
	}
}

func TestTriggersWorkOnceAndViewsAreChecked(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	ctx := context.Background()
	good := slackapi.ModalViewRequest{Type: slackapi.VTModal, Title: slackapi.NewTextBlockObject("plain_text", "Hello", false, false),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{slackapi.NewSectionBlock(slackapi.NewTextBlockObject("mrkdwn", "hi", false, false), nil, nil)}}}
	trig := s.NewTrigger()
	v, err := api.OpenViewContext(ctx, trig, good)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID == "" || v.Hash == "" {
		t.Errorf("OpenView = %+v, want an id and a hash", v.View)
	}
	if _, err := api.OpenViewContext(ctx, trig, good); err == nil || !strings.Contains(err.Error(), "exchanged_trigger_id") {
		t.Errorf("second use of a trigger: err = %v, want exchanged_trigger_id", err)
	}
	bad := good
	bad.Title = slackapi.NewTextBlockObject("plain_text", "A title that is much too long for Slack", false, false)
	if _, err := api.OpenViewContext(ctx, s.NewTrigger(), bad); err == nil {
		t.Error("view with a 39-character title opened")
	}
	if _, err := api.UpdateViewContext(ctx, good, "", "stale-hash", v.ID); err == nil || !strings.Contains(err.Error(), "hash_conflict") {
		t.Errorf("update with a stale hash: err = %v, want hash_conflict", err)
	}
	if _, err := api.UpdateViewContext(ctx, good, "", v.Hash, v.ID); err != nil {
		t.Errorf("update: %v", err)
	}
	if got := s.TakeViolations(); len(got) != 2 {
		t.Errorf("violations = %q, want the reused trigger and the long title", got)
	}
}

func TestCheckView(t *testing.T) {
	t.Parallel()
	opts := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"text":{"type":"plain_text","text":"o` + strings.Repeat("x", i%3) + `"},"value":"v` + string(rune('a'+i%26)) + strings.Repeat("z", i/26) + `"}`)
		}
		return b.String()
	}
	input := func(id, element string) string {
		return `{"type":"input","block_id":"` + id + `","label":{"type":"plain_text","text":"L"},"element":` + element + `}`
	}
	view := func(blocks ...string) string {
		return `{"type":"modal","title":{"type":"plain_text","text":"T"},"submit":{"type":"plain_text","text":"Go"},"blocks":[` + strings.Join(blocks, ",") + `]}`
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = `{"type":"divider"}`
	}
	for _, tc := range []struct {
		name, view, want string
	}{
		{"ok", view(input("a", `{"type":"number_input","is_decimal_allowed":false,"min_value":"1","max_value":"10","initial_value":"2"}`)), ""},
		{"101 blocks", view(many...), "101 blocks"},
		{"101 options", view(input("a", `{"type":"static_select","options":[`+opts(101)+`]}`)), "1–100 options"},
		{"100 options", view(input("a", `{"type":"static_select","options":[`+opts(100)+`]}`)), ""},
		{"duplicate block_id", view(input("a", `{"type":"plain_text_input"}`), input("a", `{"type":"plain_text_input"}`)), "duplicate block_id"},
		{"number outside bounds", view(input("a", `{"type":"number_input","is_decimal_allowed":false,"min_value":"1","max_value":"10","initial_value":"11"}`)), "outside"},
		{"decimal in integer input", view(input("a", `{"type":"number_input","is_decimal_allowed":false,"min_value":"1.5"}`)), "whole number"},
		{"initial option not an option", view(input("a", `{"type":"static_select","options":[`+opts(2)+`],"initial_option":{"text":{"type":"plain_text","text":"zz"},"value":"q"}}`)), "not one of the options"},
		{"button in input", view(input("a", `{"type":"button","text":{"type":"plain_text","text":"b"}}`)), "cannot be the element"},
		{"metadata", `{"type":"modal","title":{"type":"plain_text","text":"T"},"private_metadata":"` + strings.Repeat("m", 3001) + `","blocks":[]}`, "private_metadata"},
		{"no submit", `{"type":"modal","title":{"type":"plain_text","text":"T"},"blocks":[` + input("a", `{"type":"plain_text_input"}`) + `]}`, "submit"},
		{"mrkdwn title", `{"type":"modal","title":{"type":"mrkdwn","text":"T"},"blocks":[]}`, "plain_text"},
		{"text too long", view(`{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("x", 3001) + `"}}`), "1–3000"},
		{"eleven checkboxes", view(input("a", `{"type":"checkboxes","options":[`+opts(11)+`]}`)), "1–10 options"},
	} {
		got := strings.Join(slackfake.CheckView(json.RawMessage(tc.view)), "; ")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: CheckView = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckErrorsResponse(t *testing.T) {
	t.Parallel()
	view := json.RawMessage(`{"blocks":[{"type":"section","block_id":"intro","text":{"type":"mrkdwn","text":"x"}},{"type":"input","block_id":"name"}]}`)
	if p := slackfake.CheckErrorsResponse(view, map[string]string{"name": "is required"}); len(p) != 0 {
		t.Errorf("errors on an input block: %q, want none", p)
	}
	if p := slackfake.CheckErrorsResponse(view, map[string]string{"intro": "x"}); len(p) != 1 {
		t.Errorf("errors on a section block: %q, want one problem", p)
	}
}

func TestResponseURL(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	u := s.NewResponseURL()
	err := slackapi.PostWebhookContext(context.Background(), u, &slackapi.WebhookMessage{Text: "done", ResponseType: "ephemeral", ReplaceOriginal: true})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Responses()
	if len(r) != 1 || r[0].Text != "done" || !r[0].ReplaceOriginal || r[0].ResponseType != "ephemeral" {
		t.Errorf("Responses = %+v", r)
	}
}

func TestUnknownParameterIsRejected(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	form := url.Values{"token": {s.BotToken}, "channel": {"C1"}, "text": {"hi"}, "thread": {"1.2"}}
	resp, err := http.PostForm(s.URL()+"chat.postMessage", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out["error"] != "invalid_arguments" || len(s.Messages("C1")) != 0 {
		t.Errorf("chat.postMessage with a misspelt thread_ts = %v, want invalid_arguments and nothing posted", out)
	}
	if v := s.TakeViolations(); len(v) != 1 || !strings.Contains(v[0], "parameter thread") {
		t.Errorf("violations = %q, want the unknown parameter", v)
	}
}

func TestEphemeralChannelsAndRefusals(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	ctx := context.Background()
	if _, err := api.PostEphemeralContext(ctx, "C1", "U1", slackapi.MsgOptionText("only you", false), slackapi.MsgOptionTS("1.2")); err != nil {
		t.Fatal(err)
	}
	if e := s.Ephemeral(); len(e) != 1 || e[0].Params["user"] != "U1" || e[0].Params["thread_ts"] != "1.2" || len(s.Messages("C1")) != 0 {
		t.Errorf("Ephemeral() = %+v, want the message for U1 in thread 1.2, and no channel message", e)
	}
	s.DenyChannel("C2", "channel_not_found")
	if _, err := api.PostEphemeralContext(ctx, "C2", "U1", slackapi.MsgOptionText("x", false)); err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("ephemeral in a denied channel: %v, want channel_not_found", err)
	}

	s.SetChannel(slackfake.Channel{ID: "C1", Members: 12, IsMember: true})
	ch, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C1", IncludeNumMembers: true})
	if err != nil || ch.NumMembers != 12 || !ch.IsMember {
		t.Errorf("conversations.info(C1) = %+v, %v; want 12 members with the bot", ch, err)
	}
	if _, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C9"}); err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("conversations.info of an unknown channel: %v", err)
	}
	s.Refuse("conversations.info", "missing_scope")
	if _, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C1"}); err == nil || !strings.Contains(err.Error(), "missing_scope") {
		t.Errorf("refused conversations.info: %v, want missing_scope", err)
	}
	s.Refuse("conversations.info", "")
	if _, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C1"}); err != nil {
		t.Errorf("conversations.info after the refusal was lifted: %v", err)
	}
	if v := s.TakeViolations(); len(v) != 0 {
		t.Errorf("violations = %q, want none: these are answers, not mistakes", v)
	}
}

func TestClickOnlyWhatWasRendered(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	m := slackfake.Message{Channel: "C1", TS: "1700000000.000009", ThreadTS: "1700000000.000001",
		Blocks: json.RawMessage(`[{"type":"actions","block_id":"actions","elements":[{"type":"button","action_id":"idp_run_0","value":"status #1","text":{"type":"plain_text","text":"Status"}}]}]`)}
	payload, err := s.Click(slackfake.User{ID: "U1", Name: "u"}, m, false, "idp_run_0")
	if err != nil {
		t.Fatal(err)
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		t.Fatal(err)
	}
	act := cb.ActionCallback.BlockActions
	if cb.Type != slackapi.InteractionTypeBlockActions || len(act) != 1 || act[0].Value != "status #1" || act[0].BlockID != "actions" ||
		cb.Container.ThreadTs != m.ThreadTS || cb.Message.Timestamp != m.TS || cb.User.ID != "U1" || cb.TriggerID == "" || cb.ResponseURL == "" {
		t.Errorf("click payload = %s", payload)
	}
	if _, err := s.Click(slackfake.User{ID: "U1"}, m, false, "idp_run_1"); err == nil {
		t.Error("a click on a button the message does not have succeeded")
	}
}
