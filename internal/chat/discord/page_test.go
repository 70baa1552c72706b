package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform"
)

// customIDs returns the custom id of each button of components by label.
func customIDs(t *testing.T, components json.RawMessage) map[string]string {
	t.Helper()
	var rows []struct {
		Components []struct {
			Label    string `json:"label"`
			CustomID string `json:"custom_id"`
		} `json:"components"`
	}
	if len(components) > 0 {
		if err := json.Unmarshal(components, &rows); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]string{}
	for _, r := range rows {
		for _, c := range r.Components {
			out[c.Label] = c.CustomID
		}
	}
	return out
}

var rowRef = regexp.MustCompile(`(?m)^(#\d+) +n{59}`)

// TestListPagesWithButtons pages a team of 45 long-named resources in
// Discord: each page is a response Discord's schema accepts, within its
// embed limits, and its Next and Previous buttons show the next and
// previous pages.
func TestListPagesWithButtons(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	actor := platform.Actor{ID: "discord:" + alice.ID, Name: alice.Username}
	for i := range 45 {
		r := &platform.Resource{Service: "postgresql-database", ServiceType: "database", Name: fmt.Sprintf("%s-%03d", strings.Repeat("n", 59), i),
			Team: "payments", Environment: "staging", State: platform.Ready, Requester: actor, SelfService: true}
		if err := f.Store.CreateResource(context.Background(), r, platform.Event{Kind: platform.EventTransition, To: platform.Ready, Actor: actor}, nil); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, resp response, first, where string) map[string]string {
		t.Helper()
		ephemeralContent(t, resp)
		total := len(resp.Data.Content)
		for _, e := range resp.Data.Embeds {
			total += embedSize(e)
		}
		if len(resp.Data.Embeds) > maxEmbeds || total > maxEmbedTotal+maxContent {
			t.Errorf("%s: %d embeds, %d characters: over Discord's limits", name, len(resp.Data.Embeds), total)
		}
		text := strings.ReplaceAll(resp.Data.text(), "\u00a0", " ")
		refs := rowRef.FindAllStringSubmatch(text, -1)
		if len(refs) == 0 || refs[0][1] != first || !strings.Contains(text, where) {
			t.Fatalf("%s shows rows %v, want from %s and %q:\n%s", name, refs, first, where, text)
		}
		if strings.Contains(text, "more sections not shown") {
			t.Errorf("%s: rows left out:\n%s", name, text)
		}
		return customIDs(t, resp.Data.Components)
	}
	ids := check("first page", h.send(h.fake.Command(alice, testChannel, discordtest.Sub("list", discordtest.String("team", "payments")))), "#45", "Page 1 · rows 1–20 of 45")
	if ids["Next"] != "idp:run:list --team payments --after #26" || ids["Previous"] != "" {
		t.Fatalf("first page buttons %v, want Next alone", ids)
	}
	ids = check("second page", h.send(h.fake.Click(alice, testChannel, ids["Next"])), "#25", "Page 2 · rows 21–40 of 45")
	if ids["Previous"] != "idp:run:list --team payments --before #25" || ids["Next"] != "idp:run:list --team payments --after #6" {
		t.Fatalf("second page buttons %v", ids)
	}
	check("third page", h.send(h.fake.Click(alice, testChannel, ids["Next"])), "#5", "Page 3 · rows 41–45 of 45")
	check("first page again", h.send(h.fake.Click(alice, testChannel, ids["Previous"])), "#45", "Page 1 · rows 1–20 of 45")
}
