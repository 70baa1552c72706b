package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"

	"github.com/jackc/pgx/v5"
)

// register records that a delivery waits for callbacks on token. An
// existing registration (a retried job) is kept as it is.
func (d *Driver) register(ctx context.Context, token string, requestID int64, action string) error {
	if d.pool == nil {
		return errNoTable
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO webhook_callbacks (token, request_id, action) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO NOTHING`, token, requestID, action)
	if err != nil {
		return fmt.Errorf("register webhook callback of request %d: %w", requestID, err)
	}
	return nil
}

// callbackState is the stored state of a delivery and its steps not yet
// reported.
type callbackState struct {
	state   string
	message string
	outputs map[string]any
	secrets []byte
	steps   []string
}

// callback reads token's state and claims its unreported steps: each step
// is returned by exactly one call, whichever replica makes it.
func (d *Driver) callback(ctx context.Context, token string) (callbackState, error) {
	var cb callbackState
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		// The state first: a final state commits with its last step, so
		// the steps claimed below (a later snapshot) include that step.
		var outputs []byte
		err := tx.QueryRow(ctx, `SELECT state, message, outputs, secrets FROM webhook_callbacks WHERE token = $1`, token).
			Scan(&cb.state, &cb.message, &outputs, &cb.secrets)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE webhook_callback_steps SET reported = true
			WHERE token = $1 AND NOT reported RETURNING id, message`, token)
		if err != nil {
			return err
		}
		type step struct {
			id  int64
			msg string
		}
		var steps []step
		for rows.Next() {
			var s step
			if err := rows.Scan(&s.id, &s.msg); err != nil {
				return err
			}
			steps = append(steps, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		sort.Slice(steps, func(i, j int) bool { return steps[i].id < steps[j].id })
		for _, s := range steps {
			cb.steps = append(cb.steps, s.msg)
		}
		return json.Unmarshal(outputs, &cb.outputs)
	})
	if err != nil {
		return callbackState{}, fmt.Errorf("read webhook callback: %w", err)
	}
	return cb, nil
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
	if d.pool == nil {
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

// record stores a verified report for token and returns the HTTP status to
// answer.
func (d *Driver) record(ctx context.Context, token string, rep Report) (int, error) {
	status := http.StatusNoContent
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var requestID int64
		var state string
		err := tx.QueryRow(ctx, `SELECT request_id, state FROM webhook_callbacks WHERE token = $1 FOR UPDATE`, token).Scan(&requestID, &state)
		if errors.Is(err, pgx.ErrNoRows) {
			status = http.StatusNotFound
			return nil
		}
		if err != nil {
			return err
		}
		if state == StateReady || state == StateFailed {
			status = http.StatusConflict
			return nil
		}
		msg := sanitize(rep.Message, 300)
		if rep.State != StateFailed && msg != "" {
			// At most maxSteps steps per delivery reach the thread.
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_callback_steps (token, message)
				SELECT $1, $2 WHERE (SELECT count(*) FROM webhook_callback_steps WHERE token = $1) < $3`, token, msg, maxSteps); err != nil {
				return err
			}
		}
		outputs := []byte("{}")
		var sealed []byte
		if rep.State == StateReady {
			if len(rep.Outputs) > 0 {
				if outputs, err = json.Marshal(stringValues(rep.Outputs)); err != nil {
					return err
				}
			}
			if len(rep.Secrets) > 0 {
				if sealed, err = d.sealer.Seal(requestID, stringValues(rep.Secrets)); err != nil {
					return err
				}
			}
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_callbacks SET state = $2, message = $3, outputs = $4, secrets = $5, updated_at = now()
			WHERE token = $1`, token, rep.State, msg, outputs, sealed)
		return err
	})
	return status, err
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
