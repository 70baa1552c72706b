// Package webhook is the provisioner driver that hands requests to an HTTP
// endpoint (a CI pipeline trigger, an internal API) and waits for it to
// report completion.
//
// # Delivery
//
// Provision and Deprovision POST a JSON document to Config.URL:
//
//	{"request_id": 12, "action": "create", "service": "web-application",
//	 "name": "orders-api", "team": "payments", "environment": "production",
//	 "parameters": {...}, "requester": {"id": "slack:U123", "name": "alice"},
//	 "callback_url": "https://idpbot.example.com/api/v1/callbacks/<token>"}
//
// with the headers
//
//	X-Idpbot-Timestamp: <Unix seconds>
//	X-Idpbot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//	X-Idpbot-Request-Id, X-Idpbot-Action, Idempotency-Key (same on retries)
//
// A receiver must recompute the signature over the raw body and reject
// timestamps more than 5 minutes away. A 2xx answer accepts the work; 408,
// 429, 5xx and network errors are retried by the job with backoff; any other
// 4xx fails the request with the body's "message" (or "error", or text).
//
// # Completion
//
// The receiver reports {"state": "provisioning"|"ready"|"failed",
// "message": "...", "outputs": {...}, "secrets": {...}} in one of three
// ways: in the 2xx answer itself; by POSTing it to callback_url signed the
// same way (Handler serves POST /api/v1/callbacks/{token}; any replica may
// receive it, it is kept in PostgreSQL); or by answering GET Config.StatusURL
// (signed the same way over an empty body). "provisioning" messages become
// steps in the request's thread; for action "delete", "ready" means removed.
// With neither a callback base URL nor a status URL, the 2xx answer is the
// completion. Secrets go to the requester only and are kept sealed.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Defaults of Config.
const (
	DefaultTimeout        = 30 * time.Minute
	DefaultPollInterval   = 5 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	// CallbackPath is the path prefix Handler serves; the token follows.
	CallbackPath = "/api/v1/callbacks/"
	// maxBody caps callback bodies and the responses read from receivers.
	maxBody = 64 << 10
	// maxSteps caps the callback steps of one delivery.
	maxSteps = 200
)

// Completion states a receiver reports.
const (
	StatePending      = "pending"
	StateProvisioning = "provisioning"
	StateReady        = "ready"
	StateFailed       = "failed"
)

// Config configures the webhook driver.
type Config struct {
	// URL receives the signed POST of each request. A binding's "url"
	// setting overrides it for one service.
	URL string `json:"url,omitempty"`
	// StatusURL, when set, is polled for completion (GET, signed). The
	// placeholders {{request_id}}, {{action}}, {{service}}, {{name}},
	// {{team}} and {{environment}} are replaced, URL-escaped. A binding's
	// "status_url" setting overrides it.
	StatusURL string `json:"status_url,omitempty"`
	// Secret keys the HMAC signatures in both directions.
	Secret string `json:"secret,omitempty"`
	// CallbackBaseURL is the bot's public base URL; when set (and a
	// database is given), each delivery carries
	// <base>/api/v1/callbacks/<token>.
	CallbackBaseURL string `json:"callback_base_url,omitempty"`
	// Timeout bounds one attempt, delivery and wait (default
	// DefaultTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// PollInterval is how often the status URL and the callback table are
	// read (default DefaultPollInterval).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	// RequestTimeout bounds each HTTP request (default
	// DefaultRequestTimeout).
	RequestTimeout time.Duration `json:"request_timeout,omitempty"`
	// HTTPClient sends the requests (default a client with RequestTimeout).
	HTTPClient *http.Client `json:"-"`
	// Now is the clock of signatures (default time.Now).
	Now func() time.Time `json:"-"`
	// Logger receives what is for the operator only (default: discard).
	Logger *slog.Logger `json:"-"`
}

// Driver delivers requests to a webhook. It is safe for concurrent use.
type Driver struct {
	cfg       Config
	callbacks CallbackStore
	sealer    *platform.Sealer
	log       *slog.Logger
}

var _ platform.Driver = (*Driver)(nil)

// New returns a driver for cfg. callbacks keeps the callbacks receivers
// send; it may be nil when callbacks are not used. New checks URLs and does
// no I/O.
func New(cfg Config, callbacks CallbackStore) (*Driver, error) {
	for name, u := range map[string]string{"url": cfg.URL, "status_url": cfg.StatusURL, "callback_base_url": cfg.CallbackBaseURL} {
		if u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("webhook driver: %s: %w", name, err)
		}
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.RequestTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{cfg: cfg, callbacks: callbacks, log: log}
	if cfg.Secret != "" {
		mac := hmac.New(sha256.New, []byte(cfg.Secret))
		mac.Write([]byte("idpbot webhook callback secrets"))
		s, err := platform.NewSealer(mac.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("webhook driver: %w", err)
		}
		d.sealer = s
	}
	return d, nil
}

func checkURL(s string) error {
	u, err := url.Parse(strings.NewReplacer("{{", "", "}}", "").Replace(s))
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// Check returns an Unavailable error when the driver cannot deliver.
func (d *Driver) Check() error {
	switch {
	case d.cfg.URL == "":
		return platform.Errorf(platform.Unavailable, "no webhook URL configured")
	case d.cfg.Secret == "":
		return platform.Errorf(platform.Unavailable, "no webhook secret configured")
	case d.cfg.CallbackBaseURL != "" && d.callbacks == nil:
		return platform.Errorf(platform.Unavailable, "webhook callbacks need the database")
	}
	return nil
}

// Timeout bounds one attempt.
func (d *Driver) Timeout() time.Duration {
	if d.cfg.Timeout > 0 {
		return d.cfg.Timeout
	}
	return DefaultTimeout
}

// Provision delivers the request with action "create" and waits for the
// receiver to report it ready.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	return d.run(ctx, job, "create")
}

// Deprovision delivers the request with action "delete", waits for the
// receiver to report it done, and forgets the request's callbacks.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	if _, err := d.run(ctx, job, "delete"); err != nil {
		return err
	}
	if d.callbacks != nil {
		if err := d.callbacks.Forget(ctx, job.Resource.ID); err != nil {
			return err
		}
	}
	return nil
}

// delivery is the JSON document POSTed to the webhook.
type delivery struct {
	RequestID   int64          `json:"request_id"`
	Action      string         `json:"action"`
	Service     string         `json:"service"`
	Name        string         `json:"name"`
	Team        string         `json:"team"`
	Environment string         `json:"environment"`
	Parameters  map[string]any `json:"parameters"`
	Requester   platform.Actor `json:"requester"`
	CallbackURL string         `json:"callback_url,omitempty"`
}

// Report is what a receiver tells about a delivery, in a callback, a status
// answer or the delivery's own answer.
type Report struct {
	State   string         `json:"state"`
	Message string         `json:"message,omitempty"`
	Outputs map[string]any `json:"outputs,omitempty"`
	Secrets map[string]any `json:"secrets,omitempty"`
}

func (d *Driver) run(ctx context.Context, job platform.Job, action string) (platform.Result, error) {
	if err := d.Check(); err != nil {
		return platform.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	r := job.Resource
	step := job.Step
	if step == nil {
		step = func(string) {}
	}
	target := settingURL(job.Settings, "url", d.cfg.URL)
	statusURL := settingURL(job.Settings, "status_url", d.cfg.StatusURL)
	for _, u := range []string{target, statusURL} {
		if u != "" {
			if err := checkURL(u); err != nil {
				return platform.Result{}, platform.Wrap(platform.Invalid, err, "the webhook binding of "+r.Service+" has an invalid URL")
			}
		}
	}
	callbacks := d.cfg.CallbackBaseURL != "" && d.callbacks != nil
	token := Token(d.cfg.Secret, r.ID, action)

	w := &waiter{d: d, r: r, action: action, token: token, step: step}
	if callbacks {
		if err := d.callbacks.Register(ctx, token, r.ID, action); err != nil {
			return platform.Result{}, err
		}
		// A callback already arrived: a previous attempt delivered it.
		if done, res, err := w.checkCallback(ctx); err != nil || done {
			return res, err
		}
		if w.callbackSeen {
			step("Resuming: the webhook already reported progress")
			return w.wait(ctx, callbacks, expand(statusURL, r, action))
		}
	}

	params := r.Parameters
	if params == nil {
		params = map[string]any{}
	}
	body := delivery{
		RequestID: r.ID, Action: action, Service: r.Service, Name: r.Name, Team: r.Team,
		Environment: r.Environment, Parameters: params, Requester: r.Requester,
	}
	if callbacks {
		body.CallbackURL = strings.TrimSuffix(d.cfg.CallbackBaseURL, "/") + CallbackPath + token
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return platform.Result{}, platform.Wrap(platform.Invalid, err, "the request cannot be sent to the webhook")
	}
	rep, err := d.deliver(ctx, target, r, action, payload)
	if err != nil {
		return platform.Result{}, err
	}
	step("Delivered to the webhook")
	if rep != nil {
		if done, res, err := w.handle(*rep); done {
			return res, err
		}
	}
	if !callbacks && statusURL == "" {
		// Nothing else will report: the 2xx answer is the completion.
		return platform.Result{}, nil
	}
	return w.wait(ctx, callbacks, expand(statusURL, r, action))
}

// deliver POSTs payload and classifies the answer. A 2xx answer that is a
// Report with a state is returned.
func (d *Driver) deliver(ctx context.Context, target string, r *platform.Resource, action string, payload []byte) (*Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return nil, platform.Wrap(platform.Invalid, err, "the webhook URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idpbot")
	req.Header.Set(HeaderRequestID, strconv.FormatInt(r.ID, 10))
	req.Header.Set(HeaderAction, action)
	req.Header.Set(HeaderIdempotencyKey, fmt.Sprintf("idpbot-%d-%s", r.ID, action))
	SignRequest(req.Header, d.cfg.Secret, d.cfg.Now(), payload)
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deliver request %d to the webhook: %w", r.ID, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err := classify(resp.StatusCode, body, "The webhook refused the request"); err != nil {
		return nil, fmt.Errorf("deliver request %d: %w", r.ID, err)
	}
	var rep Report
	if json.Unmarshal(body, &rep) == nil && rep.State != "" && rep.State != StatePending {
		return &rep, nil
	}
	return nil, nil
}

// classify turns a non-2xx answer into an error: 408, 429 and 5xx are
// transient, other 4xx permanent with the body's message.
func classify(status int, body []byte, what string) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return fmt.Errorf("webhook answered HTTP %d: %s", status, sanitize(string(body), 200))
	case status >= 400:
		msg := bodyMessage(body)
		if msg == "" {
			msg = http.StatusText(status)
		}
		return &platform.Error{Code: platform.Invalid, Message: fmt.Sprintf("%s (HTTP %d): %s", what, status, msg), Err: fmt.Errorf("webhook answered HTTP %d", status)}
	}
	return fmt.Errorf("webhook answered unexpected HTTP %d", status)
}

// bodyMessage is the "message" or "error" of a JSON body, or the body as
// text, sanitized and cut to 300 characters.
func bodyMessage(body []byte) string {
	var v struct {
		Message string `json:"message"`
		Error   any    `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		if v.Message != "" {
			return sanitize(v.Message, 300)
		}
		switch e := v.Error.(type) {
		case string:
			return sanitize(e, 300)
		case map[string]any:
			if m, ok := e["message"].(string); ok {
				return sanitize(m, 300)
			}
		}
	}
	if len(body) > 0 && (body[0] == '{' || body[0] == '[' || body[0] == '<') {
		// Structured or HTML without a message: not for a chat.
		return ""
	}
	return sanitize(string(body), 300)
}

// waiter follows one delivery to completion.
type waiter struct {
	d            *Driver
	r            *platform.Resource
	action       string
	token        string
	step         func(string)
	lastMessage  string
	callbackSeen bool
}

// wait polls the callback table and the status URL until a final state.
func (w *waiter) wait(ctx context.Context, callbacks bool, statusURL string) (platform.Result, error) {
	interval := w.d.cfg.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return platform.Result{}, fmt.Errorf("wait for the webhook to complete request %d: %w", w.r.ID, ctx.Err())
		case <-t.C:
		}
		if callbacks {
			if done, res, err := w.checkCallback(ctx); err != nil || done {
				return res, err
			}
		}
		if statusURL != "" {
			if done, res, err := w.checkStatus(ctx, statusURL); err != nil || done {
				return res, err
			}
		}
		t.Reset(interval)
	}
}

// checkCallback reports the callback steps not yet reported and returns
// done when the receiver reported a final state.
func (w *waiter) checkCallback(ctx context.Context) (bool, platform.Result, error) {
	cb, err := w.d.callbacks.Claim(ctx, w.token)
	if err != nil {
		return false, platform.Result{}, err
	}
	for _, s := range cb.Steps {
		w.step(s)
	}
	if cb.State != StatePending {
		w.callbackSeen = true
	}
	switch cb.State {
	case StateReady:
		res := platform.Result{Outputs: stringValues(cb.Outputs)}
		if len(cb.Secrets) > 0 {
			sec, err := w.d.sealer.Open(w.r.ID, cb.Secrets)
			if err != nil {
				return false, platform.Result{}, fmt.Errorf("open callback secrets of request %d: %w", w.r.ID, err)
			}
			res.Secrets = sec
		}
		return true, res, nil
	case StateFailed:
		return true, platform.Result{}, w.failure(cb.Message)
	}
	return false, platform.Result{}, nil
}

// checkStatus GETs the status URL; transient problems just mean "not yet".
func (w *waiter) checkStatus(ctx context.Context, statusURL string) (bool, platform.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statusURL, nil)
	if err != nil {
		return false, platform.Result{}, platform.Wrap(platform.Invalid, err, "the webhook status URL is not valid")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "idpbot")
	req.Header.Set(HeaderRequestID, strconv.FormatInt(w.r.ID, 10))
	req.Header.Set(HeaderAction, w.action)
	SignRequest(req.Header, w.d.cfg.Secret, w.d.cfg.Now(), nil)
	resp, err := w.d.cfg.HTTPClient.Do(req)
	if err != nil {
		w.d.log.WarnContext(ctx, "webhook status poll failed", "request_id", w.r.ID, "err", err)
		return false, platform.Result{}, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode == http.StatusNotFound {
		return false, platform.Result{}, nil
	}
	if err := classify(resp.StatusCode, body, "The webhook's status check failed"); err != nil {
		if platform.IsPermanent(err) {
			return false, platform.Result{}, err
		}
		w.d.log.WarnContext(ctx, "webhook status poll failed", "request_id", w.r.ID, "err", err)
		return false, platform.Result{}, nil
	}
	var rep Report
	if err := json.Unmarshal(body, &rep); err != nil {
		w.d.log.WarnContext(ctx, "webhook status is not JSON", "request_id", w.r.ID, "err", err)
		return false, platform.Result{}, nil
	}
	return w.handle(rep)
}

// handle acts on a report from a status answer or the delivery's answer.
func (w *waiter) handle(rep Report) (bool, platform.Result, error) {
	msg := sanitize(rep.Message, 300)
	switch rep.State {
	case StateReady:
		if msg != "" && msg != w.lastMessage {
			w.step(msg)
		}
		return true, platform.Result{Outputs: stringValues(rep.Outputs), Secrets: stringValues(rep.Secrets)}, nil
	case StateFailed:
		return true, platform.Result{}, w.failure(msg)
	case StateProvisioning, StatePending, "":
		if msg != "" && msg != w.lastMessage {
			w.lastMessage = msg
			w.step(msg)
		}
		return false, platform.Result{}, nil
	}
	w.d.log.Warn("webhook reported an unknown state", "request_id", w.r.ID, "state", sanitize(rep.State, 40))
	return false, platform.Result{}, nil
}

func (w *waiter) failure(msg string) error {
	if msg == "" {
		msg = "no reason given"
	}
	return &platform.Error{Code: platform.Invalid, Message: "The webhook reported a failure: " + msg}
}

func settingURL(settings map[string]any, key, def string) string {
	if s, ok := settings[key].(string); ok && s != "" {
		return s
	}
	return def
}

// expand replaces the placeholders of a status URL, URL-escaped.
func expand(tmpl string, r *platform.Resource, action string) string {
	if tmpl == "" {
		return ""
	}
	e := url.PathEscape
	return strings.NewReplacer(
		"{{request_id}}", strconv.FormatInt(r.ID, 10),
		"{{action}}", e(action),
		"{{service}}", e(r.Service),
		"{{name}}", e(r.Name),
		"{{team}}", e(r.Team),
		"{{environment}}", e(r.Environment),
	).Replace(tmpl)
}

// stringValues turns a report's values into strings.
func stringValues(m map[string]any) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		case float64, bool:
			out[k] = platform.FormatValue(v)
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// sanitize makes untrusted text fit for a chat message (platform.OneLine).
func sanitize(s string, n int) string { return platform.OneLine(s, n) }
