// Package slack is idpbot's Slack adapter: slash commands and interactions
// over HTTP (signed requests on /slack/commands and /slack/interactions) or
// Socket Mode, catalog-driven create modals with inline errors, ephemeral
// Block Kit replies whose actions are buttons that run a command as the
// person who clicks, progress threads delivered from the outbox (one root
// message per request, edited as its state changes, a reply per event,
// connection details by direct message), and channel posts for jobs
// (commands.Poster: approval cards, surveys, digests).
package slack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Platform is the name of this chat platform in actor ids, origins, threads
// and notifier registrations.
const Platform = "slack"

// Defaults of Config.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultAckBudget   = 2 * time.Second
	DefaultIdentityTTL = 10 * time.Minute
	// slowWork bounds a command that outlived its ack and answers through
	// response_url.
	slowWork = 2 * time.Minute
)

// Config is what an Adapter is built from.
type Config struct {
	// BotToken (xoxb-…) calls the Web API. SigningSecret verifies HTTP
	// requests; AppToken (xapp-…) enables Socket Mode instead.
	BotToken      string
	SigningSecret string
	AppToken      string
	// APIURL overrides the Web API base URL (tests point it at a fake).
	APIURL string
	// HTTPClient calls the Web API; default one with DefaultTimeout that
	// keeps up to MaxIdleConns connections to Slack open.
	HTTPClient *http.Client
	Engine     *platform.Engine
	Logger     *slog.Logger
	Now        func() time.Time
	// Org lists the user groups and email members to resolve; default the
	// Engine's.
	Org *platform.Org
	// Metrics, when set, is told about acks, commands and API calls.
	Metrics chat.Metrics
	// AckBudget is how long a command may run before the acknowledgement
	// leaves without its answer, which then follows through response_url
	// (Slack allows 3 s). Default DefaultAckBudget.
	AckBudget time.Duration
	// IdentityTTL is how long resolved emails and user groups are cached.
	IdentityTTL time.Duration
	// RateScale divides every interval of Slack's rate limits the
	// Notifier paces its calls by (0: 1, Slack's own); load tests against
	// a fake Slack with faster windows set it.
	RateScale float64
	// HomeOpeners remembers who opened the Home tab (default: in this
	// process's memory).
	HomeOpeners HomeOpeners
	// HomeRefresh is how long a change waits before the Home tab of its
	// requester is published again (default DefaultHomeRefresh).
	HomeRefresh time.Duration
}

// Adapter connects Slack to the command router, and is the
// thread.Transport that delivers progress and posts to Slack.
type Adapter struct {
	api  *slackapi.Client
	http *http.Client
	// apiURL (with its trailing slash) and token are what api calls the
	// Web API with, for the calls made without it (openView).
	apiURL string
	token  string
	// router answers commands: given by the entry point that serves
	// them (Handler, and Socket Mode or the gateway).
	router    atomic.Pointer[commands.Router]
	engine    *platform.Engine
	secret    string
	appToken  string
	log       *slog.Logger
	now       func() time.Time
	metrics   chat.Metrics
	ackBudget time.Duration
	who       *identity
	// acks are the encoded acknowledgements of replies that are always
	// the same (commands.Reply.Same → *sameReply).
	acks sync.Map

	bg sync.WaitGroup
	// opening holds a token per modal being opened after its command's
	// acknowledgement (openTurn).
	opening chan struct{}
	// openWait is how long a form waits for a turn (maxOpenWait).
	openWait time.Duration
	forms    formViews
	// formsBehind counts the forms acknowledged and not opened yet.
	formsBehind atomic.Int64

	mu        sync.Mutex
	socket    bool // Socket Mode is running
	connected bool
	// unverified is why the bot token is not known to work: set by a
	// Verify that failed, cleared by one that succeeded.
	unverified error
	gen        int // connection count of the latest Socket Mode event

	openers     HomeOpeners
	homeRefresh time.Duration
	homeAfter   func(time.Duration) <-chan time.Time
	homeMu      sync.Mutex
	homePending map[string]bool // users whose Home tab is about to be published again

	rateScale float64
	dms       sync.Map // Slack user ID → direct message channel ID
}

// New returns an Adapter. It does no I/O.
func New(cfg Config) (*Adapter, error) {
	var problems []string
	if cfg.BotToken == "" {
		problems = append(problems, "a bot token (SLACK_BOT_TOKEN, xoxb-…) is required")
	}
	if cfg.SigningSecret == "" && cfg.AppToken == "" {
		problems = append(problems, "a signing secret (SLACK_SIGNING_SECRET) for HTTP mode or an app token (SLACK_APP_TOKEN, xapp-…) for Socket Mode is required")
	}
	if cfg.AppToken != "" && !strings.HasPrefix(cfg.AppToken, "xapp-") {
		problems = append(problems, "the app token must be an app-level token (xapp-…) with the connections:write scope")
	}
	if cfg.Engine == nil {
		problems = append(problems, "an Engine is required")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("slack: %s", strings.Join(problems, "; "))
	}
	a := &Adapter{
		rateScale: cmp.Or(cfg.RateScale, 1),
		engine:    cfg.Engine,
		secret:    cfg.SigningSecret,
		appToken:  cfg.AppToken,
		log:       cfg.Logger,
		now:       cfg.Now,
		metrics:   cfg.Metrics,
		ackBudget: cfg.AckBudget,

		openers:     cfg.HomeOpeners,
		opening:     make(chan struct{}, maxOpening),
		openWait:    maxOpenWait,
		homeRefresh: cfg.HomeRefresh,
		homeAfter:   time.After,
		homePending: map[string]bool{},
	}
	if a.openers == nil {
		a.openers = &memoryOpeners{}
	}
	if a.homeRefresh <= 0 {
		a.homeRefresh = DefaultHomeRefresh
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
	if a.ackBudget <= 0 {
		a.ackBudget = DefaultAckBudget
	}
	base := cfg.HTTPClient
	if base == nil {
		base = defaultHTTPClient()
	}
	a.http = chat.CountCalls(base, Platform, webAPIMethod, a.metrics)
	opts := []slackapi.Option{slackapi.OptionHTTPClient(a.http)}
	a.apiURL, a.token = slackapi.APIURL, cfg.BotToken
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slackapi.OptionAPIURL(u))
		a.apiURL = u
	}
	if cfg.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(cfg.AppToken))
	}
	a.api = slackapi.New(cfg.BotToken, opts...)
	org := cfg.Org
	if org == nil {
		org = cfg.Engine.Org()
	}
	ttl := cfg.IdentityTTL
	if ttl <= 0 {
		ttl = DefaultIdentityTTL
	}
	a.who = newIdentity(a.api, org, ttl, a.now, a.log)
	return a, nil
}

// MaxIdleConns is how many idle connections to the Web API the default
// HTTP client keeps. Go's default of 2 per host makes every call beyond
// two in flight dial (and, to slack.com, handshake TLS) anew and close its
// connection after: a burst of commands opening modals then costs the acks
// of the commands behind them a connection setup each. Connections are not
// capped: a call waiting for one could outlive its trigger_id (3 s).
const MaxIdleConns = 256

// defaultHTTPClient returns the Web API client used when Config has none.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = MaxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConns
	return &http.Client{Timeout: DefaultTimeout, Transport: t}
}

// Ready returns nil when the adapter can take requests: in HTTP mode
// unless its token failed Verify, and in Socket Mode while connected. It
// backs /readyz.
func (a *Adapter) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unverified != nil {
		return a.unverified
	}
	if a.appToken == "" {
		return nil
	}
	if !a.socket {
		return errors.New("slack socket mode is not running")
	}
	if !a.connected {
		return errors.New("slack socket mode is not connected")
	}
	return nil
}

// refusedToken are the auth.test errors of a bot token that will not work.
var refusedToken = []string{"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}

// Verify asks Slack whose the bot token is (auth.test). A token Slack
// refuses is a platform Forbidden error; another failure (Slack
// unreachable) is returned as it is. Until a Verify succeeds, Ready says
// why the adapter is not ready.
func (a *Adapter) Verify(ctx context.Context) error {
	resp, err := a.api.AuthTestContext(ctx)
	code := slackCode(err)
	switch {
	case err == nil:
		a.log.InfoContext(ctx, "slack bot token verified", "team", resp.Team, "bot_user", resp.UserID)
	case slices.Contains(refusedToken, code):
		err = platform.Errorf(platform.Forbidden, "Slack refused SLACK_BOT_TOKEN (%s): use the app's Bot User OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page.", code)
	default:
		err = a.apiErr("auth.test", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unverified = nil
	if err != nil {
		a.unverified = fmt.Errorf("slack bot token not verified: %w", err)
	}
	return err
}

// Wait blocks until the work the adapter started in the background (answers
// that outlived their acknowledgement, view updates) is done. Call it on
// shutdown, after the HTTP server and Socket Mode have stopped.
func (a *Adapter) Wait() { a.bg.Wait() }

// webAPIMethod labels a call for the metrics: the Web API method
// ("chat.postMessage"), or "response_url" for an answer to a command or
// an action.
func webAPIMethod(r *http.Request) string {
	if strings.Contains(r.URL.Path, "/response/") || strings.HasPrefix(r.URL.Host, "hooks.") {
		return "response_url"
	}
	return r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
}
