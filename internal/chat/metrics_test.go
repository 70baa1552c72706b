package chat_test

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/metrics"
)

var _ chat.Metrics = (*metrics.Metrics)(nil)

// calls records the ChatCalls it is told about.
type calls struct {
	chat.NopMetrics
	mu   sync.Mutex
	seen []string
}

func (c *calls) ChatCall(p, method, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, p+" "+method+" "+status)
}

func (c *calls) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen)
}

// failing is a transport that never reaches a server.
type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("unreachable")
}

func TestCountingTransportReportsEveryCall(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/limited" {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(srv.Close)
	m := &calls{}
	label := func(r *http.Request) string { return r.Method + " " + r.URL.Path }
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Client{Timeout: 5 * time.Second, Jar: jar}
	c := chat.CountCalls(base, "slack", label, m)
	if base.Transport != nil {
		t.Error("CountCalls changed the client it copies")
	}
	if c.Timeout != base.Timeout || c.Jar != base.Jar {
		t.Errorf("CountCalls client: timeout %v, jar %v; want the copied client's", c.Timeout, c.Jar)
	}
	for _, path := range []string{"/api/chat.postMessage", "/api/limited"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	down := chat.CountCalls(&http.Client{Transport: failing{}}, "discord", label, m)
	if _, err := down.Get(srv.URL + "/api/gone"); err == nil {
		t.Error("call through a failing transport succeeded")
	}
	want := []string{"slack GET /api/chat.postMessage 200", "slack GET /api/limited 429", "discord GET /api/gone error"}
	if got := m.got(); !slices.Equal(got, want) {
		t.Errorf("ChatCalls = %q, want %q", got, want)
	}
}
