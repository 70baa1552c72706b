package discord

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// withID returns in as delivered with interaction id instead of its own.
func withID(t *testing.T, in discordtest.Interaction, id string) discordtest.Interaction {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(in.Body, &body); err != nil {
		t.Fatal(err)
	}
	body["id"] = id
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return discordtest.Interaction{ID: id, Token: in.Token, Body: b}
}

func resources(t *testing.T, f *platformtest.Fixture) []*platform.Resource {
	t.Helper()
	rs, err := f.Store.Resources(context.Background(), platform.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestCreatesWithTheSameInteractionIDAreEachTheirOwn: two people whose
// interactions carry the same id each get their own request, and a
// redelivery still answers with the request it made.
func TestCreatesWithTheSameInteractionIDAreEachTheirOwn(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	in := h.fake.Command(alice, testChannel, create("postgresql-database",
		discordtest.String("name", "alices-db"), discordtest.String("team", "payments"))...)
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "alices-db") {
		t.Fatalf("alice's answer = %q", got)
	}
	theirs := withID(t, h.fake.Command(bob, testChannel, create("postgresql-database",
		discordtest.String("name", "bobs-db"), discordtest.String("team", "platform"))...), in.ID)
	if got := ephemeralContent(t, h.send(theirs)); !strings.Contains(got, "bobs-db") || strings.Contains(got, "alices-db") {
		t.Fatalf("bob's answer = %q, want his own request", got)
	}
	if got := ephemeralContent(t, h.send(in)); !strings.Contains(got, "alices-db") {
		t.Fatalf("answer to alice's redelivery = %q", got)
	}
	if rs := resources(t, f); len(rs) != 2 {
		t.Fatalf("%d resources, want alice's and bob's", len(rs))
	}
}

// TestInteractionWithoutIDIsRefused: an interaction without an id cannot
// be told apart from another one; it is refused in the chat rather than
// answered with someone else's request.
func TestInteractionWithoutIDIsRefused(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	for _, in := range []discordtest.Interaction{
		h.fake.Command(alice, testChannel, create("postgresql-database",
			discordtest.String("name", "alices-db"), discordtest.String("team", "payments"))...),
		h.fake.Command(bob, testChannel, create("postgresql-database",
			discordtest.String("name", "bobs-db"), discordtest.String("team", "platform"))...),
	} {
		got := ephemeralContent(t, h.send(withID(t, in, "")))
		if !strings.Contains(got, "with no interaction id") || strings.Contains(got, "recorded") {
			t.Errorf("answer = %q, want a refusal", got)
		}
	}
	if rs := resources(t, f); len(rs) != 0 {
		t.Errorf("%d resources from interactions without an id, want none", len(rs))
	}
}
