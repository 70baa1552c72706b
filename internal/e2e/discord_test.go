package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord"
	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

const discordChannel = "1100000000000000100"

var discordAlice = discordtest.User{ID: "1100000000000000301", Username: "alice"}

// discordBot is a bot serving Discord: the Discord adapter's interactions
// endpoint in front of a fake Discord, and its thread.Notifier for the
// jobs runner.
type discordBot struct {
	*node
	fake     *discordtest.Server
	key      discordtest.Key
	url      string
	notifier *thread.Notifier
}

// newDiscordBot starts a bot process on fake; a restarted bot is a new one
// on the same fake.
func newDiscordBot(t *testing.T, nd *node, fake *discordtest.Server, key discordtest.Key) *discordBot {
	t.Helper()
	a, err := discord.New(discord.Config{
		BotToken: discordtest.BotToken, AppID: discordtest.AppID, PublicKey: key.Public, APIURL: fake.URL(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Engine: nd.engine, Logger: nd.log,
		RateScale: 1000, // the fake enforces no limits: the stories go at once
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, a.Handler(commands.NewRouter(nd.engine, commands.Options{Logger: nd.log})), a.Wait)
	n := thread.New(thread.Config{Transport: a, Threads: nd.store, Log: nd.log})
	return &discordBot{node: nd, fake: fake, key: key, url: srv.URL + discord.InteractionsPath, notifier: n}
}

// request asks for a staging database called name as alice would, with
// the /idp create postgresql-database command and its options.
func (b *discordBot) request(t *testing.T, name string) *platform.Resource {
	t.Helper()
	in := b.fake.Command(discordAlice, discordChannel, discordtest.Group("create", discordtest.Sub("postgresql-database",
		discordtest.String("name", name), discordtest.String("team", "payments"), discordtest.String("environment", "staging"))))
	status, body := post(t, b.url, in.Body, b.key.Sign(time.Now(), in.Body))
	if status != http.StatusOK {
		t.Fatalf("interaction for %s: %d %s", name, status, body)
	}
	if err := b.fake.Spec().ValidateCallback(body); err != nil {
		t.Errorf("response to the interaction for %s: %v\n%s", name, err, body)
	}
	return b.resource(t, name)
}

// checkThreads waits until the thread of each of rs is complete in the
// fake Discord and checks it: its root in the channel, every event's
// message once and in order, the connection details in alice's direct
// messages; and that Discord holds no root but theirs and no password
// outside those direct messages.
func (b *discordBot) checkThreads(t *testing.T, rs []*platform.Resource) {
	t.Helper()
	note := fmt.Sprintf("🔒 Connection details were sent to <@%s> by direct message.", discordAlice.ID)
	roots := map[string]bool{}
	var passwords []string
	for _, r := range rs {
		passwords = append(passwords, password(r))
		th := b.checkThread(t, r, discord.Platform, discord.EventMessage, note, func(th platform.Thread) []string {
			var contents []string
			for _, m := range b.fake.Messages(th.ThreadRef) {
				contents = append(contents, m.Content)
			}
			return contents
		})
		if c, _ := b.fake.Channel(th.ThreadRef); th.Channel != discordChannel || c.ParentID != discordChannel {
			t.Errorf("Discord thread of %s = %+v in %+v, want a thread of %s", r.Name, th, c, discordChannel)
		}
		roots[th.RootRef] = true
	}
	dm, ok := b.fake.DM(discordAlice.ID)
	if !ok {
		t.Fatal("no direct message channel with alice was opened on Discord")
	}
	for _, r := range rs {
		var dms int
		for _, m := range b.fake.Messages(dm) {
			if strings.Contains(m.Content, "password="+password(r)) {
				dms++
			}
		}
		if dms != 1 {
			t.Errorf("%d direct messages to alice hold the password of %s, want 1", dms, r.Name)
		}
	}
	got := b.fake.Messages(discordChannel)
	for _, m := range got {
		embeds, _ := json.Marshal(m.Embeds)
		if len(m.Embeds) != 1 || !strings.Contains(string(embeds), "✅ Ready") {
			t.Errorf("Discord root %s was not edited to ready: %s", m.ID, embeds)
		}
		if !roots[m.ID] {
			t.Errorf("Discord message %s %q in %s is no root of the Discord requests", m.ID, m.Content, discordChannel)
		}
	}
	if len(got) != len(rs) {
		t.Errorf("%d roots in %s, want %d", len(got), discordChannel, len(rs))
	}
	for _, c := range b.fake.Calls() {
		if holds(string(c.Body), passwords) && (c.Route != "POST /channels/{channel_id}/messages" || c.Params["channel_id"] != dm) {
			t.Errorf("Discord call %s holds a password", c.Path)
		}
	}
}
