package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// workload is one kind of slash command fired in a run.
type workload struct {
	name string
	text string // after "/idp"
	// modal: the bot answers it by opening a modal after the ack.
	modal bool
}

var workloads = []workload{
	{name: "help", text: "help"},
	{name: "create", text: "create postgresql-database", modal: true},
}

// options are the command line of a load run.
type options struct {
	bot        string
	runs       int
	requests   int
	concurrent int
	warmup     int
	profile    string
	profileFor time.Duration
	database   string
	keep       bool
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == bareSubcommand {
		return runBare(ctx, args[1:], getenv, stdout)
	}
	fs := flag.NewFlagSet("idpload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.bot, "bot", "", "the bot binary (go build -o /tmp/idpbot ./cmd/bot); required")
	fs.IntVar(&o.runs, "runs", 5, "runs; medians are taken over them")
	fs.IntVar(&o.requests, "n", 1000, "commands per workload, target and run")
	fs.IntVar(&o.concurrent, "c", 200, "commands in flight at once")
	fs.IntVar(&o.warmup, "warmup", 400, "commands per workload and target before the first run, not measured")
	fs.StringVar(&o.profile, "profile", "", "directory for the bot's pprof profiles (CPU, block, mutex, allocs) per workload, taken after the runs")
	fs.DurationVar(&o.profileFor, "profile-for", 10*time.Second, "how long each workload is profiled")
	fs.StringVar(&o.database, "database", getenv("DATABASE_URL"), "PostgreSQL server for the bot: a database idpload_<pid> is created on it and dropped at the end")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (bot log, config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.bot == "":
		return errors.New("-bot is required: build the bot with go build -o /tmp/idpbot ./cmd/bot")
	case o.runs < 1 || o.requests < 1 || o.concurrent < 1:
		return errors.New("-runs, -n and -c must be at least 1")
	}
	if o.database == "" {
		o.database = "postgres://postgres@localhost:5432/postgres?sslmode=disable"
	}
	return load(ctx, o, stdout)
}

// target is a server the commands are fired at.
type target struct {
	name   string
	url    string
	client *http.Client
	pid    int // its process
}

func load(ctx context.Context, o options, out io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "idpload-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintf(out, "working directory (bot log): %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	fake, tb, err := newFake()
	if err != nil {
		return err
	}
	defer func() {
		if problems := tb.close(); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(out, "fake slack:", p)
			}
			err = errors.Join(err, fmt.Errorf("the fake Slack saw %d calls the real Slack would reject", len(problems)))
		}
	}()
	for _, u := range users {
		fake.AddUser(u)
	}
	const secret = "idpload-signing-secret"

	bare, bareURL, err := startBare(ctx, secret)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bare.stop()) }()

	dsn, drop, err := loadDatabase(o.database)
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := drop(dctx); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop the load database: %w", derr))
		}
	}()
	var pprofAddr string
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		if pprofAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	bot, botURL, err := startBot(ctx, botSetup{binary: o.bot, database: dsn, secret: secret, apiURL: fake.URL(), dir: dir, pprof: pprofAddr})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bot.stop()) }()

	newClient := func() *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 2 * o.concurrent, MaxIdleConnsPerHost: 2 * o.concurrent, DisableCompression: true,
		}}
	}
	targets := []target{
		{name: "bare", url: "http://" + bareURL + "/slack/commands", client: newClient(), pid: bare.cmd.Process.Pid},
		{name: "bot", url: botURL + "/slack/commands", client: newClient(), pid: bot.cmd.Process.Pid},
	}
	f := firer{fake: fake, secret: secret, concurrent: o.concurrent}

	fmt.Fprintf(out, "%d runs; per run, workload and target: %d signed /idp commands, %d in flight, from %d users (warm-up: %d not measured)\n",
		o.runs, o.requests, o.concurrent, len(users), o.warmup)
	for _, w := range workloads {
		for _, t := range targets {
			if _, err := f.fire(ctx, t, w, o.warmup); err != nil {
				return fmt.Errorf("warm-up %s on %s: %w", w.name, t.name, err)
			}
		}
		if err := f.settle(ctx, w); err != nil {
			return err
		}
	}
	ratios := map[string]map[string][]float64{} // workload → p50/p90/p99 → per run
	for r := range o.runs {
		for _, w := range workloads {
			order := targets
			if r%2 == 1 { // alternate who goes first, so that neither gains from order
				order = []target{targets[1], targets[0]}
			}
			res := map[string]summary{}
			cpu := map[string][2]time.Duration{} // target → its CPU, idpload's (client and fake Slack)
			for _, t := range order {
				server, self := cpuTime(t.pid), cpuTime(os.Getpid())
				lat, err := f.fire(ctx, t, w, o.requests)
				if err != nil {
					return fmt.Errorf("run %d, %s on %s: %w", r+1, w.name, t.name, err)
				}
				if err := f.settle(ctx, w); err != nil {
					return err
				}
				res[t.name] = summarize(lat)
				cpu[t.name] = [2]time.Duration{cpuTime(t.pid) - server, cpuTime(os.Getpid()) - self}
			}
			b, s := res["bot"], res["bare"]
			if ratios[w.name] == nil {
				ratios[w.name] = map[string][]float64{}
			}
			rr := ratios[w.name]
			rr["p50"] = append(rr["p50"], ms(b.p50)/ms(s.p50))
			rr["p90"] = append(rr["p90"], ms(b.p90)/ms(s.p90))
			rr["p99"] = append(rr["p99"], ms(b.p99)/ms(s.p99))
			fmt.Fprintf(out, "run %d %-6s  bare p50/p90/p99 %6.1f %6.1f %6.1f ms   bot %6.1f %6.1f %6.1f ms   ratio %.2f %.2f %.2f\n",
				r+1, w.name, ms(s.p50), ms(s.p90), ms(s.p99), ms(b.p50), ms(b.p90), ms(b.p99),
				rr["p50"][r], rr["p90"][r], rr["p99"][r])
			fmt.Fprintf(out, "      %-6s  CPU: bare %4.0f ms (idpload %4.0f ms)   bot %4.0f ms (idpload %4.0f ms, with the fake Slack)\n",
				"", ms(cpu["bare"][0]), ms(cpu["bare"][1]), ms(cpu["bot"][0]), ms(cpu["bot"][1]))
		}
	}
	for _, w := range workloads {
		rr := ratios[w.name]
		fmt.Fprintf(out, "median of %d runs, %-6s  bot/bare p50 %.2f  p90 %.2f  p99 %.2f\n",
			o.runs, w.name, median(rr["p50"]), median(rr["p90"]), median(rr["p99"]))
	}
	if o.profile != "" {
		for _, w := range workloads {
			if err := f.profile(ctx, targets[1], w, o, "http://"+pprofAddr); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "profiles of the bot in %s (go tool pprof -top %s)\n", o.profile, filepath.Join(o.profile, "help.cpu.pprof"))
	}
	return nil
}

// firer fires signed slash commands, as the fake Slack builds them (each
// with a fresh trigger_id and response_url).
type firer struct {
	fake       *slackfake.Server
	secret     string
	concurrent int
	seq        atomic.Int64
}

// request returns a fresh signed command for url.
func (f *firer) request(ctx context.Context, url string, w workload) (*http.Request, error) {
	u := users[int(f.seq.Add(1))%len(users)]
	body := []byte(f.fake.SlashCommand(u, "CLOAD0001", w.text).Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = slackfake.Sign(f.secret, time.Now(), body)
	return req, nil
}

// fire sends n commands of w to t, f.concurrent at a time, and returns how
// long each took to be answered (the whole response read). Any answer but
// 200 is an error.
func (f *firer) fire(ctx context.Context, t target, w workload, n int) ([]time.Duration, error) {
	var (
		left = atomic.Int64{}
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, n)
		errs []error
		wg   sync.WaitGroup
	)
	left.Store(int64(n))
	for range min(f.concurrent, n) {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				req, err := f.request(ctx, t.url, w)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				t0 := time.Now()
				resp, err := t.client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return lat, fmt.Errorf("%d of %d commands failed, first: %w", len(errs), n, errs[0])
	}
	return lat, nil
}

// settle waits until every modal the bot was asked to open is open (the
// bot opens it after the ack), so that a run's background work does not
// fall into the next measurement, and checks that no command was answered
// through response_url instead (a modal that could not open).
func (f *firer) settle(ctx context.Context, w workload) error {
	if !w.modal {
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	var sent, opened int
	for {
		sent, opened = len(f.fake.Calls("views.open")), len(f.fake.Views())
		if sent == opened && len(f.fake.Responses()) == 0 {
			// every views.open call succeeded; wait for calls still on the way
			if quiet, err := f.quiet(ctx, sent); err != nil || quiet {
				return err
			}
			continue
		}
		if len(f.fake.Responses()) > 0 {
			return fmt.Errorf("the bot answered %d commands through response_url (a modal did not open): %+v", len(f.fake.Responses()), f.fake.Responses()[0])
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d views.open calls, %d modals opened after 30s", sent, opened)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// quiet reports whether no views.open call arrives for 200 ms after there
// were sent.
func (f *firer) quiet(ctx context.Context, sent int) (bool, error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	return len(f.fake.Calls("views.open")) == sent, nil
}

// profile fires w at t for o.profileFor while the bot records its CPU,
// block, mutex and allocation profiles, saved as <workload>.<kind>.pprof.
func (f *firer) profile(ctx context.Context, t target, w workload, o options, pprofURL string) error {
	secs := int(o.profileFor / time.Second)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for _, kind := range []string{"profile", "block", "mutex", "allocs"} {
		name := map[string]string{"profile": "cpu"}[kind]
		if name == "" {
			name = kind
		}
		wg.Go(func() {
			u := fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", pprofURL, kind, secs)
			if err := fetchProfile(ctx, u, filepath.Join(o.profile, w.name+"."+name+".pprof")); err != nil {
				errc <- err
			}
		})
	}
	end := time.Now().Add(o.profileFor)
	for time.Now().Before(end) {
		if _, err := f.fire(ctx, t, w, o.requests); err != nil {
			return fmt.Errorf("profile %s: %w", w.name, err)
		}
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if err := f.settle(ctx, w); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
