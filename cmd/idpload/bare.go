package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"
)

// bareSubcommand is the hidden subcommand that runs the bare handler.
const bareSubcommand = "bare-handler"

// bareHandler is the least a Slack app must do to acknowledge a slash
// command: read the body, check its signature with slack-go's verifier and
// answer 200. It is the baseline the bot is compared with.
func bareHandler(secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sv, err := slackapi.NewSecretsVerifier(r.Header, secret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := sv.Write(body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err := sv.Ensure(); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// runBare serves the bare handler on POST /slack/commands at -addr, prints
// the address it listens on as its first line of output, and returns when
// ctx ends.
func runBare(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet(bareSubcommand, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("SLACK_SIGNING_SECRET")
	if secret == "" {
		return errors.New(bareSubcommand + ": SLACK_SIGNING_SECRET is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", bareHandler(secret))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintln(stdout, ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
