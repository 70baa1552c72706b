package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, want string
	}{
		{"", "http://127.0.0.1:8080/readyz"},
		{":9090", "http://127.0.0.1:9090/readyz"},
		{"0.0.0.0:8081", "http://127.0.0.1:8081/readyz"},
		{"[::]:8082", "http://127.0.0.1:8082/readyz"},
		{"127.0.0.2:80", "http://127.0.0.2:80/readyz"},
		{"[::1]:8080", "http://[::1]:8080/readyz"},
	}
	for _, tt := range tests {
		got, err := url(tt.addr, "/readyz")
		if err != nil || got != tt.want {
			t.Errorf("url(%q) = %q, %v, want %q", tt.addr, got, err, tt.want)
		}
	}
	if got, err := url("8080", "/readyz"); err == nil {
		t.Errorf("url(%q) = %q, want an error", "8080", got)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"database":"not ready"}`))
			return
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	getenv := func(k string) string {
		if k == "IDPBOT_HTTP_ADDR" {
			return ":" + port
		}
		return ""
	}
	ctx := context.Background()

	err := run(ctx, nil, getenv)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "database") {
		t.Errorf("run() with /readyz answering 503 = %v, want an error naming the status and body", err)
	}
	if err := run(ctx, []string{"/healthz"}, getenv); err != nil {
		t.Errorf("run(/healthz) with /healthz answering 200 = %v, want nil", err)
	}
	if want := []string{"/readyz", "/healthz"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths requested = %q, want %q", paths, want)
	}
	if err := run(ctx, []string{"healthz"}, getenv); err == nil {
		t.Error("run(healthz) = nil, want an error for a path without a leading /")
	}
	if err := run(ctx, []string{"/a", "/b"}, getenv); err == nil {
		t.Error("run(/a, /b) = nil, want a usage error")
	}
}

func TestRunNothingListening(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	getenv := func(string) string { return addr }
	if err := run(context.Background(), nil, getenv); err == nil {
		t.Errorf("run() with nothing listening on %s = nil, want an error", addr)
	}
}
