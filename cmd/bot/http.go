package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readinessCheck is one part of /readyz: nil when that part is ready.
type readinessCheck struct {
	name  string
	check func(ctx context.Context) error
}

// opsServer serves the chat endpoints and the ops endpoints on one listener.
type opsServer struct {
	mux      *http.ServeMux
	checks   []readinessCheck
	draining atomic.Bool
	log      *slog.Logger
}

func newOpsServer(reg *prometheus.Registry, log *slog.Logger) *opsServer {
	s := &opsServer{mux: http.NewServeMux(), log: log}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	return s
}

func (s *opsServer) addCheck(name string, check func(ctx context.Context) error) {
	s.checks = append(s.checks, readinessCheck{name, check})
}

func (s *opsServer) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}{Status: "ready", Checks: map[string]string{}}
	code := http.StatusOK
	if s.draining.Load() {
		body.Checks["shutdown"] = "draining: the process is stopping"
		code = http.StatusServiceUnavailable
	}
	for _, c := range s.checks {
		if err := c.check(ctx); err != nil {
			body.Checks[c.name] = err.Error()
			code = http.StatusServiceUnavailable
		} else {
			body.Checks[c.name] = "ok"
		}
	}
	if code != http.StatusOK {
		body.Status = "not ready"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// run serves on addr until ctx ends, then drains: readiness turns false at
// once, in-flight requests get up to grace to finish.
func (s *opsServer) run(ctx context.Context, addr string, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return userError{"cannot listen on " + addr + " (IDPBOT_HTTP_ADDR): " + err.Error()}
	}
	return s.serve(ctx, ln, grace)
}

func (s *opsServer) serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	err := serveUntil(ctx, srv, ln, grace, func() { s.draining.Store(true) })
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("in-flight requests did not finish in time", "grace", grace)
		return nil
	}
	return err
}

// serveUntil serves srv on ln until ctx ends, then calls stopping (when
// set) and shuts srv down, giving the requests in flight up to grace
// (context.DeadlineExceeded when they did not finish). An error of Serve
// itself returns at once.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, stopping func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if stopping != nil {
		stopping()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}
