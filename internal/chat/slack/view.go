package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	slackapi "github.com/slack-go/slack"
)

// openView opens a modal with views.open, as slack-go's OpenViewContext
// does (same request, same errors: SlackErrorResponse, RateLimitedError,
// StatusCodeError) but without decoding the view Slack sends back, which
// the bot never reads: slack-go turns every block of it into typed structs,
// a third of the bot's CPU under a burst of /idp create in idpload's
// profile, competing with the acknowledgements of the commands behind.
func (a *Adapter) openView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) error {
	if triggerID == "" {
		return slackapi.ErrParametersMissing
	}
	if !slackapi.ValidateUniqueBlockID(view) {
		return slackapi.ErrBlockIDNotUnique
	}
	body, err := json.Marshal(struct {
		TriggerID string                    `json:"trigger_id"`
		View      slackapi.ModalViewRequest `json:"view"`
	}{triggerID, view})
	if err != nil {
		return fmt.Errorf("encode views.open: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.apiURL+"views.open", bytes.NewReader(body))
	if err != nil {
		return err
	}
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
	var res slackapi.SlackResponse // "view" is skipped, not decoded
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("decode views.open: %w", err)
	}
	return res.Err()
}
