package slack

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/commands"
)

// Request body limits: a slash command is a small form; an interaction
// carries the whole view.
const (
	MaxCommandBody     = 64 << 10
	MaxInteractionBody = 1 << 20
)

// Handler serves Slack's HTTP endpoints: POST /slack/commands, POST
// /slack/interactions and POST /slack/events (the Events API). Every
// request's signature is checked against the signing secret (and its
// timestamp against a 5-minute window) before anything else; a forged,
// unsigned or stale request gets 401 and an oversized one 413, with no
// side effect. router answers the commands.
func (a *Adapter) Handler(router *commands.Router) http.Handler {
	a.router.Store(router)
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", a.verified("command", MaxCommandBody, a.serveCommand))
	mux.Handle("POST /slack/interactions", a.verified("interaction", MaxInteractionBody, a.serveInteraction))
	mux.Handle("POST "+EventsPath, a.verified("event", MaxEventBody, a.serveEvent))
	return mux
}

// verified reads a size-capped body, checks its Slack signature and passes
// it on.
func (a *Adapter) verified(kind string, limit int64, next func(w http.ResponseWriter, r *http.Request, body []byte, start time.Time)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sv, err := slackapi.NewSecretsVerifier(r.Header, a.secret)
		if err != nil {
			a.reject(w, r, kind, http.StatusUnauthorized, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				a.reject(w, r, kind, http.StatusRequestEntityTooLarge, err)
				return
			}
			a.reject(w, r, kind, http.StatusBadRequest, err)
			return
		}
		if _, err := sv.Write(body); err != nil {
			a.reject(w, r, kind, http.StatusUnauthorized, err)
			return
		}
		if err := sv.Ensure(); err != nil {
			a.reject(w, r, kind, http.StatusUnauthorized, err)
			return
		}
		next(w, r, body, start)
	})
}

func (a *Adapter) reject(w http.ResponseWriter, r *http.Request, kind string, status int, err error) {
	a.log.WarnContext(r.Context(), "slack request rejected", "kind", kind, "status", status, "remote", r.RemoteAddr, "err", err)
	http.Error(w, http.StatusText(status), status)
}

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request, body []byte, start time.Time) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	cmd := slackapi.SlashCommand{
		TeamID: form.Get("team_id"), ChannelID: form.Get("channel_id"), ChannelName: form.Get("channel_name"),
		UserID: form.Get("user_id"), UserName: form.Get("user_name"), Command: form.Get("command"),
		Text: form.Get("text"), ResponseURL: form.Get("response_url"), TriggerID: form.Get("trigger_id"),
		APIAppID: form.Get("api_app_id"),
	}
	ack := a.slash(r.Context(), cmd)
	a.writeAck(w, ack)
	a.metrics.Ack(Platform, "command", time.Since(start))
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request, body []byte, start time.Time) {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		http.Error(w, "missing payload", http.StatusBadRequest)
		return
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	ack := a.interact(r.Context(), cb)
	a.writeAck(w, ack)
	a.metrics.Ack(Platform, "interaction", time.Since(start))
}

var contentJSON = []string{"application/json"}

// writeAck answers 200 with the acknowledgement's payload (encoded
// already when a json.RawMessage), or an empty body.
func (a *Adapter) writeAck(w http.ResponseWriter, ack any) {
	if ack == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	body, encoded := ack.(json.RawMessage)
	if !encoded {
		var err error
		if body, err = json.Marshal(ack); err != nil {
			a.log.Error("encode slack acknowledgement", "err", err)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	h := w.Header()
	h["Content-Type"] = contentJSON
	// With its length known, the answer leaves in one write, not chunked.
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body)
}
