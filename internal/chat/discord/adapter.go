// Package discord is idpbot's Discord adapter: the /idp application command
// (registered with a bulk overwrite, one subcommand per catalog service whose
// options are the service's form), answered over the HTTP interactions
// endpoint (Ed25519-signed requests on /discord/interactions) or the
// gateway, ephemeral replies with inline field errors, Confirm/Cancel buttons
// for deletions, buttons for a reply's actions (run as the person who
// clicks, after a modal for those that ask for text), progress threads
// delivered from the outbox (one root message per request, edited as its
// state changes, a thread message per event, Approve/Reject on a request
// awaiting approval, connection details by direct message), and posts in
// channels for jobs (commands.Poster).
package discord

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Platform is the name of this chat platform in actor ids, origins, threads
// and notifier registrations.
const Platform = "discord"

// Defaults of Config.
const (
	// DefaultTimeout bounds one call of Discord's HTTP API.
	DefaultTimeout = 10 * time.Second
	// DefaultAckBudget is how long an interaction's work may run before the
	// adapter answers with a deferred response and completes it later by
	// editing the original response (Discord allows 3 s for the first
	// response).
	DefaultAckBudget = 2 * time.Second
	// slowWork bounds work that outlived its acknowledgement; Discord keeps
	// an interaction's token valid for 15 minutes.
	slowWork = 2 * time.Minute
)

// Config is what an Adapter is built from.
type Config struct {
	// BotToken authenticates API calls and the gateway ("Bot " is added
	// when missing). AppID is the application's id.
	BotToken string
	AppID    string
	// PublicKey (hex) verifies requests to the HTTP interactions endpoint;
	// without it the adapter uses the gateway (RunGateway).
	PublicKey string
	// GuildID, when set, registers the commands in that guild only
	// (instant, for development) instead of globally.
	GuildID string
	// APIURL replaces https://discord.com/api in every API call, e.g.
	// http://127.0.0.1:8081/api for a fake or a proxy.
	APIURL string
	// HTTPClient calls the API; default one with DefaultTimeout.
	HTTPClient *http.Client
	// Engine is what the commands run on (its catalog and organisation
	// shape them).
	Engine *platform.Engine
	// RequestsChannel, when set, is where replies say progress is told
	// (the thread.Notifier posts every root message there).
	RequestsChannel string
	Logger          *slog.Logger
	Now             func() time.Time
	// Metrics, when set, is told about acks, commands and API calls:
	// every API call is a ChatCall with its route and status ("429" for a
	// rate limit); the delivery jobs record the waits.
	Metrics chat.Metrics
	// AckBudget is how long an interaction's work may run before a deferred
	// response is sent instead of the answer, which then replaces it
	// (default DefaultAckBudget; negative: always defer).
	AckBudget time.Duration
	// RateScale divides every interval of Discord's rate limits the
	// Notifier paces its calls by (0: 1, Discord's own); load tests
	// against a fake Discord with faster windows set it.
	RateScale float64
}

// Adapter connects Discord to the command router, and is the
// thread.Transport that delivers progress and posts to Discord.
type Adapter struct {
	s         *discordgo.Session
	appID     string
	guildID   string
	publicKey ed25519.PublicKey
	// router answers commands: given by the entry point that serves
	// them (Handler, and Socket Mode or the gateway).
	router    atomic.Pointer[commands.Router]
	engine    *platform.Engine
	requests  string
	log       *slog.Logger
	now       func() time.Time
	metrics   chat.Metrics
	ackBudget time.Duration
	layout    *layout
	rateScale float64
	pacer     atomic.Pointer[thread.Pacer] // the Notifier's, told of the buckets' headers
	dms       sync.Map                     // Discord user ID → direct message channel ID

	bg sync.WaitGroup

	mu        sync.Mutex
	gateway   bool // RunGateway is running
	connected bool
	// unverified is why the bot token is not known to work: set by a
	// Verify that failed, cleared by one that succeeded.
	unverified error
}

// New returns an Adapter. It does no I/O.
func New(cfg Config) (*Adapter, error) {
	var problems []string
	if cfg.BotToken == "" {
		problems = append(problems, "a bot token (DISCORD_BOT_TOKEN) is required")
	}
	if cfg.AppID == "" {
		problems = append(problems, "the application id (DISCORD_APP_ID) is required")
	}
	var key ed25519.PublicKey
	if cfg.PublicKey != "" {
		k, err := hex.DecodeString(strings.TrimSpace(cfg.PublicKey))
		if err != nil || len(k) != ed25519.PublicKeySize {
			problems = append(problems, "the public key (DISCORD_PUBLIC_KEY) must be the application's 64 hex digits")
		}
		key = k
	}
	if cfg.Engine == nil {
		problems = append(problems, "an Engine is required")
	}
	var base *url.URL
	if cfg.APIURL != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.APIURL, "/"))
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			problems = append(problems, fmt.Sprintf("the API URL (DISCORD_API_URL) %q must be an http(s) URL like https://discord.com/api", cfg.APIURL))
		}
		base = u
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("discord: %s", strings.Join(problems, "; "))
	}
	a := &Adapter{
		appID:     cfg.AppID,
		guildID:   cfg.GuildID,
		publicKey: key,
		engine:    cfg.Engine,
		requests:  cfg.RequestsChannel,
		log:       cfg.Logger,
		now:       cfg.Now,
		metrics:   cfg.Metrics,
		ackBudget: cfg.AckBudget,
		rateScale: cmp.Or(cfg.RateScale, 1),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("platform", Platform)
	if a.now == nil {
		a.now = time.Now
	}
	if a.metrics == nil {
		a.metrics = chat.NopMetrics{}
	}
	if a.ackBudget == 0 {
		a.ackBudget = DefaultAckBudget
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	if base != nil {
		rewritten := *hc
		rewritten.Transport = &rewrite{base: base, next: hc.Transport}
		hc = &rewritten
	}
	token := cfg.BotToken
	if !strings.HasPrefix(token, "Bot ") {
		token = "Bot " + token
	}
	s, err := discordgo.New(token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	s.Client = chat.CountCalls(hc, Platform, func(r *http.Request) string { return routeLabel(r.Method, r.URL.Path) }, a.metrics)
	reported := *s.Client
	reported.Transport = &reportLimits{a: a, next: s.Client.Transport}
	s.Client = &reported
	// A 429 must reach the delivery job, which waits and keeps the thread
	// in order, instead of sleeping inside the client.
	s.ShouldRetryOnRateLimit = false
	s.StateEnabled = false
	s.Identify.Intents = discordgo.IntentsNone
	s.LogLevel = discordgo.LogError
	a.s = s
	a.layout = newLayout(cfg.Engine.Catalog(), cfg.Engine.Org())
	return a, nil
}

// Ready returns nil when the adapter can take interactions: in HTTP mode
// unless its token failed Verify, and in gateway mode while connected. It
// backs /readyz.
func (a *Adapter) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unverified != nil {
		return a.unverified
	}
	if a.publicKey != nil {
		return nil
	}
	if !a.gateway {
		return errors.New("discord gateway is not running")
	}
	if !a.connected {
		return errors.New("discord gateway is not connected")
	}
	return nil
}

// Verify asks Discord whose the bot token is (GET /users/@me). A token
// Discord refuses is a platform Forbidden error; another failure (Discord
// unreachable) is returned as it is. Until a Verify succeeds, Ready says
// why the adapter is not ready.
func (a *Adapter) Verify(ctx context.Context) error {
	u, err := a.s.User("@me", discordgo.WithContext(ctx))
	var re *discordgo.RESTError
	switch {
	case err == nil:
		a.log.InfoContext(ctx, "discord bot token verified", "bot_user", u.ID, "name", u.Username)
	case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized:
		err = platform.Errorf(platform.Forbidden, "Discord refused DISCORD_BOT_TOKEN (401 Unauthorized): use the token from the Bot page of the application in the Discord developer portal.")
	default:
		err = a.apiErr("get the bot user", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unverified = nil
	if err != nil {
		a.unverified = fmt.Errorf("discord bot token not verified: %w", err)
	}
	return err
}

// Wait blocks until the work the adapter started in the background (answers
// that outlived their acknowledgement) is done. Call it on shutdown, after
// the HTTP server and the gateway have stopped.
func (a *Adapter) Wait() { a.bg.Wait() }

// apiErr classifies an error of an API call for the job that made it: a 429
// becomes a *thread.RateLimitError; anything else is wrapped and retried.
func (a *Adapter) apiErr(route string, err error) error {
	if err == nil {
		return nil
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil && rl.TooManyRequests != nil {
		after := max(rl.RetryAfter, time.Second/10)
		return &thread.RateLimitError{Bucket: "discord " + route, After: after, Err: err}
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusTooManyRequests {
		after := time.Second
		if s, perr := strconv.ParseFloat(re.Response.Header.Get("Retry-After"), 64); perr == nil && s > 0 {
			after = time.Duration(s * float64(time.Second))
		}
		global := re.Response.Header.Get("X-RateLimit-Scope") == "global" || re.Response.Header.Get("X-RateLimit-Global") == "true"
		return &thread.RateLimitError{Bucket: "discord " + route, After: after, Global: global, Err: err}
	}
	return fmt.Errorf("discord %s: %w", route, err)
}

// Discord's JSON error codes the adapter reacts to.
const (
	codeUnknownChannel    = 10003
	codeUnknownMessage    = 10008
	codeMissingAccess     = 50001
	codeCannotDM          = 50007
	codeMissingPermission = 50013
	codeWrongChannelType  = 50024
	codeThreadArchived    = 50083
	codeThreadExists      = 160004
)

// apiCode returns Discord's JSON error code of a failed call, or 0.
func apiCode(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Message != nil {
		return re.Message.Code
	}
	return 0
}

// rewrite sends the API calls to base (Config.APIURL) instead of
// https://discord.com/api.
type rewrite struct {
	base *url.URL
	next http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "discord.com" && (r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")) {
		r = r.Clone(r.Context())
		u := *r.URL
		rest := strings.TrimPrefix(u.EscapedPath(), "/api")
		u.Scheme, u.Host = t.base.Scheme, t.base.Host
		u.RawPath = t.base.EscapedPath() + rest
		p, err := url.PathUnescape(u.RawPath)
		if err != nil {
			return nil, fmt.Errorf("rewrite %s: %w", routeLabel(r.Method, r.URL.Path), err)
		}
		u.Path = p
		r.URL, r.Host = &u, t.base.Host
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// routeLabel is a bounded metric label for an API call: the method and the
// path with ids and tokens replaced ("POST /channels/{id}/messages").
func routeLabel(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var out []string
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		switch {
		case i < 2 && (s == "api" || strings.HasPrefix(s, "v") && isDigits(s[1:])):
			continue
		case isDigits(s):
			out = append(out, "{id}")
			if i > 0 && (segs[i-1] == "webhooks" || segs[i-1] == "interactions") && i+1 < len(segs) {
				out = append(out, "{token}")
				i++
			}
		default:
			out = append(out, s)
		}
	}
	return method + " /" + strings.Join(out, "/")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
