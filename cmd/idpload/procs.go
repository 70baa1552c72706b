package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// loadConfig is the bot's config file for the load run: the fake users
// are in a team (so that create opens its form), one of them by email (so
// that users.info is called to resolve identities, as in a workspace that
// names people by email).
const loadConfig = `teams:
  payments:
    members: [slack:ULOAD0001, slack:ULOAD0002, email:load3@example.com]
admins: [slack:ULOAD0001]
approvers: [slack:ULOAD0002]
`

// users are the people who type the commands.
var users = []slackfake.User{
	{ID: "ULOAD0001", Name: "load1", Email: "load1@example.com"},
	{ID: "ULOAD0002", Name: "load2", Email: "load2@example.com"},
	{ID: "ULOAD0003", Name: "load3", Email: "load3@example.com"},
}

// process is a child process that is stopped with SIGTERM.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

func (p *process) stop() error {
	select {
	case err := <-p.done:
		return fmt.Errorf("%s exited early: %v", p.name, err)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == -1 {
			return nil // ended by the signal
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", p.name)
	}
}

// startBare starts this binary's bare handler and returns its address.
func startBare(ctx context.Context, secret string) (*process, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, bareSubcommand)
	cmd.Env = append(os.Environ(), "SLACK_SIGNING_SECRET="+secret)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start the bare handler: %w", err)
	}
	p := &process{name: "bare handler", cmd: cmd, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
		p.done <- cmd.Wait()
	}()
	select {
	case addr := <-line:
		return p, addr, nil
	case err := <-p.done:
		return nil, "", fmt.Errorf("the bare handler exited: %v", err)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return nil, "", errors.New("the bare handler did not say its address within 10s")
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, "", ctx.Err()
	}
}

// botSetup is how the bot process is started.
type botSetup struct {
	binary   string
	database string
	secret   string
	apiURL   string
	dir      string // config, data directory and log
	pprof    string // IDPBOT_PPROF_ADDR, or empty
}

// startBot starts `bot serve` and waits until /readyz answers 200.
func startBot(ctx context.Context, s botSetup) (*process, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cfg := filepath.Join(s.dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(loadConfig), 0o600); err != nil {
		return nil, "", err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	logPath := filepath.Join(s.dir, "bot.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(s.binary, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+s.database,
		"IDPBOT_CONFIG="+cfg,
		"IDPBOT_DATA_DIR="+filepath.Join(s.dir, "data"),
		"IDPBOT_SECRET_KEY="+base64.StdEncoding.EncodeToString(key),
		"IDPBOT_HTTP_ADDR="+addr,
		"IDPBOT_LOG_FORMAT=json",
		"SLACK_BOT_TOKEN="+slackfake.DefaultBotToken,
		"SLACK_SIGNING_SECRET="+s.secret,
		"SLACK_API_URL="+s.apiURL,
		"SLACK_APP_TOKEN=",
		"DISCORD_BOT_TOKEN=",
		"OTEL_EXPORTER_OTLP_ENDPOINT=",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
		"IDPBOT_PPROF_ADDR="+s.pprof,
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, "", fmt.Errorf("start the bot: %w", err)
	}
	p := &process{name: "bot", cmd: cmd, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		logFile.Close()
	}()
	base := "http://" + addr
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, base, nil
			}
		}
		select {
		case err := <-p.done:
			return nil, "", fmt.Errorf("the bot exited before it was ready (%v); its log: %s", err, logPath)
		case <-ctx.Done():
			_ = p.stop()
			return nil, "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.stop()
			return nil, "", fmt.Errorf("the bot was not ready within 2 minutes; its log: %s", logPath)
		}
	}
}

// freeAddr returns a loopback address nothing listens on at the moment.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// loadDatabase returns the URL of a database of its own for the load run,
// on the server of base (DATABASE_URL), and a function that drops it.
func loadDatabase(base string) (string, func(context.Context) error, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := fmt.Sprintf("idpload_%d", os.Getpid())
	u.Path = "/" + name
	admin := *u
	admin.Path = "/postgres"
	drop := func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	}
	return u.String(), drop, nil
}

// fetchProfile saves the pprof profile at path (…/debug/pprof/NAME?seconds=S)
// to file.
func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuTime returns the CPU time (user and system) process pid has used, as
// /proc/<pid>/stat says; 0 where there is no /proc.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times, 100 on
// Linux.
const clockTicks = 100
