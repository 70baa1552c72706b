// Command idpload measures how fast the bot acknowledges Slack slash
// commands under load, against the fastest acknowledgement possible: a bare
// handler that only checks the signature. It starts both as processes of
// their own, the bot as the real `bot serve` binary on the real PostgreSQL
// against a fake Slack that runs in this process, fires the same signed
// commands at each with the same client, and prints p50/p90/p99 of each and
// their ratios, run after run, then the medians.
//
//	go build -o /tmp/idpbot ./cmd/bot
//	go run ./cmd/idpload -bot /tmp/idpbot
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idpload:", err)
		os.Exit(1)
	}
}
