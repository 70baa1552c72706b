package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"

	"github.com/idpbot/idpbot/internal/platform"
)

// Callback is what a delivery's receiver has reported through callbacks.
type Callback struct {
	// State is StatePending until a callback arrives, then the reported
	// state.
	State   string
	Message string
	Outputs map[string]any
	// Secrets are the reported secrets, sealed.
	Secrets []byte
	// Steps are the progress messages not returned by an earlier Claim.
	Steps []string
}

// CallbackUpdate is the change a callback makes to its delivery.
type CallbackUpdate struct {
	State   string
	Message string
	// Step, when not empty, is added to the delivery's steps, unless it
	// has MaxSteps of them already.
	Step     string
	MaxSteps int
	Outputs  map[string]string
	// Secrets are sealed; nil stores none.
	Secrets []byte
}

// CallbackStore keeps the callbacks of deliveries in the bot's database,
// where every replica sees them: the replica that runs a delivery's job is
// seldom the one its receiver calls back.
type CallbackStore interface {
	// Register records that a delivery of a request waits for callbacks
	// on token. An existing registration (a retried job) is kept as it
	// is.
	Register(ctx context.Context, token string, requestID int64, action string) error
	// Claim returns token's delivery and claims its unreported steps: each
	// step is returned by exactly one call, whichever replica makes it.
	Claim(ctx context.Context, token string) (Callback, error)
	// Record stores the change update returns, given the delivery's
	// request and state, while the delivery is locked. An error of update
	// is returned as it is and stores nothing; an unknown token is a
	// platform NotFound error.
	Record(ctx context.Context, token string, update func(requestID int64, state string) (CallbackUpdate, error)) error
	// Forget removes the callbacks of a request.
	Forget(ctx context.Context, requestID int64) error
}

var tokenPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Handler serves POST /api/v1/callbacks/{token}: a signed Report about one
// delivery. It checks the signature and its freshness before anything
// else, caps the body at 64 KiB, and answers 401 for a forged or stale
// callback, 404 for an unknown token, 409 once the delivery is final, and
// 204 when the report is recorded. Mount it at CallbackPath.
func (d *Driver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+CallbackPath+"{token}", d.serveCallback)
	return mux
}

func (d *Driver) serveCallback(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "callback body over 64 KiB")
			return
		}
		httpError(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	if d.cfg.Secret == "" {
		httpError(w, http.StatusServiceUnavailable, "webhook callbacks are not configured")
		return
	}
	if err := Verify(r.Header, d.cfg.Secret, d.cfg.Now(), body); err != nil {
		d.log.WarnContext(r.Context(), "webhook callback rejected", "err", err, "remote", r.RemoteAddr)
		httpError(w, http.StatusUnauthorized, "invalid signature")
		return
	}
	if d.callbacks == nil {
		httpError(w, http.StatusServiceUnavailable, "webhook callbacks are not configured")
		return
	}
	token := r.PathValue("token")
	if !tokenPattern.MatchString(token) {
		httpError(w, http.StatusNotFound, "unknown callback")
		return
	}
	var rep Report
	if err := json.Unmarshal(body, &rep); err != nil {
		httpError(w, http.StatusBadRequest, "the body is not a JSON report")
		return
	}
	switch rep.State {
	case StateProvisioning, StateReady, StateFailed:
	default:
		httpError(w, http.StatusBadRequest, `state must be "provisioning", "ready" or "failed"`)
		return
	}
	status, err := d.record(r.Context(), token, rep)
	if err != nil {
		d.log.ErrorContext(r.Context(), "record webhook callback", "err", err)
		httpError(w, http.StatusInternalServerError, "could not record the callback")
		return
	}
	if status != http.StatusNoContent {
		httpError(w, status, map[int]string{http.StatusNotFound: "unknown callback", http.StatusConflict: "the delivery already finished"}[status])
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errFinal is an update refused because the delivery already finished.
var errFinal = errors.New("the delivery already finished")

// record stores a verified report for token and returns the HTTP status to
// answer.
func (d *Driver) record(ctx context.Context, token string, rep Report) (int, error) {
	err := d.callbacks.Record(ctx, token, func(requestID int64, state string) (CallbackUpdate, error) {
		if state == StateReady || state == StateFailed {
			return CallbackUpdate{}, errFinal
		}
		u := CallbackUpdate{State: rep.State, Message: sanitize(rep.Message, 300), MaxSteps: maxSteps}
		if rep.State != StateFailed {
			u.Step = u.Message
		}
		if rep.State == StateReady {
			if len(rep.Outputs) > 0 {
				u.Outputs = stringValues(rep.Outputs)
			}
			if len(rep.Secrets) > 0 {
				sealed, err := d.sealer.Seal(requestID, stringValues(rep.Secrets))
				if err != nil {
					return CallbackUpdate{}, err
				}
				u.Secrets = sealed
			}
		}
		return u, nil
	})
	switch {
	case errors.Is(err, errFinal):
		return http.StatusConflict, nil
	case platform.ErrorCode(err) == platform.NotFound:
		return http.StatusNotFound, nil
	case err != nil:
		return 0, err
	}
	return http.StatusNoContent, nil
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
