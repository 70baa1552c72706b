package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// MaxEventBody caps the body of an Events API request.
const MaxEventBody = 1 << 20

// EventsPath is where Slack's Events API posts in HTTP mode (the request
// URL of the manifest's event_subscriptions).
const EventsPath = "/slack/events"

// serveEvent answers an Events API request, already verified: the
// url_verification handshake with its challenge, and an event_callback
// with an empty 200 at once, the event being handled in the background
// (Slack retries an event it is not acknowledged within 3 s).
func (a *Adapter) serveEvent(w http.ResponseWriter, r *http.Request, body []byte, start time.Time) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		a.log.WarnContext(r.Context(), "malformed slack event", "err", err)
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	switch ev.Type {
	case slackevents.URLVerification:
		ch, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if !ok {
			http.Error(w, "malformed url_verification", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(ch.Challenge))
	case slackevents.CallbackEvent:
		w.WriteHeader(http.StatusOK)
		a.eventLater(r.Context(), ev)
	default:
		w.WriteHeader(http.StatusOK)
	}
	a.metrics.Ack(Platform, "event", time.Since(start))
}

// eventLater handles an Events API event in the background, after its
// acknowledgement, on a context that keeps ctx's values, not its end.
func (a *Adapter) eventLater(ctx context.Context, ev slackevents.EventsAPIEvent) {
	a.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slowWork)
		defer cancel()
		a.event(ctx, ev)
	})
}

// event handles one Events API event: app_home_opened on the Home tab
// publishes it. Other events are ignored.
func (a *Adapter) event(ctx context.Context, ev slackevents.EventsAPIEvent) {
	switch in := ev.InnerEvent.Data.(type) {
	case *slackevents.AppHomeOpenedEvent:
		if in.Tab == "home" && in.User != "" {
			a.homeOpened(ctx, in.User)
		}
	}
}

// socketEvent handles an events_api envelope of Socket Mode: acknowledged
// first, then handled like an HTTP event.
func (a *Adapter) socketEvent(ctx context.Context, e *socketmode.Event, c *socketmode.Client) {
	if e.Request != nil && e.Request.EnvelopeID != "" {
		a.ack(ctx, c, e.Request, nil)
	}
	ev, ok := e.Data.(slackevents.EventsAPIEvent)
	if !ok || ev.Type != slackevents.CallbackEvent {
		return
	}
	a.eventLater(ctx, ev)
}
