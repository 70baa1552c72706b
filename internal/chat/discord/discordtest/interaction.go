package discordtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// User is a Discord user of a test, with their roles in the guild.
type User struct {
	ID       string
	Username string
	Roles    []string
}

// Option is an option of an application command interaction, as Discord
// sends it.
type Option struct {
	Name    string   `json:"name"`
	Type    int      `json:"type"`
	Value   any      `json:"value,omitempty"`
	Options []Option `json:"options,omitempty"`
	Focused bool     `json:"focused,omitempty"`
}

// Sub is a subcommand with its options.
func Sub(name string, opts ...Option) Option {
	return Option{Name: name, Type: int(discordgo.ApplicationCommandOptionSubCommand), Options: opts}
}

// Group is a subcommand group holding one subcommand.
func Group(name string, sub Option) Option {
	return Option{Name: name, Type: int(discordgo.ApplicationCommandOptionSubCommandGroup), Options: []Option{sub}}
}

// String is a string option.
func String(name, v string) Option {
	return Option{Name: name, Type: int(discordgo.ApplicationCommandOptionString), Value: v}
}

// Integer is an integer option.
func Integer(name string, v int64) Option {
	return Option{Name: name, Type: int(discordgo.ApplicationCommandOptionInteger), Value: v}
}

// Boolean is a boolean option.
func Boolean(name string, v bool) Option {
	return Option{Name: name, Type: int(discordgo.ApplicationCommandOptionBoolean), Value: v}
}

// Focused marks the option being typed, in an autocomplete interaction.
func Focused(o Option) Option {
	o.Focused = true
	return o
}

// Interaction is an interaction built by the fake: its id, token and the
// JSON body Discord would send.
type Interaction struct {
	ID, Token string
	Body      []byte
}

// newInteraction builds an interaction of user in channel (a guild channel,
// or user's direct messages when dm is true) and remembers its token, so
// that the bot's answers through the API are accepted.
func (s *Server) newInteraction(typ discordgo.InteractionType, u User, channel string, dm bool, data, message any) Interaction {
	s.mu.Lock()
	id := s.nextID()
	token := "itoken-" + id
	s.interactions[id] = &Answer{ID: id, Token: token, ChannelID: channel}
	s.mu.Unlock()
	user := map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0", "global_name": u.Username}
	body := map[string]any{
		"id": id, "application_id": AppID, "type": typ, "token": token, "version": 1,
		"channel_id": channel, "locale": "en-US", "data": data,
		"channel": map[string]any{"id": channel, "type": 0},
	}
	if dm {
		body["user"], body["context"] = user, 1
		body["channel"] = map[string]any{"id": channel, "type": 1}
	} else {
		roles := u.Roles
		if roles == nil {
			roles = []string{}
		}
		body["guild_id"], body["context"] = GuildID, 0
		body["member"] = map[string]any{"user": user, "roles": roles, "joined_at": "2024-01-02T03:04:05Z", "permissions": "2248473465835073", "nick": nil}
	}
	if message != nil {
		body["message"] = message
	}
	raw, err := json.Marshal(body)
	if err != nil {
		s.t.Fatalf("discordtest: %v", err)
	}
	s.mu.Lock()
	s.interactions[id].Body = raw
	s.mu.Unlock()
	return Interaction{ID: id, Token: token, Body: raw}
}

func commandData(typ discordgo.ApplicationCommandType, opts []Option) map[string]any {
	if opts == nil {
		opts = []Option{}
	}
	return map[string]any{"id": "1100000000000000009", "name": "idp", "type": typ, "options": opts}
}

// Command builds a /idp chat command of user in a guild channel.
func (s *Server) Command(u User, channel string, opts ...Option) Interaction {
	return s.newInteraction(discordgo.InteractionApplicationCommand, u, channel, false, commandData(discordgo.ChatApplicationCommand, opts), nil)
}

// CommandInDM builds a /idp chat command of user in their direct messages
// with the bot.
func (s *Server) CommandInDM(u User, opts ...Option) Interaction {
	s.mu.Lock()
	dm, ok := s.dms[u.ID]
	if !ok {
		dm = s.nextID()
		s.dms[u.ID] = dm
		s.channels[dm] = &Channel{ID: dm, Type: discordgo.ChannelTypeDM, Recipient: u.ID}
	}
	s.mu.Unlock()
	return s.newInteraction(discordgo.InteractionApplicationCommand, u, dm, true, commandData(discordgo.ChatApplicationCommand, opts), nil)
}

// Autocomplete builds the autocomplete interaction of a /idp command being
// typed; one option must be Focused.
func (s *Server) Autocomplete(u User, channel string, opts ...Option) Interaction {
	return s.newInteraction(discordgo.InteractionApplicationCommandAutocomplete, u, channel, false, commandData(discordgo.ChatApplicationCommand, opts), nil)
}

// Click builds the interaction of user pressing the button customID on an
// ephemeral message of the bot.
func (s *Server) Click(u User, channel, customID string) Interaction {
	msg := map[string]any{"id": "1100000000000000010", "channel_id": channel, "type": 0, "content": "", "flags": discordgo.MessageFlagsEphemeral,
		"timestamp": time.Now().UTC().Format(time.RFC3339), "author": map[string]any{"id": BotID, "username": "idpbot", "bot": true}}
	return s.newInteraction(discordgo.InteractionMessageComponent, u, channel, false,
		map[string]any{"custom_id": customID, "component_type": discordgo.ButtonComponent}, msg)
}

// ClickOn builds the interaction of user pressing the button customID of
// m, a message of the bot the fake holds (see Messages). Discord sends only
// clicks on buttons a message has: the test fails when m has no such
// button.
func (s *Server) ClickOn(u User, m Message, customID string) Interaction {
	s.t.Helper()
	if !hasCustomID(m.Components, customID) {
		s.t.Errorf("discordtest: message %s has no component %q: %s", m.ID, customID, m.Components)
	}
	s.mu.Lock()
	c, ok := s.channels[m.ChannelID]
	dm := ok && c.Type == discordgo.ChannelTypeDM
	s.mu.Unlock()
	return s.newInteraction(discordgo.InteractionMessageComponent, u, m.ChannelID, dm,
		map[string]any{"custom_id": customID, "component_type": discordgo.ButtonComponent}, m.json())
}

// hasCustomID reports whether components (JSON) hold one with customID.
func hasCustomID(components json.RawMessage, customID string) bool {
	var v any
	if err := json.Unmarshal(components, &v); err != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if v["custom_id"] == customID {
				return true
			}
			for _, c := range v {
				if walk(c) {
					return true
				}
			}
		case []any:
			for _, c := range v {
				if walk(c) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// SubmitModal builds the submission of the modal customID with values by
// text input custom id.
func (s *Server) SubmitModal(u User, channel, customID string, values map[string]string) Interaction {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rows []any
	for _, k := range keys {
		rows = append(rows, map[string]any{"type": discordgo.ActionsRowComponent, "components": []any{
			map[string]any{"type": discordgo.TextInputComponent, "custom_id": k, "value": values[k]},
		}})
	}
	return s.newInteraction(discordgo.InteractionModalSubmit, u, channel, false, map[string]any{"custom_id": customID, "components": rows}, nil)
}

// Ping builds the PING Discord sends to check the endpoint.
func (s *Server) Ping() Interaction {
	s.mu.Lock()
	id := s.nextID()
	s.mu.Unlock()
	raw, _ := json.Marshal(map[string]any{"id": id, "application_id": AppID, "type": discordgo.InteractionPing, "token": "ping-" + id, "version": 1})
	return Interaction{ID: id, Token: "ping-" + id, Body: raw}
}

// Key is an Ed25519 key pair standing for an application's: the adapter is
// configured with Public, requests are signed with Sign.
type Key struct {
	// Public is the public key in hex, as the developer portal shows it.
	Public  string
	private ed25519.PrivateKey
}

// NewKey generates a key pair.
func NewKey(t testing.TB) Key {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Public: hex.EncodeToString(pub), private: priv}
}

// Sign returns the headers Discord sends with body at time ts: the
// signature of the timestamp followed by the body.
func (k Key) Sign(ts time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	sig := ed25519.Sign(k.private, append([]byte(stamp), body...))
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
	h.Set("X-Signature-Timestamp", stamp)
	return h
}
