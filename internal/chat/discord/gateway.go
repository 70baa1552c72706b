package discord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/commands"
)

// respondTimeout bounds the call that answers an interaction received on
// the gateway; Discord allows 3 s.
const respondTimeout = 3 * time.Second

// RunGateway connects to Discord's gateway with the bot token and answers
// the interactions it receives, through the same code as the HTTP endpoint,
// until ctx ends; then it disconnects. A connection that fails is retried
// with backoff (discordgo reconnects a dropped one by itself). It is the
// transport when no public key is configured. router answers the
// commands.
func (a *Adapter) RunGateway(ctx context.Context, router *commands.Router) error {
	a.router.Store(router)
	a.mu.Lock()
	if a.gateway {
		a.mu.Unlock()
		return errors.New("discord gateway is already running")
	}
	a.gateway = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.gateway, a.connected = false, false
		a.mu.Unlock()
	}()
	for _, remove := range []func(){
		a.s.AddHandler(func(*discordgo.Session, *discordgo.Connect) { a.setConnected(true) }),
		a.s.AddHandler(func(*discordgo.Session, *discordgo.Resumed) { a.setConnected(true) }),
		a.s.AddHandler(func(*discordgo.Session, *discordgo.Disconnect) { a.setConnected(false) }),
		a.s.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) { a.onGateway(ctx, ic.Interaction) }),
	} {
		defer remove()
	}
	backoff := time.Second
	for {
		err := a.s.Open()
		if err == nil {
			break
		}
		a.log.WarnContext(ctx, "discord gateway connection failed; retrying", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
	a.log.InfoContext(ctx, "discord gateway connected")
	<-ctx.Done()
	if err := a.s.Close(); err != nil {
		return fmt.Errorf("close discord gateway: %w", err)
	}
	return nil
}

func (a *Adapter) setConnected(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.connected = ok
}

// onGateway answers an interaction received on the gateway: the response
// is a call to the interaction's callback endpoint.
func (a *Adapter) onGateway(ctx context.Context, i *discordgo.Interaction) {
	if i == nil {
		return
	}
	a.bg.Add(1)
	defer a.bg.Done()
	start := time.Now()
	resp, later := a.handle(ctx, i)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), respondTimeout)
	defer cancel()
	if err := a.s.InteractionRespond(i, resp, discordgo.WithContext(rctx)); err != nil {
		a.log.ErrorContext(ctx, "answer discord interaction", "interaction_id", i.ID, "err", a.apiErr("interaction callback", err))
		return
	}
	a.metrics.Ack(Platform, interactionKind(i.Type), time.Since(start))
	if later != nil {
		later()
	}
}
