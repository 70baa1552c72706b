package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/idpbot/idpbot/internal/commands"
)

// RunSocketMode connects to Slack over Socket Mode (Config.AppToken) and
// handles slash commands and interactions as the HTTP endpoints do, until
// ctx ends. The client reconnects by itself when Slack asks it to or the
// connection dies; Ready reports whether it is connected. It returns nil
// when ctx ends, and an error when Slack refuses the app token. router
// answers the commands.
func (a *Adapter) RunSocketMode(ctx context.Context, router *commands.Router) error {
	a.router.Store(router)
	if a.appToken == "" {
		return errors.New("slack socket mode needs an app-level token (SLACK_APP_TOKEN)")
	}
	client := socketmode.New(a.api, socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)))
	h := socketmode.NewSocketmodeHandler(client)
	h.Handle(socketmode.EventTypeConnecting, func(e *socketmode.Event, _ *socketmode.Client) {
		if ce, ok := e.Data.(*slackapi.ConnectingEvent); ok {
			a.setConnected(ce.ConnectionCount, false)
		}
	})
	h.Handle(socketmode.EventTypeConnected, func(e *socketmode.Event, _ *socketmode.Client) {
		if ce, ok := e.Data.(*socketmode.ConnectedEvent); ok {
			a.setConnected(ce.ConnectionCount, true)
			a.log.InfoContext(ctx, "slack socket mode connected", "connection", ce.ConnectionCount)
		}
	})
	h.Handle(socketmode.EventTypeConnectionError, func(e *socketmode.Event, _ *socketmode.Client) {
		a.log.WarnContext(ctx, "slack socket mode connection failed; retrying", "err", e.Data)
	})
	h.Handle(socketmode.EventTypeInvalidAuth, func(*socketmode.Event, *socketmode.Client) {
		a.log.ErrorContext(ctx, "slack refused the app token (SLACK_APP_TOKEN)")
	})
	h.Handle(socketmode.EventTypeHello, func(*socketmode.Event, *socketmode.Client) {})
	h.Handle(socketmode.EventTypeSlashCommand, func(e *socketmode.Event, c *socketmode.Client) {
		cmd, ok := e.Data.(slackapi.SlashCommand)
		if !ok || e.Request == nil {
			return
		}
		a.ack(ctx, c, e.Request, a.slash(ctx, cmd))
	})
	h.Handle(socketmode.EventTypeInteractive, func(e *socketmode.Event, c *socketmode.Client) {
		cb, ok := e.Data.(slackapi.InteractionCallback)
		if !ok || e.Request == nil {
			return
		}
		a.ack(ctx, c, e.Request, a.interact(ctx, cb))
	})
	h.Handle(socketmode.EventTypeEventsAPI, func(e *socketmode.Event, c *socketmode.Client) { a.socketEvent(ctx, e, c) })
	h.HandleDefault(func(e *socketmode.Event, c *socketmode.Client) {
		if e.Request != nil && e.Request.EnvelopeID != "" {
			a.ack(ctx, c, e.Request, nil) // events this app does not use: acknowledged so Slack does not retry
		}
	})
	a.mu.Lock()
	a.socket, a.connected, a.gen = true, false, 0
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.socket, a.connected = false, false
		a.mu.Unlock()
	}()
	err := h.RunEventLoopContext(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("slack socket mode: %w", err)
}

func (a *Adapter) ack(ctx context.Context, c *socketmode.Client, req *socketmode.Request, payload any) {
	if err := c.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		a.log.ErrorContext(ctx, "acknowledge slack socket mode request", "envelope", req.EnvelopeID, "err", err)
	}
}

// setConnected records a Socket Mode connection state. Events are handled
// concurrently, so a late "connecting" of a connection already connected is
// ignored; a newer connection always wins.
func (a *Adapter) setConnected(gen int, connected bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen < a.gen || gen == a.gen && !connected && a.connected {
		return
	}
	a.gen, a.connected = gen, connected
}
