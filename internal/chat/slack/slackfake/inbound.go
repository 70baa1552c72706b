package slackfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// This file builds what Slack sends to the app: signed slash commands and
// interaction payloads, as a person would cause them.

// Sign returns the X-Slack-Signature and X-Slack-Request-Timestamp headers
// Slack sends with body at time ts.
func Sign(secret string, ts time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", stamp)
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}

// SlashCommand returns the form Slack posts when user types "/idp text" in
// channel, with a fresh trigger_id and response_url.
func (s *Server) SlashCommand(user User, channel, text string) url.Values {
	return url.Values{
		"token":        {"deprecated-verification-token"},
		"team_id":      {"T0FAKE"},
		"team_domain":  {"fake"},
		"channel_id":   {channel},
		"channel_name": {"fake-channel"},
		"user_id":      {user.ID},
		"user_name":    {user.Name},
		"command":      {"/idp"},
		"text":         {text},
		"api_app_id":   {"A0FAKE"},
		"response_url": {s.NewResponseURL()},
		"trigger_id":   {s.NewTrigger()},
	}
}

// SlashCommandPayload is SlashCommand as the JSON payload of a Socket Mode
// envelope.
func (s *Server) SlashCommandPayload(user User, channel, text string) map[string]string {
	out := map[string]string{}
	for k, v := range s.SlashCommand(user, channel, text) {
		out[k] = v[0]
	}
	return out
}

// InteractionForm wraps an interaction payload as the form body Slack posts.
func InteractionForm(payload json.RawMessage) url.Values {
	return url.Values{"payload": {string(payload)}}
}

func userRef(u User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": "T0FAKE"}
}

// viewState returns v as Slack sends it back in an interaction: with its id,
// hash and the state of every input (the answer given by block_id, else the
// input's initial value, as a person who left it alone would submit).
func viewState(v View, answers map[string]string) (map[string]any, error) {
	var view map[string]any
	if err := json.Unmarshal(v.JSON, &view); err != nil {
		return nil, err
	}
	values := map[string]any{}
	blocks, _ := view["blocks"].([]any)
	for _, raw := range blocks {
		b, _ := raw.(map[string]any)
		if b["type"] != "input" {
			continue
		}
		id, _ := b["block_id"].(string)
		el, _ := b["element"].(map[string]any)
		actionID, _ := el["action_id"].(string)
		typ, _ := el["type"].(string)
		answer, answered := answers[id]
		state := map[string]any{"type": typ}
		switch typ {
		case "static_select", "radio_buttons":
			var sel any = el["initial_option"]
			if answered {
				sel = nil
				opts, _ := el["options"].([]any)
				for _, o := range opts {
					if om, _ := o.(map[string]any); om["value"] == answer {
						sel = om
					}
				}
				if sel == nil {
					return nil, fmt.Errorf("block %s has no option %q", id, answer)
				}
			}
			if sel != nil {
				state["selected_option"] = sel
			} else {
				state["selected_option"] = nil
			}
		case "checkboxes":
			selected := []any{}
			if inits, ok := el["initial_options"].([]any); ok && !answered {
				selected = inits
			}
			if answered && answer == "true" {
				opts, _ := el["options"].([]any)
				selected = opts[:1]
			}
			state["selected_options"] = selected
		default:
			if answered {
				state["value"] = answer
			} else if iv, ok := el["initial_value"].(string); ok {
				state["value"] = iv
			} else {
				state["value"] = nil
			}
		}
		values[id] = map[string]any{actionID: state}
	}
	view["id"] = v.ID
	view["hash"] = v.Hash
	view["team_id"] = "T0FAKE"
	view["app_id"] = "A0FAKE"
	view["state"] = map[string]any{"values": values}
	return view, nil
}

// ViewSubmission returns the payload Slack posts when user submits view v
// with answers by block_id (inputs not answered keep their initial value).
func ViewSubmission(v View, user User, answers map[string]string) (json.RawMessage, error) {
	view, err := viewState(v, answers)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]any{"id": "T0FAKE", "domain": "fake"},
		"user": userRef(user), "api_app_id": "A0FAKE", "token": "deprecated-verification-token",
		"trigger_id": fmt.Sprintf("%d.view.submit", time.Now().UnixNano()), "view": view,
		"response_urls": []any{}, "is_enterprise_install": false,
	})
}

// ViewSelect returns the payload Slack posts when user picks option value of
// the select in block (with dispatch_action) of view v.
func (s *Server) ViewSelect(v View, user User, block, value string) (json.RawMessage, error) {
	view, err := viewState(v, map[string]string{block: value})
	if err != nil {
		return nil, err
	}
	state := view["state"].(map[string]any)["values"].(map[string]any)[block].(map[string]any)
	var action map[string]any
	for actionID, st := range state {
		action = map[string]any{"type": "static_select", "action_id": actionID, "block_id": block,
			"selected_option": st.(map[string]any)["selected_option"], "action_ts": "1700000000.000001"}
	}
	return json.Marshal(map[string]any{
		"type": "block_actions", "user": userRef(user), "api_app_id": "A0FAKE", "trigger_id": s.NewTrigger(),
		"team": map[string]any{"id": "T0FAKE"}, "container": map[string]any{"type": "view", "view_id": v.ID},
		"view": view, "actions": []any{action},
	})
}

// ButtonClick returns the payload Slack posts when user clicks the button
// actionID (carrying value) of an ephemeral message in channel, with a fresh
// response_url for that message.
func (s *Server) ButtonClick(user User, channel, block, actionID, value string) (json.RawMessage, error) {
	return json.Marshal(map[string]any{
		"type": "block_actions", "user": userRef(user), "api_app_id": "A0FAKE", "trigger_id": s.NewTrigger(),
		"team": map[string]any{"id": "T0FAKE"}, "channel": map[string]any{"id": channel, "name": "fake-channel"},
		"container":    map[string]any{"type": "message", "channel_id": channel, "is_ephemeral": true, "message_ts": "1700000000.000000"},
		"response_url": s.NewResponseURL(),
		"actions": []any{map[string]any{"type": "button", "action_id": actionID, "block_id": block, "value": value,
			"action_ts": "1700000000.000002"}},
	})
}

// Click returns the payload Slack posts when user clicks the button
// actionID of message m (as posted: its channel, ts, thread and blocks;
// ephemeral for a message only user sees, such as a command's answer), with
// a fresh trigger_id and response_url. It fails when m has no such button,
// so a test can only click what the bot rendered.
func (s *Server) Click(user User, m Message, ephemeral bool, actionID string) (json.RawMessage, error) {
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if len(m.Blocks) > 0 {
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			return nil, fmt.Errorf("blocks of message %s: %w", m.TS, err)
		}
	}
	var action map[string]any
	for _, b := range blocks {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.Type == "button" && e.ActionID == actionID {
				action = map[string]any{"type": "button", "action_id": e.ActionID, "block_id": b.BlockID, "value": e.Value,
					"action_ts": "1700000000.000003"}
			}
		}
	}
	if action == nil {
		return nil, fmt.Errorf("message %s in %s has no button %q", m.TS, m.Channel, actionID)
	}
	ts := m.TS
	if ts == "" {
		ts = "1700000000.000000"
	}
	container := map[string]any{"type": "message", "channel_id": m.Channel, "is_ephemeral": ephemeral, "message_ts": ts}
	message := map[string]any{"type": "message", "ts": ts, "text": m.Text, "blocks": json.RawMessage(m.Blocks), "user": BotUserID, "bot_id": "B0FAKE"}
	if len(m.Blocks) == 0 {
		message["blocks"] = []any{}
	}
	if m.ThreadTS != "" {
		container["thread_ts"] = m.ThreadTS
		message["thread_ts"] = m.ThreadTS
	}
	payload := map[string]any{
		"type": "block_actions", "user": userRef(user), "api_app_id": "A0FAKE", "trigger_id": s.NewTrigger(),
		"team": map[string]any{"id": "T0FAKE"}, "channel": map[string]any{"id": m.Channel, "name": "fake-channel"},
		"container": container, "response_url": s.NewResponseURL(), "actions": []any{action},
	}
	if !ephemeral {
		// Slack sends the message clicked on, except for ephemeral ones.
		payload["message"] = message
	}
	return json.Marshal(payload)
}
