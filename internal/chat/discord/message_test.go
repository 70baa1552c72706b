package discord

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

var created = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func resource(state platform.State) *platform.Resource {
	r := &platform.Resource{
		ID: 12, Service: "postgresql-database", ServiceType: "database", Name: "orders-db", Team: "payments", Environment: "staging",
		Parameters: map[string]any{"size": "small", "high_availability": false, "backup_retention_days": int64(7)},
		State:      state, Requester: platform.Actor{ID: "discord:" + alice.ID, Name: "alice"},
		Origin:    platform.Origin{Platform: Platform, Channel: testChannel},
		CreatedAt: created, UpdatedAt: created,
	}
	switch state {
	case platform.Ready:
		r.Outputs = map[string]string{"host": "db.internal", "port": "5432", "database": "payments_staging_orders_db"}
	case platform.Failed:
		r.Reason = "role *payments* exists with another owner; ask <@everyone> in #help"
	}
	return r
}

func TestRootMessageGolden(t *testing.T) {
	t.Parallel()
	for _, s := range []platform.State{platform.Pending, platform.Ready, platform.Failed} {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			m := RootMessage(resource(s))
			golden(t, "root_"+string(s), m)
			checkMessage(t, m)
		})
	}
}

func TestThreadMessagesGolden(t *testing.T) {
	t.Parallel()
	r := resource(platform.Ready)
	evs := []platform.Event{
		{Kind: platform.EventTransition, To: platform.Pending, Message: "requested by alice"},
		{Kind: platform.EventVerdict, Message: "quota (audit): payments: 1 of 5 postgresql-database"},
		{Kind: platform.EventTransition, From: platform.Pending, To: platform.Provisioning, Message: "provisioning started"},
		{Kind: platform.EventStep, Message: "creating role payments_staging_orders_db"},
		{Kind: platform.EventTransition, From: platform.Provisioning, To: platform.Ready, Message: "ready"},
		{Kind: platform.EventSecret, Sealed: []byte("sealed")},
		{Kind: platform.EventNote, Message: "# not a heading\n> not a quote <@123> **not bold**"},
		{Kind: platform.EventNote},
	}
	var lines []string
	for _, ev := range evs {
		if line, ok := EventMessage(r, ev); ok {
			lines = append(lines, line)
		}
	}
	golden(t, "thread", lines)
	if len(lines) != 6 {
		t.Errorf("%d thread messages, want 6: secrets and empty notes are not posted", len(lines))
	}
}

func TestPrivateMessages(t *testing.T) {
	t.Parallel()
	r := resource(platform.Ready)
	secrets := map[string]string{"password": "s3cr`et*_pw", "url": "postgres://payments_staging_orders_db:s3cr`et*_pw@db.internal:5432/payments_staging_orders_db"}
	ms := PrivateMessages(r, secrets)
	golden(t, "private", ms)
	if len(ms) != 1 || !strings.Contains(ms[0].Content, "password=s3cr`et*_pw\n") {
		t.Errorf("private messages = %+v, want one with the password verbatim", ms)
	}
	// Secrets longer than a message continue in the next ones, never cut.
	huge := map[string]string{"certificate": strings.Repeat("A", 5000), "key": strings.Repeat("k", 100)}
	ms = PrivateMessages(r, huge)
	var all strings.Builder
	for i, m := range ms {
		checkMessage(t, m)
		if i > 0 {
			all.WriteString(strings.TrimSuffix(strings.TrimPrefix(m.Content, "```\n"), "\n```"))
		}
	}
	if want := "certificate=" + huge["certificate"] + "\nkey=" + huge["key"]; all.String() != want {
		t.Errorf("secrets split over %d messages read back as %d characters, want %d", len(ms), all.Len(), len(want))
	}
}

func TestReplyMessageKeepsDiscordLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 3000)
	rep := commands.Reply{Title: long, Err: fmt.Errorf("x"), Confirm: &commands.Confirm{Prompt: long, Yes: "delete #12 --yes"}}
	for i := range 40 {
		rep.Errors = append(rep.Errors, platform.FieldError{Field: fmt.Sprintf("field_%d", i), Message: long[:200]})
	}
	for range 14 {
		sec := commands.Section{Heading: long, Text: long}
		for j := range 30 {
			sec.Fields = append(sec.Fields, commands.KV{Key: fmt.Sprintf("key %d %s", j, long), Value: long})
		}
		rep.Sections = append(rep.Sections, sec)
	}
	m := ReplyMessage(rep)
	checkMessage(t, m)
	if !strings.Contains(m.Content, "more sections not shown") {
		t.Errorf("content does not say sections were left out:\n%s", m.Content[max(0, len(m.Content)-300):])
	}
	if len(m.Components) != 1 {
		t.Errorf("%d component rows, want the confirmation's", len(m.Components))
	}
	table := commands.Reply{Title: "2 resources", Sections: []commands.Section{{Text: "ID  NAME\n#1  a```b\n#2  c"}}}
	if d := ReplyMessage(table).Embeds[0].Description; d != "```\nID  NAME\n#1  a`\u200b``b\n#2  c\n```" {
		t.Errorf("table description = %q, want a code block", d)
	}
}

// checkMessage checks a message against Discord's limits and its schema of
// an interaction response.
func checkMessage(t *testing.T, m Message) {
	t.Helper()
	if n := utf8.RuneCountInString(m.Content); n > maxContent {
		t.Errorf("content has %d characters", n)
	}
	if len(m.Embeds) > maxEmbeds {
		t.Errorf("%d embeds", len(m.Embeds))
	}
	total := 0
	for _, e := range m.Embeds {
		total += embedSize(e)
		if utf8.RuneCountInString(e.Title) > maxEmbedTitle || utf8.RuneCountInString(e.Description) > maxEmbedDesc || len(e.Fields) > maxEmbedFields {
			t.Errorf("embed beyond limits: title %d, description %d, %d fields", utf8.RuneCountInString(e.Title), utf8.RuneCountInString(e.Description), len(e.Fields))
		}
		for _, f := range e.Fields {
			if utf8.RuneCountInString(f.Name) > maxFieldName || utf8.RuneCountInString(f.Value) > maxFieldValue || f.Value == "" {
				t.Errorf("field %q beyond limits: value of %d characters", f.Name[:min(len(f.Name), 20)], utf8.RuneCountInString(f.Value))
			}
		}
	}
	if total > maxEmbedTotal {
		t.Errorf("embeds total %d characters", total)
	}
	if len(m.Components) > maxRows {
		t.Errorf("%d component rows", len(m.Components))
	}
	ids := map[string]bool{}
	for _, row := range m.Components {
		r, ok := row.(discordgo.ActionsRow)
		if !ok {
			t.Errorf("component %T is not a row", row)
			continue
		}
		if len(r.Components) > maxRowComponents {
			t.Errorf("a row of %d components", len(r.Components))
		}
		for _, c := range r.Components {
			b, ok := c.(discordgo.Button)
			if !ok {
				continue
			}
			if ids[b.CustomID] || utf8.RuneCountInString(b.CustomID) > maxCustomID || b.CustomID == "" {
				t.Errorf("button custom id %q is duplicated, empty or longer than %d", b.CustomID, maxCustomID)
			}
			ids[b.CustomID] = true
		}
	}
	spec, err := discordtest.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(reply(m, false))
	if err := spec.ValidateCallback(body); err != nil {
		t.Error(err)
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"orders-db #12", "orders-db #12"},
		{"**bold** _it_ `code` <@123> [x](http://e.x)", `\*\*bold\*\* \_it\_ ` + "\\`code\\`" + ` \<@123> \[x\](http://e.x)`},
		{"# heading\n  > quote\n-# small", "\\# heading\n  \\> quote\n\\-# small"},
	} {
		if got := escape(tc.in); got != tc.want {
			t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := clipEscaped("a*b*c*d", 5); utf8.RuneCountInString(got) > 5 || strings.HasSuffix(got, "\\…") {
		t.Errorf("clipEscaped = %q, want at most 5 runes and no split escape", got)
	}
}
