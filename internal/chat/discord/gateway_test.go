package discord

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/commands"
)

func TestGatewayAnswersInteractions(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	fake := discordtest.New(t)
	fake.AddChannel(testChannel)
	a, err := New(Config{
		BotToken:   discordtest.BotToken,
		AppID:      discordtest.AppID,
		APIURL:     fake.URL(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Engine:     f.Engine,
		AckBudget:  -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Ready() == nil {
		t.Error("Ready before the gateway runs = nil, want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunGateway(ctx, commands.NewRouter(f.Engine, commands.Options{})) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunGateway = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("RunGateway did not return after its context ended")
		}
		a.Wait()
		if a.Ready() == nil {
			t.Error("Ready after the gateway stopped = nil, want an error")
		}
	}()
	fake.WaitFor(5*time.Second, "the gateway session", func() bool { return fake.GatewayConnected() && a.Ready() == nil })

	// Answers go to the interaction's callback; with every answer deferred,
	// the message then replaces the deferred response.
	in := fake.Command(alice, testChannel, create("postgresql-database", discordtest.String("name", "orders-db"), discordtest.String("team", "payments"))...)
	if err := fake.Dispatch(in); err != nil {
		t.Fatal(err)
	}
	var ans discordtest.Answer
	fake.WaitFor(5*time.Second, "the answer", func() bool {
		ans, _ = fake.Answer(in.ID)
		return len(ans.Callbacks) == 1 && ans.Original != nil
	})
	var cb struct {
		Type int `json:"type"`
		Data struct {
			Flags int `json:"flags"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans.Callbacks[0], &cb); err != nil || cb.Type != 5 || cb.Data.Flags != 64 {
		t.Errorf("callback = %s, want a deferred ephemeral message", ans.Callbacks[0])
	}
	if !strings.Contains(ans.Original.Content, "Request #1 recorded: **orders-db**") {
		t.Errorf("answer = %q", ans.Original.Content)
	}
	if r := f.Settle(1, 5*time.Second); r.Requester.ID != "discord:"+alice.ID {
		t.Errorf("requester = %q", r.Requester.ID)
	}

	ping := fake.Command(alice, testChannel, discordtest.Sub("help"))
	if err := fake.Dispatch(ping); err != nil {
		t.Fatal(err)
	}
	fake.WaitFor(5*time.Second, "the help answer", func() bool {
		ans, _ = fake.Answer(ping.ID)
		return ans.Original != nil && strings.Contains(ans.Original.Content, "idpbot: request infrastructure")
	})
}
