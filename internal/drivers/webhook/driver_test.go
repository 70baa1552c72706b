package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/drivers/webhook"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

const secret = "s3cret-shared-with-the-receiver"

type recorder struct {
	mu    sync.Mutex
	steps []string
}

func (r *recorder) step(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.steps...)
}

func newJob(id int64, rec *recorder) platform.Job {
	return platform.Job{
		Resource: &platform.Resource{
			ID: id, Service: "ci-pipeline", Name: "orders-ci", Team: "payments", Environment: "staging",
			Parameters: map[string]any{"runner": "large", "parallel": int64(4), "cache": true},
			Requester:  platform.Actor{ID: "slack:U0ALICE", Name: "alice"},
		},
		Settings: map[string]any{},
		Step:     rec.step,
	}
}

func mustNew(t *testing.T, cfg webhook.Config, callbacks webhook.CallbackStore) *webhook.Driver {
	t.Helper()
	if cfg.Secret == "" {
		cfg.Secret = secret
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	d, err := webhook.New(cfg, callbacks)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// receiver is a webhook endpoint that verifies signatures like a real one.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	bodies   []map[string]any
	headers  []http.Header
	respond  func(w http.ResponseWriter, body map[string]any)
	verified atomic.Int32
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(r.Header, secret, time.Now(), raw); err != nil {
		rc.t.Errorf("receiver: %s %s: signature: %v", r.Method, r.URL.Path, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.verified.Add(1)
	var body map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			rc.t.Errorf("receiver: body is not JSON: %v", err)
		}
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	respond := rc.respond
	rc.mu.Unlock()
	respond(w, body)
}

func (rc *receiver) deliveries() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"request_id":12}`)
	if got, want := webhook.Sign("s3cret", 1700000000, body), "sha256=a582d30d55caf2ae88951786eaeda688d197023ec75055c14486dcfb1eff07a8"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	now := time.Unix(1700000000, 0)
	h := http.Header{}
	webhook.SignRequest(h, "s3cret", now, body)
	tests := []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"valid", h, body, now.Add(4 * time.Minute), nil},
		{"tampered body", h, []byte(`{"request_id":13}`), now, webhook.ErrBadSignature},
		{"stale", h, body, now.Add(6 * time.Minute), webhook.ErrStale},
		{"from the future", h, body, now.Add(-6 * time.Minute), webhook.ErrStale},
		{"unsigned", http.Header{}, body, now, webhook.ErrNoSignature},
		{"wrong secret", func() http.Header { x := http.Header{}; webhook.SignRequest(x, "guess", now, body); return x }(), body, now, webhook.ErrBadSignature},
	}
	for _, tt := range tests {
		if err := webhook.Verify(tt.h, "s3cret", tt.now, tt.body); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
	if a, b := webhook.Token("s3cret", 12, "create"), webhook.Token("s3cret", 12, "create"); a != b || a == webhook.Token("s3cret", 12, "delete") || a == webhook.Token("other", 12, "create") {
		t.Errorf("Token is not stable per request and action, or ignores the secret")
	}
}

func TestDeliveryIsSignedAndComplete(t *testing.T) {
	t.Parallel()
	rc := &receiver{t: t, respond: func(w http.ResponseWriter, _ map[string]any) {
		w.WriteHeader(http.StatusAccepted)
	}}
	srv := serve(t, rc)
	d := mustNew(t, webhook.Config{URL: srv.URL + "/hooks/idp"}, nil)
	rec := &recorder{}
	res, err := d.Provision(context.Background(), newJob(12, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if diff := cmp.Diff(platform.Result{}, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	want := map[string]any{
		"request_id": 12.0, "action": "create", "service": "ci-pipeline", "name": "orders-ci", "team": "payments", "environment": "staging",
		"parameters": map[string]any{"runner": "large", "parallel": 4.0, "cache": true},
		"requester":  map[string]any{"id": "slack:U0ALICE", "name": "alice"},
	}
	if rc.deliveries() != 1 {
		t.Fatalf("deliveries = %d, want 1", rc.deliveries())
	}
	if diff := cmp.Diff(want, rc.bodies[0]); diff != "" {
		t.Errorf("payload mismatch (-want +got):\n%s", diff)
	}
	h := rc.headers[0]
	for k, v := range map[string]string{webhook.HeaderRequestID: "12", webhook.HeaderAction: "create", webhook.HeaderIdempotencyKey: "idpbot-12-create", "Content-Type": "application/json"} {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if diff := cmp.Diff([]string{"Delivered to the webhook"}, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}

	// The binding's url setting sends another service elsewhere.
	other := &receiver{t: t, respond: func(w http.ResponseWriter, _ map[string]any) { w.WriteHeader(http.StatusOK) }}
	osrv := serve(t, other)
	job := newJob(13, &recorder{})
	job.Settings = map[string]any{"url": osrv.URL}
	if _, err := d.Provision(context.Background(), job); err != nil {
		t.Fatalf("Provision with a url setting: %v", err)
	}
	if other.deliveries() != 1 || rc.deliveries() != 1 {
		t.Errorf("deliveries = %d to the setting's URL and %d to the default, want 1 and 1", other.deliveries(), rc.deliveries())
	}
}

func TestDeliveryFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		permanent bool
		want      string
	}{
		{"server error", 503, "upstream down", false, "HTTP 503"},
		{"rate limited", 429, `{"message":"slow down"}`, false, "HTTP 429"},
		{"rejected with JSON", 422, `{"message":"no CI project for team payments\n\u001b[31mfix it"}`, true,
			"The webhook refused the request (HTTP 422): no CI project for team payments [31mfix it"},
		{"rejected with nested error", 400, `{"error":{"message":"runner large is not allowed"}}`, true,
			"The webhook refused the request (HTTP 400): runner large is not allowed"},
		{"rejected with HTML", 403, "<html><body>Forbidden by WAF</body></html>", true,
			"The webhook refused the request (HTTP 403): Forbidden"},
		{"rejected with long text", 409, strings.Repeat("x", 1000), true,
			"The webhook refused the request (HTTP 409): " + strings.Repeat("x", 300) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := &receiver{t: t, respond: func(w http.ResponseWriter, _ map[string]any) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}}
			d := mustNew(t, webhook.Config{URL: serve(t, rc).URL}, nil)
			_, err := d.Provision(context.Background(), newJob(12, &recorder{}))
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			if platform.IsPermanent(err) != tt.permanent {
				t.Errorf("Provision = %v: permanent %v, want %v", err, platform.IsPermanent(err), tt.permanent)
			}
			got := err.Error()
			if tt.permanent {
				got = platform.ErrorMessage(err)
			}
			if tt.permanent && got != tt.want || !tt.permanent && !strings.Contains(got, tt.want) {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}

	// A receiver that does not answer in time is transient too.
	stop := make(chan struct{})
	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop) }) // runs before the server closes
	d := mustNew(t, webhook.Config{URL: slow.URL, RequestTimeout: 100 * time.Millisecond}, nil)
	if _, err := d.Provision(context.Background(), newJob(12, &recorder{})); err == nil || platform.IsPermanent(err) {
		t.Errorf("Provision against a hung receiver = %v, want a transient error", err)
	}
}

func TestStatusPolling(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	var statusPaths sync.Map
	status := &receiver{t: t, respond: func(w http.ResponseWriter, _ map[string]any) {
		n := polls.Add(1)
		var rep webhook.Report
		switch {
		case n <= 2:
			rep = webhook.Report{State: webhook.StateProvisioning, Message: "Pipeline #881 running"}
		case n == 3:
			rep = webhook.Report{State: webhook.StateProvisioning, Message: "Deploying"}
		default:
			rep = webhook.Report{State: webhook.StateReady, Outputs: map[string]any{"pipeline": "https://ci.example.com/881", "jobs": 4.0}, Secrets: map[string]any{"deploy_token": "tok-123"}}
		}
		json.NewEncoder(w).Encode(rep)
	}}
	statusSrv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		statusPaths.Store(r.URL.Path, true)
		if r.Method != http.MethodGet {
			t.Errorf("status poll used %s", r.Method)
		}
		status.ServeHTTP(w, r)
	}))
	hook := &receiver{t: t, respond: func(w http.ResponseWriter, _ map[string]any) { w.WriteHeader(http.StatusAccepted) }}
	d := mustNew(t, webhook.Config{URL: serve(t, hook).URL, StatusURL: statusSrv.URL + "/status/{{request_id}}/{{action}}"}, nil)
	rec := &recorder{}
	res, err := d.Provision(context.Background(), newJob(12, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	want := platform.Result{
		Outputs: map[string]string{"pipeline": "https://ci.example.com/881", "jobs": "4"},
		Secrets: map[string]string{"deploy_token": "tok-123"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Delivered to the webhook", "Pipeline #881 running", "Deploying"}, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if _, ok := statusPaths.Load("/status/12/create"); !ok {
		t.Error("status URL placeholders were not replaced")
	}
	if status.verified.Load() != 4 {
		t.Errorf("signed status polls = %d, want 4", status.verified.Load())
	}

	// A failed report fails the request with its message.
	failed := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(webhook.Report{State: webhook.StateFailed, Message: "terraform apply: quota exceeded"})
	}))
	d = mustNew(t, webhook.Config{URL: serve(t, hook).URL, StatusURL: failed.URL}, nil)
	_, err = d.Provision(context.Background(), newJob(13, &recorder{}))
	if !platform.IsPermanent(err) || platform.ErrorMessage(err) != "The webhook reported a failure: terraform apply: quota exceeded" {
		t.Errorf("Provision with a failed status = %v, want the receiver's reason", err)
	}

	// A receiver that never finishes runs into the timeout, which is retried.
	forever := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(webhook.Report{State: webhook.StateProvisioning})
	}))
	d = mustNew(t, webhook.Config{URL: serve(t, hook).URL, StatusURL: forever.URL, Timeout: 200 * time.Millisecond}, nil)
	_, err = d.Provision(context.Background(), newJob(14, &recorder{}))
	if !errors.Is(err, context.DeadlineExceeded) || platform.IsPermanent(err) {
		t.Errorf("Provision that never completes = %v, want a transient deadline error", err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  webhook.Config
		want string
	}{
		{webhook.Config{}, "no webhook URL configured"},
		{webhook.Config{URL: "https://ci.example.com/hook"}, "no webhook secret configured"},
		{webhook.Config{URL: "https://ci.example.com/hook", Secret: "x", CallbackBaseURL: "https://bot.example.com"}, "webhook callbacks need the database"},
	}
	for _, tt := range tests {
		d, err := webhook.New(tt.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Check(); platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != tt.want {
			t.Errorf("Check() with %+v = %v, want Unavailable %q", tt.cfg, err, tt.want)
		}
	}
	if _, err := webhook.New(webhook.Config{URL: "ftp://ci.example.com"}, nil); err == nil {
		t.Error("New accepted a non-HTTP URL")
	}
}

// postCallback sends a callback like a receiver would, signed unless sign
// says otherwise, and returns the status (0 with an error when it could not
// be sent). It reports failures with t.Errorf, so it may run in goroutines.
func postCallback(t *testing.T, callbackURL string, rep any, sign func(h http.Header, body []byte)) int {
	body, ok := rep.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(rep); err != nil {
			t.Errorf("marshal callback: %v", err)
			return 0
		}
	}
	req, err := http.NewRequest(http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		t.Errorf("callback request: %v", err)
		return 0
	}
	if sign == nil {
		webhook.SignRequest(req.Header, secret, time.Now(), body)
	} else {
		sign(req.Header, body)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("post callback: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCallbackFlowAcrossReplicas(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	store := postgres.NewCallbacks(pool)
	// Replica B serves callbacks; replica A runs the job. They share only the database.
	replicaB := mustNew(t, webhook.Config{URL: "http://unused.invalid", CallbackBaseURL: "http://unused.invalid"}, store)
	callbacks := serve(t, replicaB.Handler())

	done := make(chan struct{})
	rc := &receiver{t: t}
	rc.respond = func(w http.ResponseWriter, body map[string]any) {
		w.WriteHeader(http.StatusAccepted)
		cb, _ := body["callback_url"].(string)
		go func() {
			defer close(done)
			for _, rep := range []webhook.Report{
				{State: webhook.StateProvisioning, Message: "Pipeline #881 started"},
				{State: webhook.StateProvisioning, Message: "Applying terraform"},
				{State: webhook.StateReady, Message: "Pipeline #881 passed", Outputs: map[string]any{"url": "https://orders-ci.example.com"}, Secrets: map[string]any{"api_key": "k-very-secret"}},
			} {
				if code := postCallback(t, cb, rep, nil); code != http.StatusNoContent {
					t.Errorf("callback %s answered %d, want 204", rep.State, code)
				}
			}
		}()
	}
	replicaA := mustNew(t, webhook.Config{URL: serve(t, rc).URL, CallbackBaseURL: callbacks.URL + "/"}, store)
	rec := &recorder{}
	res, err := replicaA.Provision(context.Background(), newJob(12, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	<-done
	want := platform.Result{Outputs: map[string]string{"url": "https://orders-ci.example.com"}, Secrets: map[string]string{"api_key": "k-very-secret"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Delivered to the webhook", "Pipeline #881 started", "Applying terraform", "Pipeline #881 passed"}, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	wantURL := callbacks.URL + webhook.CallbackPath + webhook.Token(secret, 12, "create")
	if got := rc.bodies[0]["callback_url"]; got != wantURL {
		t.Errorf("callback_url = %v, want %s", got, wantURL)
	}
	var stored []byte
	if err := pool.QueryRow(context.Background(), `SELECT secrets FROM webhook_callbacks WHERE request_id = 12`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte("k-very-secret")) {
		t.Errorf("secrets stored as %q, want sealed", stored)
	}

	// A retried job finds the completion without delivering again.
	rec2 := &recorder{}
	res2, err := replicaA.Provision(context.Background(), newJob(12, rec2))
	if err != nil || rc.deliveries() != 1 {
		t.Fatalf("re-run Provision = %v with %d deliveries, want success with 1", err, rc.deliveries())
	}
	if diff := cmp.Diff(want, res2); diff != "" {
		t.Errorf("re-run result mismatch (-want +got):\n%s", diff)
	}
	if len(rec2.all()) != 0 {
		t.Errorf("re-run reported steps again: %q", rec2.all())
	}

	// Deletion is its own delivery, and forgets the request's callbacks.
	rc.mu.Lock()
	rc.respond = func(w http.ResponseWriter, body map[string]any) {
		json.NewEncoder(w).Encode(webhook.Report{State: webhook.StateReady, Message: "Destroyed"})
	}
	rc.mu.Unlock()
	rec3 := &recorder{}
	if err := replicaA.Deprovision(context.Background(), newJob(12, rec3)); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if got := rc.bodies[1]["action"]; got != "delete" {
		t.Errorf("deprovision action = %v, want delete", got)
	}
	if diff := cmp.Diff([]string{"Delivered to the webhook", "Destroyed"}, rec3.all()); diff != "" {
		t.Errorf("deprovision steps mismatch (-want +got):\n%s", diff)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_callbacks WHERE request_id = 12`).Scan(&n); err != nil || n != 0 {
		t.Errorf("callback rows after Deprovision = %d (%v), want 0", n, err)
	}
}

func TestRetryAfterProgressDoesNotRedeliver(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	store := postgres.NewCallbacks(pool)
	var callbackURL atomic.Value
	rc := &receiver{t: t, respond: func(w http.ResponseWriter, body map[string]any) {
		callbackURL.Store(body["callback_url"].(string))
		w.WriteHeader(http.StatusAccepted)
	}}
	var d *webhook.Driver
	callbacks := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.Handler().ServeHTTP(w, r) }))
	d = mustNew(t, webhook.Config{URL: serve(t, rc).URL, CallbackBaseURL: callbacks.URL}, store)

	// First attempt: delivered, progress reported, then the attempt is cut short.
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	job := newJob(40, rec)
	job.Step = func(s string) {
		rec.step(s)
		switch s {
		case "Delivered to the webhook":
			go postCallback(t, callbackURL.Load().(string), webhook.Report{State: webhook.StateProvisioning, Message: "Queued"}, nil)
		case "Queued":
			cancel()
		}
	}
	if _, err := d.Provision(ctx, job); !errors.Is(err, context.Canceled) || platform.IsPermanent(err) {
		t.Fatalf("first attempt = %v, want a transient cancellation", err)
	}
	// Second attempt: no second delivery; the receiver finishes later.
	rec2 := &recorder{}
	job2 := newJob(40, rec2)
	job2.Step = func(s string) {
		rec2.step(s)
		if strings.HasPrefix(s, "Resuming") {
			go postCallback(t, callbackURL.Load().(string), webhook.Report{State: webhook.StateReady, Outputs: map[string]any{"id": "881"}}, nil)
		}
	}
	res, err := d.Provision(context.Background(), job2)
	if err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if rc.deliveries() != 1 {
		t.Errorf("deliveries = %d, want 1", rc.deliveries())
	}
	if res.Outputs["id"] != "881" {
		t.Errorf("outputs = %v, want id 881", res.Outputs)
	}
	if diff := cmp.Diff([]string{"Resuming: the webhook already reported progress"}, rec2.all()); diff != "" {
		t.Errorf("second attempt steps mismatch (-want +got):\n%s", diff)
	}
}

func TestCallbackRejections(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	store := postgres.NewCallbacks(pool)
	d := mustNew(t, webhook.Config{URL: "http://unused.invalid", CallbackBaseURL: "http://unused.invalid"}, store)
	srv := serve(t, d.Handler())
	token := webhook.Token(secret, 7, "create")
	if err := store.Register(context.Background(), token, 7, "create"); err != nil {
		t.Fatal(err)
	}
	url := srv.URL + webhook.CallbackPath + token
	ready := webhook.Report{State: webhook.StateReady, Outputs: map[string]any{"url": "https://evil.example.com"}}
	tests := []struct {
		name string
		url  string
		body any
		sign func(h http.Header, body []byte)
		want int
	}{
		{"unsigned", url, ready, func(http.Header, []byte) {}, http.StatusUnauthorized},
		{"forged", url, ready, func(h http.Header, b []byte) { webhook.SignRequest(h, "guessed-secret", time.Now(), b) }, http.StatusUnauthorized},
		{"stale", url, ready, func(h http.Header, b []byte) { webhook.SignRequest(h, secret, time.Now().Add(-6*time.Minute), b) }, http.StatusUnauthorized},
		{"signature of another body", url, ready, func(h http.Header, b []byte) {
			webhook.SignRequest(h, secret, time.Now(), []byte(`{"state":"provisioning"}`))
		}, http.StatusUnauthorized},
		{"oversized", url, []byte(`{"state":"ready","message":"` + strings.Repeat("a", 70<<10) + `"}`), nil, http.StatusRequestEntityTooLarge},
		{"unknown token", srv.URL + webhook.CallbackPath + webhook.Token(secret, 8, "create"), ready, nil, http.StatusNotFound},
		{"malformed token", srv.URL + webhook.CallbackPath + "..%2f..%2fetc", ready, nil, http.StatusNotFound},
		{"bad state", url, webhook.Report{State: "done"}, nil, http.StatusBadRequest},
		{"not JSON", url, []byte("state=ready"), nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if code := postCallback(t, tt.url, tt.body, tt.sign); code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
	}
	cb, err := store.Claim(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if cb.State != webhook.StatePending || len(cb.Steps) != 0 || len(cb.Outputs) != 0 {
		t.Fatalf("rejected callbacks changed the state: %+v", cb)
	}
	if code := postCallback(t, srv.URL+webhook.CallbackPath+token, ready, nil); code != http.StatusNoContent {
		t.Errorf("valid callback: status %d, want 204", code)
	}
	if code := postCallback(t, srv.URL+webhook.CallbackPath+token, webhook.Report{State: webhook.StateFailed, Message: "too late"}, nil); code != http.StatusConflict {
		t.Errorf("callback after the final state: status %d, want 409", code)
	}
	if resp, err := http.Get(srv.URL + webhook.CallbackPath + token); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET callback = %v, %v; want 405", resp, err)
	}
	cb, err = store.Claim(context.Background(), token)
	if err != nil || cb.State != webhook.StateReady {
		t.Errorf("state after valid callback = %q (%v), want ready", cb.State, err)
	}
}
