package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// maxOpening is how many modals the bot opens at once after their
// commands' acknowledgements, and maxOpenWait how long a modal waits for
// one of those turns. A burst of /idp create is acknowledged first and its
// forms opened a few at a time: each open renders, encodes and sends a
// form, and hundreds at once slow every acknowledgement behind them (Slack
// shows "operation_timeout" for a command not answered in 3 s) without
// opening any form sooner. A form that waited maxOpenWait opens without a
// turn, so that none misses its trigger's 3 s waiting for one.
//
// maxFormsBehind is how many forms may wait: about what the bot opens in a
// second on two busy cores. Beyond it an acknowledgement opens its own form
// first (slash), so that commands come no faster than their forms open.
const (
	maxOpening     = 8
	maxOpenWait    = time.Second
	maxFormsBehind = 1024
)

// openTurn waits for a turn to open a modal, at most a.openWait. It
// returns the function that ends the turn, and false if ctx ended first.
func (a *Adapter) openTurn(ctx context.Context) (done func(), ok bool) {
	if a.opening == nil {
		return func() {}, true
	}
	t := time.NewTimer(a.openWait)
	defer t.Stop()
	select {
	case a.opening <- struct{}{}:
		return func() { <-a.opening }, true
	case <-t.C:
		a.log.Debug("slack form opened without waiting longer for a turn", "waited", a.openWait)
		return func() {}, true
	case <-ctx.Done():
		return nil, false
	}
}

// formViews keeps the encoded modals of create forms. A form is the same
// for every command of the same service, teams, prefilled values and
// channel, and rendering and encoding it costs more than the rest of the
// command and its views.open call together.
type formViews struct {
	mu sync.Mutex
	m  map[formKey]json.RawMessage
}

// formKey is what a create form's modal is made of (FormModal).
type formKey struct {
	// svc keeps its catalog entry alive while the modal is kept: a
	// reloaded catalog has entries of its own, at addresses of their own.
	svc     *platform.ServiceDefinition
	dryRun  bool
	channel string
	fields  string // encoded: the actor's teams, values given in the command
}

// maxFormViews bounds the modals kept; when full they are all dropped.
const maxFormViews = 256

// formView returns the encoded modal of form f opened in channel.
func (a *Adapter) formView(f *commands.Form, channel string) (json.RawMessage, error) {
	fields, err := json.Marshal(f.Fields)
	if err != nil {
		return nil, fmt.Errorf("encode the fields of %s: %w", f.Service.Name, err)
	}
	key := formKey{svc: f.Service, dryRun: f.DryRun, channel: channel, fields: string(fields)}
	a.forms.mu.Lock()
	v, ok := a.forms.m[key]
	a.forms.mu.Unlock()
	if ok {
		return v, nil
	}
	view, err := FormModal(f, Metadata{Channel: channel})
	if err != nil {
		return nil, err
	}
	if v, err = encodeView(view); err != nil {
		return nil, err
	}
	a.forms.mu.Lock()
	defer a.forms.mu.Unlock()
	if len(a.forms.m) >= maxFormViews || a.forms.m == nil {
		a.forms.m = make(map[formKey]json.RawMessage)
	}
	a.forms.m[key] = v
	return v, nil
}

// okPrefix starts the answer of a Web API call that succeeded, as Slack
// writes it.
const okPrefix = `{"ok":true`

// maxViewReply bounds the answer of views.open read: the view sent back
// (at most 100 blocks of a few KB).
const maxViewReply = 4 << 20

// openView opens a modal with views.open, as slack-go's OpenViewContext
// does (same request, same errors: SlackErrorResponse, RateLimitedError,
// StatusCodeError) but without decoding the view Slack sends back, which
// the bot never reads: slack-go turns every block of it into typed structs,
// a third of the bot's CPU under a burst of /idp create in idpload's
// profile, competing with the acknowledgements of the commands behind.
func (a *Adapter) openView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) error {
	encoded, err := encodeView(view)
	if err != nil {
		return err
	}
	return a.openEncoded(ctx, triggerID, encoded)
}

// encodeView checks view as slack-go does before views.open, and encodes
// it.
func encodeView(view slackapi.ModalViewRequest) (json.RawMessage, error) {
	if !slackapi.ValidateUniqueBlockID(view) {
		return nil, slackapi.ErrBlockIDNotUnique
	}
	encoded, err := json.Marshal(view)
	if err != nil {
		return nil, fmt.Errorf("encode views.open: %w", err)
	}
	return encoded, nil
}

// openEncoded is openView with the view encoded already (encodeView).
func (a *Adapter) openEncoded(ctx context.Context, triggerID string, view json.RawMessage) error {
	if triggerID == "" {
		return slackapi.ErrParametersMissing
	}
	trigger, err := json.Marshal(triggerID)
	if err != nil {
		return fmt.Errorf("encode views.open: %w", err)
	}
	// The view is spliced in as it is, not copied: json.Marshal would
	// check and compact it again, and a copy per form would be most of
	// what a burst of /idp create allocates.
	head := append(append([]byte(`{"trigger_id":`), trigger...), `,"view":`...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.apiURL+"views.open",
		io.MultiReader(bytes.NewReader(head), bytes.NewReader(view), strings.NewReader("}")))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(head) + len(view) + 1)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" {
		secs, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64)
		if err != nil {
			return fmt.Errorf("views.open: Retry-After %q: %w", resp.Header.Get("Retry-After"), err)
		}
		return &slackapi.RateLimitedError{RetryAfter: time.Duration(secs) * time.Second}
	}
	if resp.StatusCode != http.StatusOK {
		return slackapi.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	// Slack answers {"ok":true,"view":{…}}: the view sent back is read
	// through (so that the connection serves the next call), not kept.
	var start [len(okPrefix)]byte
	n, err := io.ReadFull(resp.Body, start[:])
	if err == nil && string(start[:]) == okPrefix {
		if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxViewReply)); err != nil {
			return fmt.Errorf("read views.open: %w", err)
		}
		return nil
	}
	var res slackapi.SlackResponse // "view" is skipped, not decoded
	if err := json.NewDecoder(io.MultiReader(bytes.NewReader(start[:n]), io.LimitReader(resp.Body, maxViewReply))).Decode(&res); err != nil {
		return fmt.Errorf("decode views.open: %w", err)
	}
	return res.Err()
}
