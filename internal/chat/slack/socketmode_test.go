package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

func TestSocketMode(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, appToken: slackfake.DefaultAppToken})
	if err := h.adapter.Ready(); err == nil {
		t.Fatal("Ready before Socket Mode runs = nil, want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = h.adapter.RunSocketMode(ctx, h.router)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	h.fake.WaitSocket(t, 5*time.Second)
	slackfake.Eventually(t, 5*time.Second, "Ready", func() bool { return h.adapter.Ready() == nil })

	send := func(typ string, payload any) json.RawMessage {
		t.Helper()
		id, err := h.fake.SendEnvelope(typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		return h.fake.WaitAck(t, id, 5*time.Second).Payload
	}

	ack := send("slash_commands", h.fake.SlashCommandPayload(alice, testChannel, "help"))
	var msg map[string]any
	if err := json.Unmarshal(ack, &msg); err != nil || msg["response_type"] != "ephemeral" || !contains(msg, "/idp create") {
		t.Fatalf("help over Socket Mode: ack payload %s (%v), want the ephemeral help", ack, err)
	}

	ack = send("slash_commands", h.fake.SlashCommandPayload(alice, testChannel, "create postgresql-database"))
	if len(ack) != 0 {
		t.Errorf("create over Socket Mode: ack payload %s, want none (the modal answers)", ack)
	}
	v := h.lastView()
	payload, err := slackfake.ViewSubmission(v, alice, map[string]string{"name": "Bad Name"})
	if err != nil {
		t.Fatal(err)
	}
	ack = send("interactive", payload)
	if !strings.Contains(string(ack), `"response_action":"errors"`) || !strings.Contains(string(ack), `"name":`) {
		t.Errorf("invalid submission over Socket Mode: ack %s, want errors on name", ack)
	}

	// Slack rotates the connection: the client reconnects by itself.
	if err := h.fake.SendDisconnect(); err != nil {
		t.Fatal(err)
	}
	slackfake.Eventually(t, 10*time.Second, "a second connection", func() bool { return h.fake.SocketConnections() == 2 })
	slackfake.Eventually(t, 5*time.Second, "Ready after reconnecting", func() bool { return h.adapter.Ready() == nil })
	ack = send("slash_commands", h.fake.SlashCommandPayload(alice, testChannel, "help"))
	if !strings.Contains(string(ack), "ephemeral") {
		t.Errorf("after reconnecting: ack %s", ack)
	}

	cancel()
	select {
	case <-stopped:
		if runErr != nil {
			t.Errorf("RunSocketMode after cancel = %v, want nil", runErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunSocketMode did not return after cancel")
	}
	if err := h.adapter.Ready(); err == nil {
		t.Error("Ready after Socket Mode stopped = nil")
	}
}

func TestSocketModeRejectedToken(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine, appToken: "xapp-revoked"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := h.adapter.RunSocketMode(ctx, h.router)
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("RunSocketMode with a refused token = %v, want invalid_auth", err)
	}
	if v := h.fake.TakeViolations(); len(v) != 1 {
		t.Errorf("violations %q, want the refused token", v)
	}
}
