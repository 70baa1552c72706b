package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/commands"
)

// Limits of the interactions endpoint.
const (
	// MaxInteractionBody is the largest request accepted; Discord's
	// interactions are a few kilobytes.
	MaxInteractionBody = 1 << 20
	// MaxRequestAge is how old a request's signed timestamp may be, and
	// how far in the future, before it is refused as a replay.
	MaxRequestAge = 5 * time.Minute
)

// InteractionsPath is where Discord sends interactions in HTTP mode.
const InteractionsPath = "/discord/interactions"

// Handler serves Discord's interactions endpoint, POST
// /discord/interactions. Every request's Ed25519 signature over its
// timestamp and body is verified against the application's public key
// before anything else, and its timestamp must be within MaxRequestAge; a
// forged, unsigned or stale request gets 401 and an oversized one 413, with
// no side effect. PING is answered with PONG. router answers the commands.
func (a *Adapter) Handler(router *commands.Router) http.Handler {
	a.router.Store(router)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+InteractionsPath, a.serveInteraction)
	return mux
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if a.publicKey == nil {
		a.reject(w, r, http.StatusUnauthorized, errors.New("no public key configured: the interactions endpoint cannot verify requests"))
		return
	}
	sig, err := hex.DecodeString(r.Header.Get("X-Signature-Ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		a.reject(w, r, http.StatusUnauthorized, errors.New("missing or malformed X-Signature-Ed25519"))
		return
	}
	ts := r.Header.Get("X-Signature-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		a.reject(w, r, http.StatusUnauthorized, errors.New("missing or malformed X-Signature-Timestamp"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxInteractionBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.reject(w, r, http.StatusRequestEntityTooLarge, err)
			return
		}
		a.reject(w, r, http.StatusBadRequest, err)
		return
	}
	if !ed25519.Verify(a.publicKey, append([]byte(ts), body...), sig) {
		a.reject(w, r, http.StatusUnauthorized, errors.New("invalid signature"))
		return
	}
	if age := a.now().Sub(time.Unix(secs, 0)); age > MaxRequestAge || age < -MaxRequestAge {
		a.reject(w, r, http.StatusUnauthorized, errors.New("stale timestamp: "+age.Round(time.Second).String()+" old"))
		return
	}
	var i discordgo.Interaction
	if err := json.Unmarshal(body, &i); err != nil {
		a.reject(w, r, http.StatusBadRequest, err)
		return
	}
	resp, later := a.handle(r.Context(), &i)
	out, err := json.Marshal(resp)
	if err != nil {
		a.log.ErrorContext(r.Context(), "encode discord interaction response", "interaction_id", i.ID, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	a.metrics.Ack(Platform, interactionKind(i.Type), time.Since(start))
	if later != nil {
		a.bg.Go(later)
	}
}

func (a *Adapter) reject(w http.ResponseWriter, r *http.Request, status int, err error) {
	a.log.WarnContext(r.Context(), "discord request rejected", "status", status, "remote", r.RemoteAddr, "err", err)
	http.Error(w, http.StatusText(status), status)
}
