package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord"
	"github.com/idpbot/idpbot/internal/chat/slack"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// The Slack adapter remembers who opened its Home tab in the database, so
// that every replica republishes it.
var _ slack.HomeOpeners = (*postgres.HomeOpeners)(nil)

// adapterSet is what serve runs for the chat adapters that are configured:
// their notifiers, their HTTP endpoints and what runs beside them, both
// given the router once it is built.
type adapterSet struct {
	notifiers []*thread.Notifier
	handlers  map[string]func(*commands.Router) http.Handler
	runs      []func(context.Context, *commands.Router) error
}

// handle serves path with the handler h gives for the router.
func (s *adapterSet) handle(path string, h func(*commands.Router) http.Handler) {
	if s.handlers == nil {
		s.handlers = map[string]func(*commands.Router) http.Handler{}
	}
	s.handlers[path] = h
}

// run adds f to what runs beside the server.
func (s *adapterSet) run(f func(context.Context) error) {
	s.runs = append(s.runs, func(ctx context.Context, _ *commands.Router) error { return f(ctx) })
}

// notifier tells requests' stories and posts through platform t.
func (a *app) notifier(t thread.Transport) *thread.Notifier {
	return thread.New(thread.Config{Transport: t, Threads: a.store, RequestsChannel: a.channels("requests")[t.Platform()], Log: a.log})
}

// retry calls f until it succeeds or ctx ends, backing off up to a minute:
// a chat API that is down at start must not stop the bot.
func retry(ctx context.Context, a *app, what string, f func(context.Context) error) error {
	delay := time.Second
	for {
		err := f(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		a.log.Warn(what+" failed; retrying", "err", err, "in", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// checkToken checks a chat platform's bot token at startup with the
// adapter's verify (whose failure also keeps the adapter not ready): a
// token the platform refuses stops startup. A platform out of reach does
// not: the check is then added to the runs, which log it and retry it
// until the platform answers.
func checkToken(ctx context.Context, a *app, name string, verify func(context.Context) error, set *adapterSet) error {
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := verify(vctx)
	cancel()
	switch {
	case err == nil:
		return nil
	case platform.ErrorCode(err) == platform.Forbidden:
		return userError{platform.ErrorMessage(err)}
	}
	set.run(func(ctx context.Context) error {
		a.log.Warn("cannot reach "+name+" to check the bot token; starting anyway, not ready until it answers", "err", err)
		return retry(ctx, a, "check the "+name+" bot token", verify)
	})
	return nil
}

// addDiscord enables the Discord adapter when DISCORD_BOT_TOKEN is set:
// the HTTP interactions endpoint with DISCORD_PUBLIC_KEY, the gateway
// without it.
func addDiscord(ctx context.Context, a *app, g env, ops *opsServer, set *adapterSet) error {
	token := g("DISCORD_BOT_TOKEN")
	if token == "" {
		return nil
	}
	if g("DISCORD_APP_ID") == "" {
		return userError{"DISCORD_BOT_TOKEN is set but DISCORD_APP_ID is not: both are needed (see README, Connect Discord)."}
	}
	scale, err := rateScale(g, "DISCORD_RATE_SCALE")
	if err != nil {
		return err
	}
	d, err := discord.New(discord.Config{
		BotToken:        token,
		AppID:           g("DISCORD_APP_ID"),
		PublicKey:       g("DISCORD_PUBLIC_KEY"),
		GuildID:         g("DISCORD_GUILD_ID"),
		APIURL:          g("DISCORD_API_URL"),
		Engine:          a.engine,
		RequestsChannel: a.channels("requests")[discord.Platform],
		Logger:          a.log,
		Metrics:         a.metrics,
		RateScale:       scale,
	})
	if err != nil {
		return userError{"discord: " + err.Error()}
	}
	if err := checkToken(ctx, a, "Discord", d.Verify, set); err != nil {
		return err
	}
	set.notifiers = append(set.notifiers, a.notifier(d))
	ops.addCheck(discord.Platform, func(context.Context) error { return d.Ready() })
	gateway := g("DISCORD_PUBLIC_KEY") == ""
	if !gateway {
		set.handle(discord.InteractionsPath, d.Handler)
	}
	set.run(func(ctx context.Context) error { return retry(ctx, a, "register Discord commands", d.RegisterCommands) })
	set.runs = append(set.runs, func(ctx context.Context, router *commands.Router) error {
		defer d.Wait()
		if gateway {
			return retry(ctx, a, "Discord gateway", func(ctx context.Context) error { return d.RunGateway(ctx, router) })
		}
		<-ctx.Done()
		return nil
	})
	return nil
}

// addSlack enables the Slack adapter when SLACK_BOT_TOKEN is set: Socket
// Mode with SLACK_APP_TOKEN, the HTTP endpoints with SLACK_SIGNING_SECRET.
// A catalog entry whose form cannot fit a Slack modal stops startup.
func addSlack(ctx context.Context, a *app, g env, ops *opsServer, set *adapterSet) error {
	token := g("SLACK_BOT_TOKEN")
	if token == "" {
		if g("SLACK_APP_TOKEN") != "" || g("SLACK_SIGNING_SECRET") != "" {
			return userError{"SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not (see README, Connect Slack)."}
		}
		return nil
	}
	socket := g("SLACK_APP_TOKEN") != ""
	if !socket && g("SLACK_SIGNING_SECRET") == "" {
		return userError{"SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is (see README, Connect Slack)."}
	}
	var problems []string
	for _, svc := range a.engine.Catalog().Services() {
		if err := slack.Fits(svc); err != nil {
			problems = append(problems, fmt.Sprintf("  %s (%s): %v", svc.Name, svc.Source, err))
		}
	}
	if len(problems) > 0 {
		return userError{"These catalog entries cannot be shown as a Slack form:\n" + strings.Join(problems, "\n")}
	}
	scale, err := rateScale(g, "SLACK_RATE_SCALE")
	if err != nil {
		return err
	}
	s, err := slack.New(slack.Config{
		BotToken:      token,
		SigningSecret: g("SLACK_SIGNING_SECRET"),
		AppToken:      g("SLACK_APP_TOKEN"),
		APIURL:        g("SLACK_API_URL"),
		Engine:        a.engine,
		Logger:        a.log,
		Metrics:       a.metrics,
		HomeOpeners:   postgres.NewHomeOpeners(a.pool, slack.Platform),
		RateScale:     scale,
	})
	if err != nil {
		return userError{"slack: " + err.Error()}
	}
	if err := checkToken(ctx, a, "Slack", s.Verify, set); err != nil {
		return err
	}
	set.notifiers = append(set.notifiers, a.notifier(s))
	ops.addCheck(slack.Platform, func(context.Context) error { return s.Ready() })
	if g("SLACK_SIGNING_SECRET") != "" {
		set.handle("/slack/", s.Handler)
	}
	set.runs = append(set.runs, func(ctx context.Context, router *commands.Router) error {
		defer s.Wait()
		if socket {
			return retry(ctx, a, "Slack Socket Mode", func(ctx context.Context) error { return s.RunSocketMode(ctx, router) })
		}
		<-ctx.Done()
		return nil
	})
	return nil
}

// rateScale reads the variable name: how many times faster than the
// platform's documented rate limits the bot paces its messages (a fake of
// the platform in a test, or limits raised by the platform's support);
// unset is 1.
func rateScale(g func(string) string, name string) (float64, error) {
	v := g(name)
	if v == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) {
		return 0, userError{fmt.Sprintf("%s=%q: want a positive number, how many times faster than the documented rate limits to pace messages (1: as documented).", name, v)}
	}
	return f, nil
}
