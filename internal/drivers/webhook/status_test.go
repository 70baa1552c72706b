package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/drivers/webhook"
	"github.com/idpbot/idpbot/internal/platform"
)

// statusEndpoint answers live-status reads like a receiver would: it
// verifies the signature, records the path and action, and answers what
// the test set.
type statusEndpoint struct {
	t      *testing.T
	mu     sync.Mutex
	code   int
	body   string
	paths  []string
	action []string
}

func (s *statusEndpoint) set(code int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code, s.body = code, body
}

func (s *statusEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(r.Header, secret, time.Now(), raw); err != nil {
		s.t.Errorf("status endpoint: signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodGet {
		s.t.Errorf("status read used %s, want GET", r.Method)
	}
	s.paths = append(s.paths, r.URL.Path)
	s.action = append(s.action, r.Header.Get(webhook.HeaderAction)+" #"+r.Header.Get(webhook.HeaderRequestID))
	w.WriteHeader(s.code)
	io.WriteString(w, s.body)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	ep := &statusEndpoint{t: t}
	srv := serve(t, ep)
	d := mustNew(t, webhook.Config{URL: srv.URL + "/hook"}, nil)
	job := newJob(12, &recorder{})
	job.Settings = map[string]any{"status_url": srv.URL + "/status/{{action}}/{{team}}/{{request_id}}"}
	read := func(what string) (platform.LiveStatus, error) {
		t.Helper()
		return d.Status(context.Background(), job)
	}

	ep.set(http.StatusOK, `{"health":"changed","summary":"The pipeline's runner was changed to small.","checks":[{"name":"runner","recorded":"large","live":"small","ok":false}]}`)
	got, err := read("changed")
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := platform.LiveStatus{Health: platform.Changed, Summary: "The pipeline's runner was changed to small.",
		Checks: []platform.LiveCheck{{Name: "runner", Recorded: "large", Live: "small"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status mismatch (-want +got):\n%s", diff)
	}
	ep.mu.Lock()
	if diff := cmp.Diff([]string{"/status/status/payments/12"}, ep.paths); diff != "" {
		t.Errorf("status paths mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"status #12"}, ep.action); diff != "" {
		t.Errorf("status headers mismatch (-want +got):\n%s", diff)
	}
	ep.mu.Unlock()

	ep.set(http.StatusNotFound, `{"message":"no such pipeline"}`)
	if got, err := read("gone"); err != nil || got.Health != platform.Missing {
		t.Errorf("Status after 404 = %+v, %v; want missing", got, err)
	}

	for _, bad := range []struct {
		name string
		code int
		body string
	}{
		{"unknown key", http.StatusOK, `{"health":"healthy","summary":"ok","state":"ready"}`},
		{"completion report", http.StatusOK, `{"state":"ready"}`},
		{"server error", http.StatusBadGateway, `upstream down`},
		{"refused", http.StatusForbidden, `{"message":"nope"}`},
	} {
		ep.set(bad.code, bad.body)
		if got, err := read(bad.name); err == nil {
			t.Errorf("%s: Status = %+v, want an error", bad.name, got)
		}
	}
}

func TestStatusWithoutStatusURL(t *testing.T) {
	t.Parallel()
	d := mustNew(t, webhook.Config{URL: "https://ci.example.com/hook"}, nil)
	if _, err := d.Status(context.Background(), newJob(12, &recorder{})); !errors.Is(err, platform.ErrNoStatus) {
		t.Errorf("Status without status_url: %v, want ErrNoStatus", err)
	}
}

func TestStatusUnreachable(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	d := mustNew(t, webhook.Config{URL: url + "/hook", StatusURL: url + "/status/{{request_id}}"}, nil)
	_, err := d.Status(context.Background(), newJob(12, &recorder{}))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Status of an unreachable endpoint: %v, want an error without the secret", err)
	}
}
