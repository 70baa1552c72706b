package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// Sampling of the block and mutex profiles while IDPBOT_PPROF_ADDR is set:
// a blocking event of 10 µs or more is recorded on average, and one mutex
// contention in 20.
const (
	pprofBlockRate     = 10_000
	pprofMutexFraction = 20
)

// servePprof serves Go's runtime profiles (/debug/pprof/…) on addr, a
// listener of its own so that they are never exposed where Slack and
// Discord reach the bot, and turns on block and mutex profiling, which
// cost a little on every contended lock. It returns when ctx ends.
func servePprof(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return userError{"cannot listen on " + addr + " (IDPBOT_PPROF_ADDR): " + err.Error()}
	}
	runtime.SetBlockProfileRate(pprofBlockRate)
	runtime.SetMutexProfileFraction(pprofMutexFraction)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := serveUntil(ctx, srv, ln, time.Second, nil); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
