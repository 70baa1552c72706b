package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/idpbot/idpbot/internal/drivers/livestatus"
	"github.com/idpbot/idpbot/internal/platform"
)

// ActionStatus is the action of a live-status read: the value of
// X-Idpbot-Action and of the status URL's {{action}} placeholder.
const ActionStatus = "status"

var _ platform.StatusReader = (*Driver)(nil)

// Status reads the live state of what the resource stands for from the
// status URL (the binding's status_url, else Config.StatusURL), expanded
// with action "status": a GET signed like a delivery over an empty body,
// with X-Idpbot-Request-Id and X-Idpbot-Action: status. The 2xx answer is
// a live-status document (package livestatus), decoded strictly; 404 means
// the resource is gone (Missing). Without a status URL it returns
// platform.ErrNoStatus. Any other answer, or none, is an error.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	r := job.Resource
	if r == nil {
		return platform.LiveStatus{}, platform.Errorf(platform.Internal, "no resource in the job")
	}
	tmpl := settingURL(job.Settings, "status_url", d.cfg.StatusURL)
	if tmpl == "" {
		return platform.LiveStatus{}, platform.ErrNoStatus
	}
	if err := checkURL(tmpl); err != nil {
		return platform.LiveStatus{}, platform.Wrap(platform.Invalid, err, "the webhook binding of "+r.Service+" has an invalid status_url")
	}
	if d.cfg.Secret == "" {
		return platform.LiveStatus{}, platform.Errorf(platform.Unavailable, "no webhook secret configured")
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, expand(tmpl, r, ActionStatus), nil)
	if err != nil {
		return platform.LiveStatus{}, platform.Wrap(platform.Invalid, err, "the webhook status URL is not valid")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "idpbot")
	req.Header.Set(HeaderRequestID, strconv.FormatInt(r.ID, 10))
	req.Header.Set(HeaderAction, ActionStatus)
	SignRequest(req.Header, d.cfg.Secret, d.cfg.Now(), nil)
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return platform.LiveStatus{}, fmt.Errorf("read the live status of request %d from the webhook: %w", r.ID, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode == http.StatusNotFound {
		return platform.LiveStatus{
			Health:  platform.Missing,
			Summary: "The webhook's status URL says it no longer exists.",
			Checks:  []platform.LiveCheck{{Name: "status URL", Recorded: "found", Live: "HTTP 404"}},
		}, nil
	}
	if err := classify(resp.StatusCode, body, "The webhook's status URL refused the live-status read"); err != nil {
		return platform.LiveStatus{}, fmt.Errorf("read the live status of request %d: %w", r.ID, err)
	}
	st, err := livestatus.Decode(body)
	if err != nil {
		return platform.LiveStatus{}, platform.Wrap(platform.Unavailable, err, "The webhook's status URL did not answer a valid live-status document: "+err.Error())
	}
	return st, nil
}
