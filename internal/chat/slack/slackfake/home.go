package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// MaxHomeBlocks is how many blocks a Home tab view holds.
const MaxHomeBlocks = 100

// Published is a Home tab view published with views.publish.
type Published struct {
	// ID and Hash are what the fake answered; Hash changes on every
	// publish.
	ID     string
	Hash   string
	UserID string
	JSON   json.RawMessage
	At     time.Time
}

// Blocks returns the view's blocks, as JSON objects.
func (p Published) Blocks() []map[string]any {
	var v struct {
		Blocks []map[string]any `json:"blocks"`
	}
	_ = json.Unmarshal(p.JSON, &v)
	return v.Blocks
}

// Home returns the views published to user's Home tab, oldest first.
func (s *Server) Home(user string) []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Published
	for _, p := range s.published {
		if p.UserID == user {
			out = append(out, p)
		}
	}
	return out
}

// AllHome returns every view published, oldest first.
func (s *Server) AllHome() []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Published(nil), s.published...)
}

// CheckHomeView returns the problems Slack would reject a Home tab view
// for: its type must be home, it holds at most MaxHomeBlocks valid blocks,
// and its metadata and callback id keep to their lengths.
func CheckHomeView(view json.RawMessage) []string {
	var v map[string]any
	if err := json.Unmarshal(view, &v); err != nil {
		return []string{"view: not a JSON object: " + err.Error()}
	}
	return checkHomeView(v)
}

func checkHomeView(v map[string]any) []string {
	c := &checker{}
	if v["type"] != "home" {
		c.fail("view.type", "must be home for views.publish, got %v", v["type"])
	}
	for _, k := range []string{"title", "submit", "close"} {
		if v[k] != nil {
			c.text("view."+k, v[k], true, MaxModalTitle, false)
		}
	}
	c.maxString("view.private_metadata", v["private_metadata"], MaxPrivateMetadata)
	c.maxString("view.callback_id", v["callback_id"], MaxCallbackID)
	c.maxString("view.external_id", v["external_id"], MaxCallbackID)
	blocks, ok := v["blocks"].([]any)
	if !ok {
		c.fail("view.blocks", "is required")
	}
	c.blocks("view.blocks", blocks, SurfaceHome)
	return c.problems
}

// viewsPublish checks and records a views.publish: user_id and view are
// required (checked against the spec before this), the view must be a
// valid Home tab view, and a hash that is not the user's latest is a
// hash_conflict, as in Slack.
func (s *Server) viewsPublish(w http.ResponseWriter, call *Call) {
	p := call.Params
	if !strings.HasPrefix(p["user_id"], "U") && !strings.HasPrefix(p["user_id"], "W") {
		s.finish(w, call, reply{"ok": false, "error": "invalid_arguments"}, "views.publish: user_id %q is not a user id", p["user_id"])
		return
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(p["view"]), &view); err != nil {
		s.finish(w, call, invalidArguments("view: not a JSON object"), "views.publish: view is not a JSON object: %v", err)
		return
	}
	if probs := checkHomeView(view); len(probs) > 0 {
		s.finish(w, call, invalidArguments(probs...), "views.publish: %s", strings.Join(probs, "; "))
		return
	}
	s.mu.Lock()
	var last *Published
	for i := range s.published {
		if s.published[i].UserID == p["user_id"] {
			last = &s.published[i]
		}
	}
	if h := p["hash"]; h != "" && (last == nil || last.Hash != h) {
		s.mu.Unlock()
		s.finish(w, call, reply{"ok": false, "error": "hash_conflict"}, "")
		return
	}
	s.seq++
	pub := Published{ID: fmt.Sprintf("VH%07d", s.seq), Hash: fmt.Sprintf("%d.home", s.seq), UserID: p["user_id"], JSON: json.RawMessage(p["view"]), At: time.Now()}
	if last != nil {
		pub.ID = last.ID
	}
	s.published = append(s.published, pub)
	s.mu.Unlock()
	s.finish(w, call, viewReply(&View{ID: pub.ID, Hash: pub.Hash, JSON: pub.JSON}), "")
}

// AppHomeOpened returns the Events API body Slack posts when user opens
// the app's Home tab.
func (s *Server) AppHomeOpened(user User) []byte {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{
		"token": "deprecated-verification-token", "team_id": "T0FAKE", "api_app_id": "A0FAKE",
		"type": "event_callback", "event_id": fmt.Sprintf("Ev%08d", n), "event_time": time.Now().Unix(),
		"event": map[string]any{"type": "app_home_opened", "user": user.ID, "channel": "D" + user.ID, "tab": "home",
			"event_ts": fmt.Sprintf("1700000000.%06d", n)},
	})
	return body
}

// URLVerification returns the Events API body of the handshake Slack
// sends when the request URL is set, with challenge.
func URLVerification(challenge string) []byte {
	body, _ := json.Marshal(map[string]any{"token": "deprecated-verification-token", "challenge": challenge, "type": "url_verification"})
	return body
}

// HomeClick returns the payload Slack posts when user clicks the button
// actionID of the Home tab view p: no channel and no response_url, the
// view itself, and a fresh trigger_id. It fails when p has no such button,
// so a test can only click what the bot published.
func (s *Server) HomeClick(user User, p Published, actionID string) (json.RawMessage, error) {
	var action map[string]any
	for _, b := range p.Blocks() {
		els, _ := b["elements"].([]any)
		for _, e := range els {
			em, _ := e.(map[string]any)
			if b["type"] == "actions" && em["type"] == "button" && em["action_id"] == actionID {
				action = map[string]any{"type": "button", "action_id": actionID, "block_id": b["block_id"], "value": em["value"],
					"action_ts": "1700000000.000004"}
			}
		}
	}
	if action == nil {
		return nil, fmt.Errorf("home view %s has no button %q", p.ID, actionID)
	}
	var view map[string]any
	if err := json.Unmarshal(p.JSON, &view); err != nil {
		return nil, err
	}
	view["id"], view["hash"], view["team_id"] = p.ID, p.Hash, "T0FAKE"
	return json.Marshal(map[string]any{
		"type": "block_actions", "user": userRef(user), "api_app_id": "A0FAKE", "trigger_id": s.NewTrigger(),
		"team":      map[string]any{"id": "T0FAKE"},
		"container": map[string]any{"type": "view", "view_id": p.ID},
		"view":      view, "actions": []any{action},
	})
}
