// Package slackfake is a fake Slack for tests: a Web API server (built on
// slack-go's slacktest server) that records what the real slack-go client
// sends and rejects what the real API would reject — unknown methods,
// missing required parameters (per Slack's OpenAPI description), bad tokens,
// expired trigger ids and Block Kit payloads over Slack's documented limits —
// plus response_url endpoints and a Socket Mode websocket.
//
// Every rejection the bot should never cause is also recorded as a
// violation, and the test fails at cleanup if any is left unclaimed.
//
// Slack's rate limits are off unless a test turns them on with
// SetLimits (DocumentedLimits, Scaled); Stats counts calls, 429s, posts
// per channel and duplicate posts for load tests.
package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// Tokens the fake accepts unless a test sets others.
const (
	DefaultBotToken = "xoxb-fake-bot-token"
	DefaultAppToken = "xapp-fake-app-token"
	// BotUserID is the bot's own user id.
	BotUserID = "UBOT00001"
)

// TriggerLifetime is how long a trigger_id can open a view, as in Slack.
const TriggerLifetime = 3 * time.Second

// extraMethods are real methods missing from the OpenAPI description, which
// predates Socket Mode.
var extraMethods = map[string]bool{"apps.connections.open": true}

// extraParams are real parameters missing from the OpenAPI description,
// which predates message metadata (2022): chat.postMessage's metadata and
// the history methods' include_all_metadata.
var extraParams = map[string][]string{
	"chat.postMessage":      {"metadata"},
	"conversations.history": {"include_all_metadata"},
	"conversations.replies": {"include_all_metadata"},
}

// metadataEventType is the format Slack documents for a metadata event
// type: alphanumerics and underscores.
var metadataEventType = regexp.MustCompile(`^[a-zA-Z0-9_]{1,255}$`)

// Call is one Web API request the fake received.
type Call struct {
	Method string
	// Params holds every parameter (query, form or JSON body) but the token;
	// JSON objects and arrays are kept as their JSON text.
	Params map[string]string
	// Status is the HTTP status answered and Error the Slack error code
	// ("" when ok).
	Status int
	Error  string
	At     time.Time
}

// JSON decodes the JSON parameter key (view, blocks) into v.
func (c Call) JSON(key string, v any) error {
	return json.Unmarshal([]byte(c.Params[key]), v)
}

// Message is a message posted with chat.postMessage, as last updated.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	// Metadata is the message metadata it was posted with, if any.
	Metadata json.RawMessage
	// Updates counts chat.update calls applied to it.
	Updates int
	// At is when it was posted.
	At time.Time
}

// View is a modal opened with views.open, as last updated.
type View struct {
	ID        string
	Hash      string
	TriggerID string
	JSON      json.RawMessage
	Updates   int
}

// Response is a message posted to a response_url.
type Response struct {
	ID              string
	Text            string
	Blocks          json.RawMessage
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	At              time.Time
}

// Channel is a conversation conversations.info knows.
type Channel struct {
	ID string
	// Members is how many members it has, the bot included when IsMember.
	Members  int
	IsMember bool
}

// User is a workspace member users.info knows.
type User struct {
	ID    string
	Name  string
	Email string
}

type fault struct {
	status     int
	retryAfter time.Duration
}

type trigger struct {
	issued time.Time
	used   bool
}

// Server is a fake Slack. Create it with New; it stops when the test ends.
type Server struct {
	// BotToken and AppToken are the tokens it accepts.
	BotToken string
	AppToken string

	tb   testing.TB
	spec *Spec
	st   *slacktest.Server

	mu         sync.Mutex
	seq        int
	calls      []Call
	faults     map[string][]fault
	lost       map[string]int
	delays     map[string]time.Duration
	users      map[string]User
	groups     map[string][]string
	denied     map[string]string
	refused    map[string]string
	channels   map[string]Channel
	msgs       []*Message
	ephemeral  []Call
	views      map[string]*View
	viewOrder  []string
	triggers   map[string]*trigger
	hooks      map[string]int
	responses  []Response
	violations []string
	published  []Published
	limiter    limiter
	posted     map[string]bool
	duplicates []Message

	socket socket
}

// New starts a fake Slack whose Web API base URL is URL(). It loads
// Slack's OpenAPI description (see SpecPath) and fails the test if it
// cannot; at cleanup it stops and fails the test for every unclaimed
// violation.
func New(tb testing.TB) *Server {
	tb.Helper()
	spec, err := LoadSpec()
	if err != nil {
		tb.Fatalf("slackfake: %v", err)
	}
	s := &Server{
		BotToken: DefaultBotToken,
		AppToken: DefaultAppToken,
		tb:       tb,
		spec:     spec,
		faults:   map[string][]fault{},
		lost:     map[string]int{},
		delays:   map[string]time.Duration{},
		users:    map[string]User{},
		groups:   map[string][]string{},
		denied:   map[string]string{},
		refused:  map[string]string{},
		channels: map[string]Channel{},
		views:    map[string]*View{},
		triggers: map[string]*trigger{},
		hooks:    map[string]int{},
		limiter:  limiter{due: map[string]time.Time{}},
		posted:   map[string]bool{},
	}
	s.socket.init()
	// slacktest serves a default handler for a few methods; binding ours
	// first takes those paths over, so every call is checked the same way.
	s.st = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/ws", s.serveSocket)
		c.Handle("/response/", s.serveResponse)
		for _, p := range []string{"/conversations.info", "/rtm.start", "/rtm.connect", "/chat.postMessage",
			"/chat.postEphemeral", "/conversations.create", "/conversations.setTopic", "/conversations.setPurpose",
			"/conversations.rename", "/conversations.invite", "/conversations.inviteShared", "/users.info",
			"/users.lookupByEmail", "/bots.info", "/auth.test", "/reactions.add", "/apps.connections.open", "/"} {
			c.Handle(p, s.serveAPI)
		}
	})
	s.st.Start()
	tb.Cleanup(func() {
		s.socket.closeAll()
		s.st.Stop()
		for _, v := range s.TakeViolations() {
			tb.Errorf("slackfake: the real Slack would reject this: %s", v)
		}
	})
	return s
}

// URL returns the Web API base URL (with its trailing slash), for
// slack.OptionAPIURL and SLACK_API_URL.
func (s *Server) URL() string { return s.st.GetAPIURL() }

// AddUser makes a workspace member known to users.info and users.lookupByEmail.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// SetUsergroup sets the members of a user group (usergroups.users.list).
func (s *Server) SetUsergroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(members)
}

// DenyChannel makes posting to channel fail with the Slack error code
// (not_in_channel, channel_not_found, is_archived), as for a channel the
// bot cannot post in.
func (s *Server) DenyChannel(channel, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[channel] = code
}

// Refuse makes every call of method answer ok:false with the Slack error
// code (missing_scope, not_allowed_token_type), as a workspace that did
// not grant what the method needs; an empty code lifts it. These are
// answers the bot must handle, not violations.
func (s *Server) Refuse(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.refused, method)
		return
	}
	s.refused[method] = code
}

// SetChannel makes a channel known to conversations.info.
func (s *Server) SetChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[c.ID] = c
}

// Fail makes the next n calls of method answer with HTTP status: 429 with
// a Retry-After header of retryAfter (whole seconds, at least 1), or a 5xx
// with an HTML body like Slack's edge.
func (s *Server) Fail(method string, n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: status, retryAfter: retryAfter})
	}
}

// LoseResponses makes the next n successful calls of method act as
// usual but answer HTTP 500, as when Slack posted the message and the
// answer was lost on the way back (a timeout, a dropped connection).
func (s *Server) LoseResponses(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost[method] += n
}

// Delay makes every call of method wait d before it is answered (0 removes
// the delay), as a slow Slack would.
func (s *Server) Delay(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[method] = d
}

// NewTrigger issues a trigger_id valid for TriggerLifetime and one view.
func (s *Server) NewTrigger() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%d.%d.fake%04d", time.Now().Unix(), s.seq, s.seq)
	s.triggers[id] = &trigger{issued: time.Now()}
	return id
}

// NewResponseURL issues a response_url, as Slack sends with commands and
// interactions.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("T0FAKE/%d/hook%04d", s.seq, s.seq)
	s.hooks[id] = 0
	return s.URL() + "response/" + id
}

// Calls returns the calls received, in order, of the given methods (all
// when none is given).
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the messages posted in channel (roots and replies), in
// posting order, as last updated.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// AllMessages returns every message posted, in posting order.
func (s *Server) AllMessages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
	}
	return out
}

// Replies returns the replies in the thread of the message ts, in order.
func (s *Server) Replies(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Ephemeral returns the chat.postEphemeral calls received.
func (s *Server) Ephemeral() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ephemeral)
}

// Views returns the views opened, in order, as last updated.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, len(s.viewOrder))
	for i, id := range s.viewOrder {
		out[i] = *s.views[id]
	}
	return out
}

// View returns the view with the given id.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return *v, true
}

// Responses returns what was posted to response_urls, in order.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.responses)
}

// TakeViolations returns and forgets the violations recorded so far, for
// tests that provoke them on purpose.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

// Eventually polls cond until it holds or timeout passes, then fails the
// test with what.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(wait*2, 50*time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(wait)
	}
}

// reply is a Web API answer.
type reply map[string]any

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	params, token, err := readParams(r)
	call := Call{Method: method, Params: params, Status: http.StatusOK, At: time.Now()}
	if err != nil {
		s.finish(w, &call, reply{"ok": false, "error": "invalid_form_data"}, "%s: %v", method, err)
		return
	}
	s.mu.Lock()
	if d := s.delays[method]; d > 0 {
		s.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		s.mu.Lock()
	}
	if fs := s.faults[method]; len(fs) > 0 {
		f := fs[0]
		s.faults[method] = fs[1:]
		call.Status = f.status
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		if f.status == http.StatusTooManyRequests {
			writeRateLimited(w, f.retryAfter)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, "<html><body>Slack is having trouble</body></html>")
		return
	}
	s.mu.Unlock()

	m, known := s.spec.Method(method)
	if !known && !extraMethods[method] {
		s.finish(w, &call, reply{"ok": false, "error": "unknown_method"}, "unknown method %q", method)
		return
	}
	want := s.BotToken
	if method == "apps.connections.open" {
		want = s.AppToken
	}
	switch token {
	case "":
		s.finish(w, &call, reply{"ok": false, "error": "not_authed"}, "%s without a token", method)
		return
	case want:
	default:
		s.finish(w, &call, reply{"ok": false, "error": "invalid_auth"}, "%s with the wrong token", method)
		return
	}
	for _, p := range m.Required {
		if params[p] == "" {
			s.finish(w, &call, invalidArguments("missing required field: "+p), "%s without required parameter %s", method, p)
			return
		}
	}
	for p := range params {
		if len(m.Params) > 0 && !slices.Contains(m.Params, p) && !slices.Contains(extraParams[method], p) {
			s.finish(w, &call, invalidArguments("unknown field: "+p), "%s with parameter %s, which the method does not take", method, p)
			return
		}
	}
	s.mu.Lock()
	ok, wait := s.limiter.take(method, params["channel"])
	if !ok {
		call.Status, call.Error = http.StatusTooManyRequests, "ratelimited"
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		writeRateLimited(w, wait)
		return
	}
	code := s.refused[method]
	s.mu.Unlock()
	if code != "" {
		s.finish(w, &call, reply{"ok": false, "error": code}, "")
		return
	}
	s.handle(w, &call)
}

// writeRateLimited answers 429 as Slack does: Retry-After in whole
// seconds (see retryAfterSeconds) and a ratelimited error.
func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
}

func invalidArguments(msgs ...string) reply {
	for i, m := range msgs {
		msgs[i] = "[ERROR] " + m
	}
	return reply{"ok": false, "error": "invalid_arguments", "response_metadata": map[string]any{"messages": msgs}}
}

// finish records call and answers body; a non-empty violation format records
// a violation.
func (s *Server) finish(w http.ResponseWriter, call *Call, body reply, violation string, args ...any) {
	s.mu.Lock()
	if e, ok := body["error"].(string); ok {
		call.Error = e
	}
	lost := false
	if ok, _ := body["ok"].(bool); ok && s.lost[call.Method] > 0 {
		s.lost[call.Method]--
		lost = true
		call.Status = http.StatusInternalServerError
	}
	s.calls = append(s.calls, *call)
	if violation != "" {
		s.violations = append(s.violations, fmt.Sprintf(violation, args...))
	}
	s.mu.Unlock()
	if lost {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html><body>Slack is having trouble</body></html>")
		return
	}
	writeJSON(w, call.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) handle(w http.ResponseWriter, call *Call) {
	p := call.Params
	switch call.Method {
	case "auth.test":
		s.finish(w, call, reply{"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "idpbot",
			"team_id": "T0FAKE", "user_id": BotUserID, "bot_id": "B0FAKE"}, "")
	case "apps.connections.open":
		s.finish(w, call, reply{"ok": true, "url": s.st.GetWSURL()}, "")
	case "views.open":
		s.viewsOpen(w, call)
	case "views.update":
		s.viewsUpdate(w, call)
	case "views.publish":
		s.viewsPublish(w, call)
	case "chat.postMessage":
		s.postMessage(w, call)
	case "chat.update":
		s.updateMessage(w, call)
	case "conversations.history", "conversations.replies":
		s.history(w, call)
	case "chat.postEphemeral":
		s.mu.Lock()
		code := s.denied[p["channel"]]
		s.mu.Unlock()
		if code != "" {
			s.finish(w, call, reply{"ok": false, "error": code}, "")
			return
		}
		if probs := checkMessage(p); len(probs) > 0 {
			s.finish(w, call, reply{"ok": false, "error": "invalid_blocks"}, "chat.postEphemeral: %s", strings.Join(probs, "; "))
			return
		}
		s.mu.Lock()
		s.ephemeral = append(s.ephemeral, *call)
		ts := s.nextTS()
		s.mu.Unlock()
		s.finish(w, call, reply{"ok": true, "message_ts": ts}, "")
	case "conversations.open":
		users := strings.Split(p["users"], ",")
		if p["users"] == "" && p["channel"] == "" {
			s.finish(w, call, reply{"ok": false, "error": "users_list_not_supplied"}, "conversations.open without users or channel")
			return
		}
		if len(users) != 1 {
			s.finish(w, call, reply{"ok": true, "channel": map[string]any{"id": "G" + strings.Join(users, "")}}, "")
			return
		}
		s.finish(w, call, reply{"ok": true, "channel": map[string]any{"id": "D" + users[0], "is_im": true, "user": users[0]}}, "")
	case "conversations.info":
		s.mu.Lock()
		c, ok := s.channels[p["channel"]]
		s.mu.Unlock()
		if !ok {
			s.finish(w, call, reply{"ok": false, "error": "channel_not_found"}, "")
			return
		}
		ch := map[string]any{"id": c.ID, "is_channel": true, "is_member": c.IsMember}
		if p["include_num_members"] == "true" {
			ch["num_members"] = c.Members
		}
		s.finish(w, call, reply{"ok": true, "channel": ch}, "")
	case "users.info":
		s.mu.Lock()
		u, ok := s.users[p["user"]]
		s.mu.Unlock()
		if !ok {
			s.finish(w, call, reply{"ok": false, "error": "user_not_found"}, "")
			return
		}
		s.finish(w, call, reply{"ok": true, "user": userJSON(u)}, "")
	case "users.lookupByEmail":
		s.mu.Lock()
		var found *User
		for _, u := range s.users {
			if strings.EqualFold(u.Email, p["email"]) {
				found = &u
				break
			}
		}
		s.mu.Unlock()
		if found == nil {
			s.finish(w, call, reply{"ok": false, "error": "users_not_found"}, "")
			return
		}
		s.finish(w, call, reply{"ok": true, "user": userJSON(*found)}, "")
	case "usergroups.users.list":
		s.mu.Lock()
		members, ok := s.groups[p["usergroup"]]
		s.mu.Unlock()
		if !ok {
			s.finish(w, call, reply{"ok": false, "error": "no_such_subteam"}, "")
			return
		}
		s.finish(w, call, reply{"ok": true, "users": members}, "")
	default:
		s.finish(w, call, reply{"ok": true}, "")
	}
}

func userJSON(u User) map[string]any {
	return map[string]any{"id": u.ID, "name": u.Name, "real_name": u.Name,
		"profile": map[string]any{"email": u.Email, "real_name": u.Name, "display_name": u.Name}}
}

// nextTS returns a new message timestamp; s.mu must be held.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("1700000000.%06d", s.seq)
}

func (s *Server) viewsOpen(w http.ResponseWriter, call *Call) {
	p := call.Params
	s.mu.Lock()
	tr, ok := s.triggers[p["trigger_id"]]
	var code string
	switch {
	case !ok:
		code = "invalid_trigger_id"
	case tr.used:
		code = "exchanged_trigger_id"
	case time.Since(tr.issued) > TriggerLifetime:
		code = "expired_trigger_id"
	default:
		tr.used = true
	}
	s.mu.Unlock()
	if code != "" {
		s.finish(w, call, reply{"ok": false, "error": code}, "views.open: %s (trigger ids work once, within %v)", code, TriggerLifetime)
		return
	}
	_, probs := parseView(p["view"])
	if len(probs) > 0 {
		s.finish(w, call, invalidArguments(probs...), "views.open: %s", strings.Join(probs, "; "))
		return
	}
	s.mu.Lock()
	s.seq++
	v := &View{ID: fmt.Sprintf("V%08d", s.seq), Hash: fmt.Sprintf("%d.hash", s.seq), TriggerID: p["trigger_id"], JSON: json.RawMessage(p["view"])}
	s.views[v.ID] = v
	s.viewOrder = append(s.viewOrder, v.ID)
	out := viewReply(v)
	s.mu.Unlock()
	s.finish(w, call, out, "")
}

// parseView decodes and checks a view parameter.
func parseView(raw string) (map[string]any, []string) {
	var view map[string]any
	if err := json.Unmarshal([]byte(raw), &view); err != nil {
		return nil, []string{"view: not a JSON object: " + err.Error()}
	}
	return view, checkView(view)
}

func (s *Server) viewsUpdate(w http.ResponseWriter, call *Call) {
	p := call.Params
	if p["view_id"] == "" && p["external_id"] == "" {
		s.finish(w, call, invalidArguments("view_id or external_id is required"), "views.update without view_id or external_id")
		return
	}
	if p["view"] == "" {
		s.finish(w, call, invalidArguments("missing required field: view"), "views.update without a view")
		return
	}
	s.mu.Lock()
	v, ok := s.views[p["view_id"]]
	conflict := ok && p["hash"] != "" && p["hash"] != v.Hash
	s.mu.Unlock()
	switch {
	case !ok:
		s.finish(w, call, reply{"ok": false, "error": "not_found"}, "views.update of unknown view %q", p["view_id"])
		return
	case conflict:
		s.finish(w, call, reply{"ok": false, "error": "hash_conflict"}, "")
		return
	}
	_, probs := parseView(p["view"])
	if len(probs) > 0 {
		s.finish(w, call, invalidArguments(probs...), "views.update: %s", strings.Join(probs, "; "))
		return
	}
	s.mu.Lock()
	s.seq++
	v.JSON = json.RawMessage(p["view"])
	v.Hash = fmt.Sprintf("%d.hash", s.seq)
	v.Updates++
	out := viewReply(v)
	s.mu.Unlock()
	s.finish(w, call, out, "")
}

// viewReply is the answer of views.open and views.update: the view as
// Slack stores it, with its id, hash and an empty state.
func viewReply(v *View) reply {
	raw := bytes.TrimRight(bytes.TrimSpace(v.JSON), "}")
	extra := fmt.Sprintf(`,"id":%q,"hash":%q,"team_id":"T0FAKE","state":{"values":{}}}`, v.ID, v.Hash)
	return reply{"ok": true, "view": json.RawMessage(append(slices.Clip(raw), extra...))}
}

// checkMessage returns the problems of a message's text and blocks.
func checkMessage(p map[string]string) []string {
	var probs []string
	if p["text"] == "" && p["blocks"] == "" && p["attachments"] == "" {
		probs = append(probs, "no_text: a message needs text or blocks")
	}
	if n := len([]rune(p["text"])); n > MaxMessageText {
		probs = append(probs, fmt.Sprintf("text is %d characters, Slack truncates after %d", n, MaxMessageText))
	}
	if p["blocks"] != "" {
		probs = append(probs, CheckBlocks(json.RawMessage(p["blocks"]), SurfaceMessage)...)
	}
	return probs
}

func (s *Server) postMessage(w http.ResponseWriter, call *Call) {
	p := call.Params
	s.mu.Lock()
	code := s.denied[p["channel"]]
	s.mu.Unlock()
	if code != "" {
		s.finish(w, call, reply{"ok": false, "error": code}, "")
		return
	}
	if probs := checkMessage(p); len(probs) > 0 {
		s.finish(w, call, reply{"ok": false, "error": "invalid_blocks"}, "chat.postMessage: %s", strings.Join(probs, "; "))
		return
	}
	var meta json.RawMessage
	if raw := p["metadata"]; raw != "" {
		var md struct {
			EventType    string         `json:"event_type"`
			EventPayload map[string]any `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(raw), &md); err != nil || !metadataEventType.MatchString(md.EventType) || md.EventPayload == nil {
			s.finish(w, call, reply{"ok": false, "error": "invalid_metadata_format"}, "chat.postMessage: metadata %s is not an event_type and an event_payload object", raw)
			return
		}
		meta = json.RawMessage(raw)
	}
	s.mu.Lock()
	if th := p["thread_ts"]; th != "" && !slices.ContainsFunc(s.msgs, func(m *Message) bool { return m.Channel == p["channel"] && m.TS == th }) {
		s.mu.Unlock()
		s.finish(w, call, reply{"ok": false, "error": "thread_not_found"}, "chat.postMessage: thread_ts %s is not a message in %s", th, p["channel"])
		return
	}
	m := &Message{Channel: p["channel"], TS: s.nextTS(), ThreadTS: p["thread_ts"], Text: p["text"], Blocks: json.RawMessage(p["blocks"]), Metadata: meta, At: time.Now()}
	s.msgs = append(s.msgs, m)
	s.notePost(m)
	s.mu.Unlock()
	s.finish(w, call, reply{"ok": true, "channel": m.Channel, "ts": m.TS,
		"message": map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "thread_ts": m.ThreadTS, "bot_id": "B0FAKE", "user": BotUserID}}, "")
}

// history answers conversations.history (the channel's messages that are
// not replies, newest first) and conversations.replies (a thread: its root,
// then its replies in order), at most limit of them (default 100), with
// their metadata when include_all_metadata is set.
func (s *Server) history(w http.ResponseWriter, call *Call) {
	p := call.Params
	limit := 100
	if l := p["limit"]; l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			s.finish(w, call, invalidArguments("limit must be between 1 and 1000"), "%s with limit %q", call.Method, l)
			return
		}
		limit = n
	}
	s.mu.Lock()
	code := s.denied[p["channel"]]
	var found []Message
	for _, m := range s.msgs {
		if m.Channel != p["channel"] {
			continue
		}
		if call.Method == "conversations.replies" && (m.TS == p["ts"] || m.ThreadTS == p["ts"]) ||
			call.Method == "conversations.history" && (m.ThreadTS == "" || m.ThreadTS == m.TS) {
			found = append(found, *m)
		}
	}
	s.mu.Unlock()
	if code != "" {
		s.finish(w, call, reply{"ok": false, "error": code}, "")
		return
	}
	if call.Method == "conversations.replies" && (len(found) == 0 || found[0].TS != p["ts"]) {
		s.finish(w, call, reply{"ok": false, "error": "thread_not_found"}, "")
		return
	}
	if call.Method == "conversations.history" {
		slices.Reverse(found)
	}
	withMeta := p["include_all_metadata"] == "1" || p["include_all_metadata"] == "true"
	msgs := []map[string]any{}
	for _, m := range found[:min(limit, len(found))] {
		if oldest := p["oldest"]; oldest != "" && m.TS <= oldest {
			continue
		}
		out := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "bot_id": "B0FAKE", "user": BotUserID}
		if m.ThreadTS != "" {
			out["thread_ts"] = m.ThreadTS
		}
		if withMeta && m.Metadata != nil {
			out["metadata"] = m.Metadata
		}
		msgs = append(msgs, out)
	}
	s.finish(w, call, reply{"ok": true, "messages": msgs, "has_more": len(found) > limit}, "")
}

func (s *Server) updateMessage(w http.ResponseWriter, call *Call) {
	p := call.Params
	if probs := checkMessage(p); len(probs) > 0 {
		s.finish(w, call, reply{"ok": false, "error": "invalid_blocks"}, "chat.update: %s", strings.Join(probs, "; "))
		return
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.msgs, func(m *Message) bool { return m.Channel == p["channel"] && m.TS == p["ts"] })
	if i < 0 {
		s.mu.Unlock()
		s.finish(w, call, reply{"ok": false, "error": "message_not_found"}, "chat.update of unknown message %s in %s", p["ts"], p["channel"])
		return
	}
	m := s.msgs[i]
	m.Text = p["text"]
	m.Blocks = json.RawMessage(p["blocks"])
	m.Updates++
	s.mu.Unlock()
	s.finish(w, call, reply{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text}, "")
}

func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	s.mu.Lock()
	uses, ok := s.hooks[id]
	if ok {
		s.hooks[id] = uses + 1
	}
	s.mu.Unlock()
	if !ok || uses >= 5 {
		s.violation("response_url %s: unknown or used more than 5 times", id)
		http.Error(w, "no_active_hooks", http.StatusNotFound)
		return
	}
	var body struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		s.violation("response_url: body is not JSON: %v", err)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	p := map[string]string{"text": body.Text}
	if len(body.Blocks) > 0 && string(body.Blocks) != "null" {
		p["blocks"] = string(body.Blocks)
	}
	if !body.DeleteOriginal {
		if probs := checkMessage(p); len(probs) > 0 {
			s.violation("response_url: %s", strings.Join(probs, "; "))
			http.Error(w, "invalid_blocks", http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	s.responses = append(s.responses, Response{ID: id, Text: body.Text, Blocks: body.Blocks, ResponseType: body.ResponseType,
		ReplaceOriginal: body.ReplaceOriginal, DeleteOriginal: body.DeleteOriginal, At: time.Now()})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, reply{"ok": true})
}

func (s *Server) violation(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

// readParams merges the query, a form body and a JSON body into one map,
// and returns the token from the Authorization header or the parameters.
func readParams(r *http.Request) (map[string]string, string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return params, "", err
	}
	switch {
	case len(body) == 0:
	case ct == "application/json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return params, "", fmt.Errorf("json body: %w", err)
		}
		for k, raw := range obj {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				params[k] = str
			} else if string(raw) != "null" {
				params[k] = string(raw)
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return params, "", fmt.Errorf("form body: %w", err)
		}
		for k, v := range form {
			params[k] = v[0]
		}
	}
	token := params["token"]
	delete(params, "token")
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && auth != "" {
		token = auth
	}
	return params, token, nil
}
