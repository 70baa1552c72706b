package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of signed requests, in both directions.
const (
	// HeaderTimestamp carries the Unix time (seconds) of the signature.
	HeaderTimestamp = "X-Idpbot-Timestamp"
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256, keyed with
	// the shared secret, of timestamp + "." + body.
	HeaderSignature = "X-Idpbot-Signature"
	// HeaderRequestID and HeaderAction tell the receiver what a delivery
	// is about without parsing it.
	HeaderRequestID = "X-Idpbot-Request-Id"
	HeaderAction    = "X-Idpbot-Action"
	// HeaderIdempotencyKey is the same on every retry of one delivery.
	HeaderIdempotencyKey = "Idempotency-Key"
	// MaxSkew is how far a signature's timestamp may be from now.
	MaxSkew = 5 * time.Minute
)

// Sign returns the HeaderSignature value for body signed at ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SignRequest sets the timestamp and signature headers of h for body.
func SignRequest(h http.Header, secret string, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("missing signature or timestamp")
	ErrStale        = errors.New("timestamp too far from now")
	ErrBadSignature = errors.New("signature does not match")
)

// Verify checks the signature headers of h over body: present, a timestamp
// within MaxSkew of now, and a matching HMAC (compared in constant time).
func Verify(h http.Header, secret string, now time.Time, body []byte) error {
	tsText, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsText == "" || sig == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(tsText), 10, 64)
	if err != nil {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	if !hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

// Token is the callback token of one delivery: derived from the request id
// and action with the secret, so that a retried job reuses it and nobody
// without the secret can guess it.
func Token(secret string, requestID int64, action string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("idpbot-callback\x00" + strconv.FormatInt(requestID, 10) + "\x00" + action))
	return hex.EncodeToString(mac.Sum(nil))[:40]
}
