// Package discordtest fakes Discord for tests of the Discord adapter: an
// HTTP API server (behind the real discordgo client) that checks every call
// against Discord's OpenAPI description and records it, keeps channels,
// messages, threads, direct messages and interaction responses, can answer
// 429 or 5xx on demand, and a gateway that dispatches interactions. It also
// builds signed interactions as Discord sends them.
//
// Discord's rate limits (per-route buckets with their headers, the global
// limit) are off unless a test turns them on with SetLimits
// (DocumentedLimits, Scaled); Stats counts calls, 429s, posts per channel
// and duplicate posts for load tests.
package discordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// IDs of the fake's fixtures.
const (
	AppID    = "1100000000000000001"
	GuildID  = "1100000000000000002"
	BotID    = "1100000000000000003"
	BotToken = "fake-bot-token"
)

// maxContent is the longest message content a bot may send.
const maxContent = 2000

// Server is a fake Discord. Every call must be a route of Discord's API
// description with a body that fits its schema; anything else fails the
// test (see Lenient) and gets the error Discord would give.
type Server struct {
	t    testing.TB
	spec *Spec
	srv  *httptest.Server

	mu           sync.Mutex
	lenient      bool
	seq          uint64
	calls        []Call
	violations   []string
	channels     map[string]*Channel
	guilds       map[string]Guild
	messages     map[string]*Message
	dms          map[string]string // user id → DM channel id
	refuseDMs    map[string]bool
	interactions map[string]*Answer
	commands     map[string]json.RawMessage
	nonces       map[string]string // channel id + nonce → message id
	faults       []*Fault
	changed      chan struct{}
	gw           gateway
	limiter      limiter
	posts        map[string]int
	posted       map[string]bool
	duplicates   []Message
}

// Call is one request the fake received.
type Call struct {
	Method string
	// Route is the route's name, "POST /channels/{channel_id}/messages".
	Route  string
	Path   string
	Params map[string]string
	Query  url.Values
	Body   json.RawMessage
	// Status is what the fake answered.
	Status int
	At     time.Time
}

// Channel is a channel the fake knows: a guild text channel (type 0), a
// direct message (1) or a thread (11).
type Channel struct {
	ID        string
	Type      discordgo.ChannelType
	ParentID  string
	Name      string
	Recipient string
	Messages  []string
	// GuildID is the server of a guild channel added with AddGuildChannel.
	GuildID string
	// Overwrites are its permission overwrites.
	Overwrites []discordgo.PermissionOverwrite
}

// Guild is a server GET /guilds/{guild_id} knows.
type Guild struct {
	ID string
	// Members is its approximate_member_count, the bot included.
	Members int
	// EveryonePermissions are the permissions of its @everyone role
	// (whose id is the guild's).
	EveryonePermissions int64
}

// Message is a message as it is now (after edits).
type Message struct {
	ID         string
	ChannelID  string
	Content    string
	Embeds     []*discordgo.MessageEmbed
	Components json.RawMessage
	Flags      int
	Nonce      string
	// ReplyTo is the message it answers, if any.
	ReplyTo string
	Edits   int
	At      time.Time
}

// Answer is what the bot answered through the API to an interaction the
// fake built.
type Answer struct {
	ID, Token string
	ChannelID string
	Body      []byte
	// Callbacks are the responses posted to the callback endpoint
	// (gateway mode).
	Callbacks []json.RawMessage
	// Original is the response message as edited through the webhook.
	Original  *Message
	Followups []*Message
}

// Fault makes the fake answer matching calls with an error instead of
// serving them.
type Fault struct {
	// Route limits the fault to one route ("" for any); Match, when set,
	// must also accept the call (it runs with the fake locked and must not
	// call it).
	Route string
	Match func(Call) bool
	// InThread limits the fault to calls on a thread's channel_id.
	InThread bool
	// Times is how many matching calls fail.
	Times int
	// Status is the answer: 429 (with RetryAfter), 500, 502, 503…
	Status     int
	RetryAfter time.Duration
	// Lost serves the call, then answers Status as if the response was
	// lost on the way back.
	Lost bool
}

// New starts a fake Discord for the duration of the test. Its API
// description is loaded with LoadSpec; the test fails if it cannot be.
func New(t testing.TB) *Server {
	t.Helper()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatalf("discordtest: %v", err)
	}
	s := &Server{
		t: t, spec: spec, seq: 1200000000000000000,
		channels: map[string]*Channel{}, guilds: map[string]Guild{}, messages: map[string]*Message{}, dms: map[string]string{}, refuseDMs: map[string]bool{},
		interactions: map[string]*Answer{}, commands: map[string]json.RawMessage{}, nonces: map[string]string{},
		changed: make(chan struct{}),
		limiter: limiter{windows: map[string]*window{}, limited: map[string]int{}},
		posts:   map[string]int{}, posted: map[string]bool{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.closeGateway()
		s.srv.Close()
	})
	return s
}

// URL is the API base to configure the adapter with (it replaces
// https://discord.com/api).
func (s *Server) URL() string { return s.srv.URL + "/api" }

// Spec returns the API description the fake checks calls against.
func (s *Server) Spec() *Spec { return s.spec }

// Lenient makes violations answer with Discord's error without failing the
// test, for tests that provoke them.
func (s *Server) Lenient() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lenient = true
}

// Violations returns the problems found in the calls received.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// AddChannel creates a guild text channel.
func (s *Server) AddChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = &Channel{ID: id, Type: discordgo.ChannelTypeGuildText, Name: "channel-" + id}
}

// AddGuild creates a server.
func (s *Server) AddGuild(g Guild) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guilds[g.ID] = g
}

// AddGuildChannel creates a text channel of a server with permission
// overwrites.
func (s *Server) AddGuildChannel(id, guildID string, overwrites ...discordgo.PermissionOverwrite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = &Channel{ID: id, Type: discordgo.ChannelTypeGuildText, Name: "channel-" + id, GuildID: guildID, Overwrites: overwrites}
}

// DeleteChannel deletes a channel or thread, as a moderator would.
func (s *Server) DeleteChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.channels, id)
}

// DeleteMessage deletes a message, as its author or a moderator would.
func (s *Server) DeleteMessage(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return
	}
	delete(s.messages, id)
	if c, ok := s.channels[m.ChannelID]; ok {
		c.Messages = slices.DeleteFunc(c.Messages, func(x string) bool { return x == id })
	}
}

// RefuseDMs makes messages to user's direct messages fail as Discord does
// for people who do not accept them (403, code 50007).
func (s *Server) RefuseDMs(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseDMs[user] = true
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// RateLimit answers the next n calls of route with 429 and retry_after.
func (s *Server) RateLimit(route string, n int, after time.Duration) {
	s.Inject(Fault{Route: route, Times: n, Status: http.StatusTooManyRequests, RetryAfter: after})
}

// Calls returns the calls received so far; with routes, only those.
func (s *Server) Calls(routes ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(routes) == 0 || slices.Contains(routes, c.Route) {
			out = append(out, c)
		}
	}
	return out
}

// Channel returns a channel.
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return Channel{}, false
	}
	cp := *c
	cp.Messages = slices.Clone(c.Messages)
	return cp, true
}

// Messages returns the messages of a channel, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[channel]
	if !ok {
		return nil
	}
	out := make([]Message, len(c.Messages))
	for i, id := range c.Messages {
		out[i] = *s.messages[id]
	}
	return out
}

// Message returns a message by id.
func (s *Server) Message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// DM returns the direct message channel with user, if one was opened.
func (s *Server) DM(user string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.dms[user]
	return id, ok
}

// Answer returns what the bot answered to an interaction through the API.
func (s *Server) Answer(id string) (Answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.interactions[id]
	if !ok {
		return Answer{}, false
	}
	cp := *in
	cp.Callbacks = slices.Clone(in.Callbacks)
	if in.Original != nil {
		o := *in.Original
		cp.Original = &o
	}
	return cp, true
}

// Commands returns the body of the last bulk overwrite of the commands of
// guild ("" for the global ones).
func (s *Server) Commands(guild string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commands[guild]
}

// WaitFor polls cond, after every call the fake serves, until it holds;
// the test fails after timeout, saying what it waited for.
func (s *Server) WaitFor(timeout time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			s.t.Fatalf("discordtest: timed out after %v waiting for %s", timeout, what)
		}
	}
}

func (s *Server) nextID() string {
	s.seq++
	return strconv.FormatUint(s.seq, 10)
}

// violation records a call that the real Discord would refuse, failing the
// test unless the fake is lenient. s.mu is held.
func (s *Server) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.violations = append(s.violations, msg)
	if !s.lenient {
		s.t.Errorf("discordtest: %s", msg)
	}
}

// apiError is Discord's JSON error body.
type apiError struct {
	Message    string  `json:"message"`
	Code       int     `json:"code"`
	RetryAfter float64 `json:"retry_after,omitempty"`
	Global     *bool   `json:"global,omitempty"`
	Errors     any     `json:"errors,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == gatewayPath {
		s.serveGateway(w, r)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/api")
	if ok {
		if p, ok := strings.CutPrefix(path, "/v9"); ok {
			path = p
		} else if p, ok := strings.CutPrefix(path, "/v10"); ok {
			path = p
		} else {
			ok = false
		}
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	s.mu.Lock()
	defer func() {
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}()
	call := Call{Method: r.Method, Path: path, Query: r.URL.Query(), Body: body, At: time.Now()}
	status, resp := s.dispatch(r, &call, ok, w.Header())
	call.Status = status
	s.calls = append(s.calls, call)
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", resp.(apiError).retryHeader())
		w.Header().Set("X-RateLimit-Scope", "user")
	}
	writeJSON(w, status, resp)
}

func (e apiError) retryHeader() string {
	return strconv.Itoa(int(e.RetryAfter + 0.999))
}

// dispatch checks a call and serves it. s.mu is held.
func (s *Server) dispatch(r *http.Request, call *Call, versioned bool, h http.Header) (int, any) {
	if !versioned {
		s.violation("%s %s is not under /api/v9 or /api/v10", r.Method, r.URL.Path)
		return http.StatusNotFound, apiError{Message: "404: Not Found"}
	}
	route, params, ok := s.spec.Match(r.Method, call.Path)
	if !ok {
		s.violation("%s %s is not a route of Discord's API", r.Method, call.Path)
		return http.StatusNotFound, apiError{Message: "404: Not Found"}
	}
	call.Route, call.Params = route.Name(), params
	for name := range call.Query {
		if !slices.Contains(route.Query, name) {
			s.violation("%s: unknown query parameter %q", route.Name(), name)
		}
	}
	if slices.Contains(route.Security, "BotToken") && r.Header.Get("Authorization") != "Bot "+BotToken {
		s.violation("%s: Authorization is %q, want the bot token", route.Name(), r.Header.Get("Authorization"))
		return http.StatusUnauthorized, apiError{Message: "401: Unauthorized"}
	}
	if len(bytes.TrimSpace(call.Body)) > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.violation("%s: Content-Type %q, want application/json", route.Name(), r.Header.Get("Content-Type"))
		return http.StatusBadRequest, apiError{Message: "Invalid Content-Type", Code: 50035}
	}
	if err := s.spec.Validate(route, call.Body); err != nil {
		s.violation("%v\nbody: %s", err, call.Body)
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035, Errors: err.Error()}
	}
	if limited, resp := s.limiter.take(route.Name(), params, h); limited {
		return http.StatusTooManyRequests, resp
	}
	var lost *Fault
	for _, f := range s.faults {
		if f.Times <= 0 || f.Route != "" && f.Route != route.Name() || f.Match != nil && !f.Match(*call) {
			continue
		}
		if c, ok := s.channels[params["channel_id"]]; f.InThread && (!ok || c.Type != discordgo.ChannelTypeGuildPublicThread) {
			continue
		}
		f.Times--
		if f.Lost {
			lost = f
			break
		}
		if f.Status == http.StatusTooManyRequests {
			global := false
			return f.Status, apiError{Message: "You are being rate limited.", RetryAfter: f.RetryAfter.Seconds(), Global: &global}
		}
		return f.Status, apiError{Message: http.StatusText(f.Status)}
	}
	status, resp := s.route(route.Name(), params, call)
	if lost != nil && status < 300 {
		return lost.Status, apiError{Message: http.StatusText(lost.Status)}
	}
	return status, resp
}

// route serves a checked call. s.mu is held.
func (s *Server) route(name string, p map[string]string, call *Call) (int, any) {
	switch name {
	case "PUT /applications/{application_id}/commands", "PUT /applications/{application_id}/guilds/{guild_id}/commands":
		return s.putCommands(p, call.Body)
	case "POST /channels/{channel_id}/messages":
		return s.createMessage(p["channel_id"], call.Body)
	case "GET /channels/{channel_id}/messages/{message_id}":
		m, ok := s.messages[p["message_id"]]
		if _, found := s.channels[p["channel_id"]]; !found {
			return http.StatusNotFound, apiError{Message: "Unknown Channel", Code: 10003}
		}
		if !ok || m.ChannelID != p["channel_id"] {
			return http.StatusNotFound, apiError{Message: "Unknown Message", Code: 10008}
		}
		return http.StatusOK, m.json()
	case "PATCH /channels/{channel_id}/messages/{message_id}":
		return s.editMessage(p["channel_id"], p["message_id"], call.Body)
	case "POST /channels/{channel_id}/messages/{message_id}/threads":
		return s.startThread(p["channel_id"], p["message_id"], call.Body)
	case "POST /users/@me/channels":
		return s.openDM(call.Body)
	case "POST /interactions/{interaction_id}/{interaction_token}/callback":
		return s.callback(p["interaction_id"], p["interaction_token"], call.Body)
	case "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original":
		return s.editOriginal(p["webhook_id"], p["webhook_token"], call.Body)
	case "POST /webhooks/{webhook_id}/{webhook_token}":
		return s.followup(p["webhook_id"], p["webhook_token"], call.Query.Get("wait") == "true", call.Body)
	case "GET /users/@me":
		return http.StatusOK, map[string]any{"id": AppID, "username": "idpbot", "discriminator": "0", "bot": true}
	case "GET /channels/{channel_id}":
		c, ok := s.channels[p["channel_id"]]
		if !ok {
			return http.StatusNotFound, apiError{Message: "Unknown Channel", Code: 10003}
		}
		return http.StatusOK, c.json()
	case "GET /guilds/{guild_id}":
		g, ok := s.guilds[p["guild_id"]]
		if !ok {
			return http.StatusNotFound, apiError{Message: "Unknown Guild", Code: 10004}
		}
		out := map[string]any{"id": g.ID, "name": "guild-" + g.ID, "owner_id": "1", "roles": []map[string]any{{
			"id": g.ID, "name": "@everyone", "permissions": strconv.FormatInt(g.EveryonePermissions, 10), "position": 0}}}
		if call.Query.Get("with_counts") == "true" {
			out["approximate_member_count"] = g.Members
		}
		return http.StatusOK, out
	case "GET /gateway", "GET /gateway/bot":
		return http.StatusOK, map[string]any{"url": s.gatewayURL(), "shards": 1,
			"session_start_limit": map[string]int{"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}
	}
	s.violation("%s is a route of Discord's API the fake does not serve", name)
	return http.StatusNotImplemented, apiError{Message: "not faked"}
}

func (s *Server) putCommands(p map[string]string, body []byte) (int, any) {
	if p["application_id"] != AppID {
		s.violation("commands registered for application %s, want %s", p["application_id"], AppID)
		return http.StatusForbidden, apiError{Message: "Missing Access", Code: 50001}
	}
	var cmds []map[string]any
	if err := json.Unmarshal(body, &cmds); err != nil {
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035}
	}
	for _, c := range cmds {
		c["id"], c["application_id"], c["version"] = s.nextID(), AppID, s.nextID()
		if g := p["guild_id"]; g != "" {
			c["guild_id"] = g
		}
	}
	s.commands[p["guild_id"]] = slices.Clone(body)
	return http.StatusOK, cmds
}

// messageBody is what the bot sends to create or edit a message.
type messageBody struct {
	Content    *string                   `json:"content"`
	Embeds     []*discordgo.MessageEmbed `json:"embeds"`
	Components json.RawMessage           `json:"components"`
	Flags      int                       `json:"flags"`
	Nonce      any                       `json:"nonce"`
	Enforce    bool                      `json:"enforce_nonce"`
	Reference  *struct {
		MessageID       string `json:"message_id"`
		FailIfNotExists *bool  `json:"fail_if_not_exists"`
	} `json:"message_reference"`
}

func (s *Server) decodeMessage(route string, body []byte) (messageBody, bool) {
	var b messageBody
	if err := json.Unmarshal(body, &b); err != nil {
		s.violation("%s: %v", route, err)
		return b, false
	}
	content := ""
	if b.Content != nil {
		content = *b.Content
	}
	if n := len([]rune(content)); n > maxContent {
		s.violation("%s: content is %d characters, more than %d", route, n, maxContent)
		return b, false
	}
	if err := checkEmbeds(b.Embeds); err != nil {
		s.violation("%s: %v", route, err)
		return b, false
	}
	return b, true
}

// checkEmbeds checks Discord's limit on embeds that the schema does not
// express: 6000 characters across a message's embeds.
func checkEmbeds(es []*discordgo.MessageEmbed) error {
	total := 0
	for _, e := range es {
		total += len([]rune(e.Title)) + len([]rune(e.Description))
		if e.Footer != nil {
			total += len([]rune(e.Footer.Text))
		}
		for _, f := range e.Fields {
			total += len([]rune(f.Name)) + len([]rune(f.Value))
			if strings.TrimSpace(f.Name) == "" || strings.TrimSpace(f.Value) == "" {
				return fmt.Errorf("embed field %q has an empty name or value", f.Name)
			}
		}
	}
	if total > 6000 {
		return fmt.Errorf("embeds total %d characters, more than 6000", total)
	}
	return nil
}

func (s *Server) createMessage(channel string, body []byte) (int, any) {
	c, ok := s.channels[channel]
	if !ok {
		return http.StatusNotFound, apiError{Message: "Unknown Channel", Code: 10003}
	}
	if c.Type == discordgo.ChannelTypeDM && s.refuseDMs[c.Recipient] {
		return http.StatusForbidden, apiError{Message: "Cannot send messages to this user", Code: 50007}
	}
	b, ok := s.decodeMessage("create message", body)
	if !ok {
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035}
	}
	if (b.Content == nil || *b.Content == "") && len(b.Embeds) == 0 {
		s.violation("create message in %s: empty message", channel)
		return http.StatusBadRequest, apiError{Message: "Cannot send an empty message", Code: 50006}
	}
	nonce := ""
	if b.Nonce != nil {
		nonce = fmt.Sprint(b.Nonce)
	}
	if b.Enforce && nonce != "" {
		if id, ok := s.nonces[channel+"/"+nonce]; ok {
			return http.StatusOK, s.messages[id].json()
		}
	}
	m := &Message{ID: s.nextID(), ChannelID: channel, Embeds: b.Embeds, Components: b.Components, Flags: b.Flags, Nonce: nonce, At: time.Now()}
	if b.Content != nil {
		m.Content = *b.Content
	}
	if b.Reference != nil {
		_, ok := s.messages[b.Reference.MessageID]
		switch {
		case ok:
			m.ReplyTo = b.Reference.MessageID
		case b.Reference.FailIfNotExists == nil || *b.Reference.FailIfNotExists:
			s.violation("create message in %s: reply to unknown message %s", channel, b.Reference.MessageID)
			m.ReplyTo = b.Reference.MessageID
		}
		// With fail_if_not_exists false, Discord posts a reply to a
		// deleted message as a plain message.
	}
	s.messages[m.ID] = m
	c.Messages = append(c.Messages, m.ID)
	s.notePost(m)
	if nonce != "" && b.Enforce {
		s.nonces[channel+"/"+nonce] = m.ID
	}
	return http.StatusOK, m.json()
}

func (s *Server) editMessage(channel, id string, body []byte) (int, any) {
	m, ok := s.messages[id]
	if !ok || m.ChannelID != channel {
		return http.StatusNotFound, apiError{Message: "Unknown Message", Code: 10008}
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(body, &keys)
	b, ok := s.decodeMessage("edit message", body)
	if !ok {
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035}
	}
	if _, ok := keys["content"]; ok && b.Content != nil {
		m.Content = *b.Content
	}
	if _, ok := keys["embeds"]; ok {
		m.Embeds = b.Embeds
	}
	if _, ok := keys["components"]; ok {
		m.Components = b.Components
	}
	m.Edits++
	return http.StatusOK, m.json()
}

func (s *Server) startThread(channel, id string, body []byte) (int, any) {
	c, ok := s.channels[channel]
	if !ok {
		return http.StatusNotFound, apiError{Message: "Unknown Channel", Code: 10003}
	}
	if c.Type != discordgo.ChannelTypeGuildText {
		return http.StatusBadRequest, apiError{Message: "Cannot execute action on this channel type", Code: 50024}
	}
	m, ok := s.messages[id]
	if !ok || m.ChannelID != channel {
		return http.StatusNotFound, apiError{Message: "Unknown Message", Code: 10008}
	}
	if _, ok := s.channels[id]; ok {
		return http.StatusBadRequest, apiError{Message: "A thread has already been created for this message", Code: 160004}
	}
	var b struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(body, &b)
	th := &Channel{ID: id, Type: discordgo.ChannelTypeGuildPublicThread, ParentID: channel, Name: b.Name}
	s.channels[id] = th
	return http.StatusCreated, map[string]any{"id": th.ID, "type": th.Type, "parent_id": channel, "guild_id": GuildID, "name": th.Name}
}

// json is the channel object of GET /channels/{channel_id}.
func (c *Channel) json() map[string]any {
	out := map[string]any{"id": c.ID, "type": c.Type}
	if c.Name != "" && c.Type != discordgo.ChannelTypeDM {
		out["name"] = c.Name
	}
	if c.GuildID != "" {
		out["guild_id"] = c.GuildID
	}
	if c.ParentID != "" {
		out["parent_id"] = c.ParentID
	}
	if c.Recipient != "" {
		out["recipients"] = []map[string]any{{"id": c.Recipient, "username": "user-" + c.Recipient}}
	}
	ows := []map[string]any{}
	for _, o := range c.Overwrites {
		ows = append(ows, map[string]any{"id": o.ID, "type": o.Type, "allow": strconv.FormatInt(o.Allow, 10), "deny": strconv.FormatInt(o.Deny, 10)})
	}
	out["permission_overwrites"] = ows
	return out
}

func (s *Server) openDM(body []byte) (int, any) {
	var b struct {
		Recipient string `json:"recipient_id"`
	}
	_ = json.Unmarshal(body, &b)
	if b.Recipient == "" {
		s.violation("open DM: no recipient_id")
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035}
	}
	id, ok := s.dms[b.Recipient]
	if !ok {
		id = s.nextID()
		s.dms[b.Recipient] = id
		s.channels[id] = &Channel{ID: id, Type: discordgo.ChannelTypeDM, Recipient: b.Recipient}
	}
	return http.StatusOK, map[string]any{"id": id, "type": discordgo.ChannelTypeDM,
		"recipients": []map[string]any{{"id": b.Recipient, "username": "user-" + b.Recipient}}}
}

func (s *Server) callback(id, token string, body []byte) (int, any) {
	in, ok := s.interactions[id]
	if !ok || in.Token != token {
		s.violation("callback for unknown interaction %s", id)
		return http.StatusNotFound, apiError{Message: "Unknown interaction", Code: 10062}
	}
	if len(in.Callbacks) > 0 {
		s.violation("interaction %s answered twice", id)
		return http.StatusBadRequest, apiError{Message: "Interaction has already been acknowledged.", Code: 40060}
	}
	in.Callbacks = append(in.Callbacks, slices.Clone(body))
	var resp struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(body, &resp)
	if resp.Type == int(discordgo.InteractionResponseChannelMessageWithSource) {
		b, _ := s.decodeMessage("interaction callback", resp.Data)
		m := &Message{ID: s.nextID(), ChannelID: in.ChannelID, Embeds: b.Embeds, Components: b.Components, Flags: b.Flags, At: time.Now()}
		if b.Content != nil {
			m.Content = *b.Content
		}
		in.Original = m
	}
	return http.StatusNoContent, nil
}

func (s *Server) webhookInteraction(app, token string) (*Answer, bool) {
	if app != AppID {
		return nil, false
	}
	for _, in := range s.interactions {
		if in.Token == token {
			return in, true
		}
	}
	return nil, false
}

func (s *Server) editOriginal(app, token string, body []byte) (int, any) {
	in, ok := s.webhookInteraction(app, token)
	if !ok {
		s.violation("edit of the original response of an unknown interaction token")
		return http.StatusNotFound, apiError{Message: "Unknown Webhook", Code: 10015}
	}
	b, ok := s.decodeMessage("edit original response", body)
	if !ok {
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035}
	}
	if in.Original == nil {
		in.Original = &Message{ID: s.nextID(), ChannelID: in.ChannelID, At: time.Now()}
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(body, &keys)
	if _, ok := keys["content"]; ok && b.Content != nil {
		in.Original.Content = *b.Content
	}
	if _, ok := keys["embeds"]; ok {
		in.Original.Embeds = b.Embeds
	}
	if _, ok := keys["components"]; ok {
		in.Original.Components = b.Components
	}
	in.Original.Edits++
	return http.StatusOK, in.Original.json()
}

func (s *Server) followup(app, token string, wait bool, body []byte) (int, any) {
	in, ok := s.webhookInteraction(app, token)
	if !ok {
		s.violation("follow-up of an unknown interaction token")
		return http.StatusNotFound, apiError{Message: "Unknown Webhook", Code: 10015}
	}
	b, ok := s.decodeMessage("follow-up", body)
	if !ok {
		return http.StatusBadRequest, apiError{Message: "Invalid Form Body", Code: 50035}
	}
	m := &Message{ID: s.nextID(), ChannelID: in.ChannelID, Embeds: b.Embeds, Components: b.Components, Flags: b.Flags, At: time.Now()}
	if b.Content != nil {
		m.Content = *b.Content
	}
	in.Followups = append(in.Followups, m)
	if !wait {
		return http.StatusNoContent, nil
	}
	return http.StatusOK, m.json()
}

// json renders a message as Discord's API returns it.
func (m *Message) json() map[string]any {
	embeds := m.Embeds
	if embeds == nil {
		embeds = []*discordgo.MessageEmbed{}
	}
	comps := m.Components
	if len(comps) == 0 || string(comps) == "null" {
		comps = json.RawMessage("[]")
	}
	return map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "type": 0, "content": m.Content, "embeds": embeds, "components": comps,
		"author":    map[string]any{"id": BotID, "username": "idpbot", "bot": true, "discriminator": "0"},
		"timestamp": m.At.UTC().Format(time.RFC3339Nano), "flags": m.Flags, "tts": false, "mention_everyone": false,
		"mentions": []any{}, "mention_roles": []any{}, "attachments": []any{}, "pinned": false,
	}
}
