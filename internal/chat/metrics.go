package chat

import (
	"net/http"
	"strconv"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Metrics is what a chat adapter reports, each observation labelled with
// the adapter's platform ("slack", "discord"); *metrics.Metrics implements
// it.
type Metrics interface {
	// Ack records how long a request took to be acknowledged; kind is
	// "command", "interaction", … .
	Ack(platform, kind string, took time.Duration)
	// Command records a command run from the chat and how it ended: "ok"
	// or the platform error code.
	Command(platform, verb, outcome string, took time.Duration)
	// Error records an error shown to a person.
	Error(platform string, code platform.Code)
	// ChatCall records one call of the platform's API: a bounded label of
	// the method or route, and the HTTP status ("error" without one).
	ChatCall(platform, method, status string)
	// RateLimited records a wait the platform asked for with a 429.
	RateLimited(platform string, wait time.Duration)
}

// NopMetrics reports nothing: the Metrics of an adapter configured without.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

// Ack implements Metrics.
func (NopMetrics) Ack(string, string, time.Duration) {}

// Command implements Metrics.
func (NopMetrics) Command(string, string, string, time.Duration) {}

// Error implements Metrics.
func (NopMetrics) Error(string, platform.Code) {}

// ChatCall implements Metrics.
func (NopMetrics) ChatCall(string, string, string) {}

// RateLimited implements Metrics.
func (NopMetrics) RateLimited(string, time.Duration) {}

// CountingTransport is an http.RoundTripper that reports every request it
// carries as a Metrics.ChatCall of Platform, labelled by Label, with the
// response's status code, or "error" when no response came.
type CountingTransport struct {
	Platform string
	// Label names the API method or route of a request; it must return a
	// bounded set of values (no ids, no tokens).
	Label func(*http.Request) string
	// Next carries the request; nil: http.DefaultTransport.
	Next    http.RoundTripper
	Metrics Metrics
}

var _ http.RoundTripper = (*CountingTransport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *CountingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	label := t.Label(r)
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.Metrics.ChatCall(t.Platform, label, status)
	return resp, err
}

// CountCalls returns a copy of c whose every call is reported to m by a
// CountingTransport around c's transport.
func CountCalls(c *http.Client, platform string, label func(*http.Request) string, m Metrics) *http.Client {
	counted := *c
	counted.Transport = &CountingTransport{Platform: platform, Label: label, Next: c.Transport, Metrics: m}
	return &counted
}
