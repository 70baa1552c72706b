// Command healthcheck asks a running idpbot in the same container whether it
// is ready, for container healthchecks in images that have no shell or curl
// (the distroless image of deploy/Dockerfile). It sends GET /readyz (or the
// path given as its only argument) to the port of IDPBOT_HTTP_ADDR (default
// :8080) on the loopback interface, and exits 0 on 200 and 1 otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// timeout bounds the whole check; container runtimes kill slower checks anyway.
const timeout = 3 * time.Second

func run(ctx context.Context, args []string, getenv func(string) string) error {
	path := "/readyz"
	switch {
	case len(args) > 1:
		return errors.New("usage: healthcheck [PATH]")
	case len(args) == 1:
		path = args[0]
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q must start with /", path)
	}
	target, err := url(getenv("IDPBOT_HTTP_ADDR"), path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// url returns the loopback URL of path on the listen address addr.
func url(addr, path string) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("IDPBOT_HTTP_ADDR %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
