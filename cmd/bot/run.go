package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/chat/console"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/policy"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/survey"
)

// defaultDatabaseURL is used when DATABASE_URL is not set.
const defaultDatabaseURL = "postgres://postgres@localhost:5432/idpbot?sslmode=disable"

// knownDrivers are the driver names a catalog may bind services to.
var knownDrivers = []string{"postgres", "kubernetes", "gitops", "webhook", "exec"}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// userError is a problem the person running the bot can fix; it is printed
// as is, without a chain of wrapped errors.
type userError struct{ msg string }

func (e userError) Error() string { return e.msg }

func errorText(err error) string {
	var ue userError
	if errors.As(err, &ue) {
		return ue.msg
	}
	var us usageError
	if errors.As(err, &us) {
		return us.msg + "\n\n" + usageText
	}
	return "idpbot: " + err.Error()
}

func exitCode(err error) int {
	var us usageError
	if errors.As(err, &us) {
		return 2
	}
	return 1
}

const usageText = `usage: bot [flags] [command]

commands:
  (none)                 the console when no Slack/Discord credentials are set, else serve
  serve                  the server: chat adapters, /healthz, /readyz, /metrics and the jobs
  console                the local console: type /idp commands in the terminal
  migrate                apply database migrations and exit
  catalog validate [DIR] check a catalog directory (default: the built-in catalog)
  policy test FILE       run a file of policy test cases against the config's rules
  version                print the version

flags:
  --config FILE   config file (IDPBOT_CONFIG); default: built-in
  --user NAME     console user (IDPBOT_CONSOLE_USER); default: the OS user
  --wait DUR      console: how long to wait for started requests when input ends (default 2m)`

// env reads the process environment through getenv.
type env func(string) string

func (g env) or(key, def string) string {
	if v := g(key); v != "" {
		return v
	}
	return def
}

type options struct {
	config  string
	user    string
	wait    time.Duration
	command []string
}

func parseArgs(args []string, getenv env) (options, error) {
	fset := flag.NewFlagSet("bot", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	var o options
	fset.StringVar(&o.config, "config", getenv("IDPBOT_CONFIG"), "")
	fset.StringVar(&o.user, "user", getenv("IDPBOT_CONSOLE_USER"), "")
	fset.DurationVar(&o.wait, "wait", 2*time.Minute, "")
	// Flags may come before or after the command.
	var rest []string
	for len(args) > 0 {
		if err := fset.Parse(args); err != nil {
			return o, usageError{err.Error()}
		}
		if fset.NArg() == 0 {
			break
		}
		rest = append(rest, fset.Arg(0))
		args = fset.Args()[1:]
	}
	o.command = rest
	if o.user == "" {
		if u, err := user.Current(); err == nil {
			o.user = u.Username
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	g := env(getenv)
	o, err := parseArgs(args, g)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(o.command) > 0 {
		cmd = o.command[0]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "idpbot", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usageText)
		return nil
	case "catalog":
		if len(o.command) < 2 || o.command[1] != "validate" || len(o.command) > 3 {
			return usageError{"catalog: want `catalog validate [DIR]`"}
		}
		dir := ""
		if len(o.command) == 3 {
			dir = o.command[2]
		}
		return validateCatalog(dir, stdout)
	case "policy":
		return runPolicyTest(o, stdout)
	case "migrate":
		pool, _, applied, err := connect(ctx, g, stderr)
		if err != nil {
			return err
		}
		defer pool.Close()
		if applied == 0 {
			fmt.Fprintln(stdout, "the database is up to date: no migrations to apply")
		} else {
			fmt.Fprintf(stdout, "applied %d migrations\n", applied)
		}
		return nil
	case "serve", "console":
		if len(o.command) > 1 {
			return usageError{fmt.Sprintf("%s takes no arguments", cmd)}
		}
		// With no subcommand and no chat credentials, the console opens;
		// an explicit serve (as in a container) always serves.
		if cmd == "console" || len(o.command) == 0 && !chatConfigured(g) {
			return runConsole(ctx, o, g, stdin, stdout, stderr)
		}
		return runServe(ctx, o, g, stderr)
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func validateCatalog(dir string, stdout io.Writer) error {
	var fsys fs.FS = defaultcatalog.FS
	name := "built-in catalog"
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return userError{fmt.Sprintf("catalog validate: %s is not a directory", dir)}
		}
		fsys, name = os.DirFS(dir), dir
	}
	problems := catalogload.Validate(fsys, knownDrivers)
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	if len(problems) > 0 {
		return userError{fmt.Sprintf("%s: %d problem(s)", name, len(problems))}
	}
	fmt.Fprintf(stdout, "%s: ok\n", name)
	return nil
}

func loadCatalog(g env) (*platform.Catalog, error) {
	if dir := g("IDPBOT_CATALOG_DIR"); dir != "" {
		c, err := catalogload.Load(os.DirFS(dir))
		if err != nil {
			return nil, userError{fmt.Sprintf("catalog %s: %v", dir, err)}
		}
		return c, nil
	}
	return catalogload.Load(defaultcatalog.FS)
}

// connect opens the database (creating it if missing) and applies the
// migrations. When DATABASE_URL is not set and no server answers at the
// default address, but PostgreSQL is installed, it starts a private
// cluster under the data directory and returns an env whose DATABASE_URL
// is that cluster's, and how many migrations it applied. When no database
// can be had it returns a userError saying what to do.
func connect(ctx context.Context, g env, stderr io.Writer) (_ *pgxpool.Pool, _ env, migrated int, _ error) {
	dsn := g.or("DATABASE_URL", defaultDatabaseURL)
	pool, err := postgres.Connect(ctx, dsn)
	if err != nil && g("DATABASE_URL") == "" && postgres.IsUnreachable(err) {
		if local, lerr := startLocalPostgres(ctx, g, stderr); lerr == nil {
			dsn = local
			orig := g
			g = func(k string) string {
				if k == "DATABASE_URL" {
					return local
				}
				return orig(k)
			}
			pool, err = postgres.Connect(ctx, dsn)
		} else {
			fmt.Fprintf(stderr, "idpbot: could not start a private PostgreSQL: %v\n", lerr)
		}
	}
	if err != nil {
		return nil, g, 0, databaseError(dsn, err)
	}
	migrated, err = postgres.MigrateUp(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, g, 0, fmt.Errorf("migrate: %w", err)
	}
	return pool, g, migrated, nil
}

// startLocalPostgres starts the private cluster and returns its URL.
func startLocalPostgres(ctx context.Context, g env, stderr io.Writer) (string, error) {
	bin, ok := postgresBinDir()
	if !ok {
		return "", errors.New("PostgreSQL's binaries are not installed")
	}
	lp, err := newLocalPostgres(bin, localClusterDir(g))
	if err != nil {
		return "", err
	}
	if err := lp.Start(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "idpbot: no PostgreSQL answers at localhost:5432, so it runs a private one in %s (port %d); "+
		"it keeps running for the databases it holds (stop it with: %s -D %s stop). Set DATABASE_URL to use your own server.\n",
		lp.dir, lp.port, filepath.Join(bin, "pg_ctl"), lp.dir)
	return lp.URL("idpbot"), nil
}

func databaseError(dsn string, err error) error {
	where := postgres.Redact(dsn)
	if postgres.IsUnreachable(err) {
		return userError{fmt.Sprintf(`idpbot needs PostgreSQL, and no server answers at %s.
Start one (for example "sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
or "docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16"), or set
DATABASE_URL to a server you can use, e.g. DATABASE_URL=postgres://user:pass@db.example.com:5432/idpbot.
The database itself is created if it does not exist.`, where)}
	}
	return userError{fmt.Sprintf(`idpbot could not open the database at %s:
  %v
Check DATABASE_URL (user, password, database name, sslmode); the user needs the right to create
the database if it does not exist yet.`, where, rootCause(err))}
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// adminURL returns the postgres driver's target: the config's, or the
// server of DATABASE_URL with the maintenance database.
func adminURL(cfg *Config, g env) string {
	if cfg.Drivers.Postgres != nil && cfg.Drivers.Postgres.AdminURL != "" {
		return cfg.Drivers.Postgres.AdminURL
	}
	u, err := url.Parse(g.or("DATABASE_URL", defaultDatabaseURL))
	if err != nil {
		return ""
	}
	u.Path = "/postgres"
	return u.String()
}

// secretKey returns the key that seals connection details waiting for
// delivery: IDPBOT_SECRET_KEY (base64 of 32 bytes), or one kept in the data
// directory, created on first use.
func secretKey(g env) ([]byte, error) {
	if s := g("IDPBOT_SECRET_KEY"); s != "" {
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(k) != 32 {
			return nil, userError{"IDPBOT_SECRET_KEY must be the base64 encoding of 32 random bytes (openssl rand -base64 32)"}
		}
		return k, nil
	}
	dir := dataDir(g)
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, userError{fmt.Sprintf("%s is not a valid secret key; remove it to have a new one made", path)}
		}
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return secretKey(g) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, f.Close()
}

func dataDir(g env) string {
	if d := g("IDPBOT_DATA_DIR"); d != "" {
		return d
	}
	if d := g("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "idpbot")
	}
	if h := g("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "idpbot")
	}
	return ".idpbot"
}

// newLogger builds the log: text on a terminal (and in the console), JSON
// otherwise (production), unless IDPBOT_LOG_FORMAT or log.format says;
// level info (warn in the console) unless IDPBOT_LOG_LEVEL or log.level
// says. A value it does not know is an error, not a silent default.
func newLogger(cfg *Config, g env, w io.Writer, consoleMode bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if consoleMode {
		level = slog.LevelWarn
	}
	if s := g.or("IDPBOT_LOG_LEVEL", cfg.Log.Level); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			return nil, userError{fmt.Sprintf("log level %q is not one of debug, info, warn, error (IDPBOT_LOG_LEVEL or log.level)", s)}
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	format := g.or("IDPBOT_LOG_FORMAT", cfg.Log.Format)
	if format == "" {
		format = "json"
		if consoleMode || isTerminal(w) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, userError{fmt.Sprintf("log format %q is not json or text (IDPBOT_LOG_FORMAT or log.format)", format)}
}

// app is the wired core every mode shares.
type app struct {
	cfg     *Config
	log     *slog.Logger
	pool    *pgxpool.Pool
	store   *postgres.Store
	engine  *platform.Engine
	router  *commands.Router
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	runner  *jobs.Runner
	gov     *jobs.Governance
	survey  *survey.Service
	digest  *digest.Service
	// posters are the adapters that can post outside a command, by
	// platform; filled in once the adapters are built, before jobs start.
	posters       map[string]commands.Poster
	surveyPosters map[string]survey.Poster
	digestPosters map[string]digest.Poster
	// handlers are HTTP endpoints of drivers (webhook callbacks), served by
	// the server.
	handlers map[string]http.Handler
}

// setup loads the configuration and catalog, opens the database and wires
// the engine. The caller closes a.pool.
func setup(ctx context.Context, o options, g env, stderr io.Writer, consoleMode bool) (*app, error) {
	cfg, err := loadConfig(o.config, o.user)
	if err != nil {
		return nil, userError{err.Error()}
	}
	log, err := newLogger(cfg, g, stderr, consoleMode)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	cat, err := loadCatalog(g)
	if err != nil {
		return nil, err
	}
	rules, err := compileRules(cfg)
	if err != nil {
		return nil, userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	key, err := secretKey(g)
	if err != nil {
		return nil, err
	}
	sealer, err := platform.NewSealer(key)
	if err != nil {
		return nil, err
	}
	if a.pool, g, _, err = connect(ctx, g, stderr); err != nil {
		return nil, err
	}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = metrics.New(a.reg)
	a.metrics.SupportCategories(a.cfg.SupportCategories())
	a.store = postgres.NewStore(a.pool, postgres.StoreOptions{
		OnEvent: func(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error {
			if err := a.runner.Enqueue(ctx, tx, r, ev); err != nil {
				return err
			}
			return a.gov.Enqueue(ctx, tx, r, ev)
		},
	})
	a.reg.MustRegister(metrics.NewDBCollector(snapshotSource{a}, func() metrics.PoolStats {
		st := a.pool.Stat()
		return metrics.PoolStats{Acquired: st.AcquiredConns(), Idle: st.IdleConns(), Total: st.TotalConns(), Max: st.MaxConns()}
	}, a.log))
	ds, err := drivers(cfg, g, a.pool)
	if err != nil {
		a.pool.Close()
		return nil, userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	a.handlers = ds.handlers
	a.engine = platform.NewEngine(platform.EngineConfig{
		Store: a.store, Catalog: cat, Org: cfg.Org(), Drivers: ds.drivers,
		Policies: []platform.Policy{rules}, Sealer: sealer, Logger: a.log, Observer: a.metrics,
		Deadlines: cfg.Deadlines(),
	})
	loc := time.UTC
	if consoleMode {
		loc = time.Local
	}
	if err := a.setupSchedules(o, consoleMode, loc); err != nil {
		a.pool.Close()
		return nil, err
	}
	a.router = commands.NewRouter(a.engine, commands.Options{
		Logger: a.log, Location: loc,
		Tickets: a.gov, Metrics: a.metrics, SupportCategories: cfg.SupportCategories(),
		Verbs: a.verbs(),
	})
	return a, nil
}

// compileRules compiles the configuration's policy rules.
func compileRules(cfg *Config) (*policy.Set, error) { return policy.Compile(cfg.Rules()) }

// startJobs builds the job runner with the given notifiers; posters are
// the adapters that can also post outside a command (approval cards,
// support tickets, surveys, digests).
func (a *app) startJobs(notifiers map[string]jobs.Notifier, posters map[string]commands.Poster) error {
	for name, p := range posters {
		a.posters[name] = p
		cp := chatPoster{p: p, loc: a.survey.Location()}
		a.surveyPosters[name], a.digestPosters[name] = cp, cp
	}
	var err error
	a.runner, err = jobs.New(jobs.Config{
		Pool: a.pool, Engine: a.engine, Store: a.store, Logger: a.log,
		Notifiers:   notifiers,
		Workers:     a.cfg.Jobs.Workers,
		RescueAfter: time.Duration(a.cfg.Jobs.RescueAfter),
		Metrics:     a.metrics,
		Register: func(w *river.Workers) {
			a.gov.Register(w, a.posters)
			survey.AddWorkers(w, a.survey)
			digest.AddWorkers(w, a.digest)
		},
		Periodic: append(jobs.GovernancePeriodic(), a.survey.PeriodicJob(), a.digest.PeriodicJob()),
	})
	return err
}

// runConsole is the local console: /idp commands typed in the terminal.
func runConsole(ctx context.Context, o options, g env, stdin io.Reader, stdout, stderr io.Writer) error {
	a, err := setup(ctx, o, g, stderr, true)
	if err != nil {
		return err
	}
	defer a.pool.Close()
	actor := platform.Actor{ID: "console:" + o.user, Name: o.user}
	con := console.New(console.Config{
		Router: a.router, Engine: a.engine, In: stdin, Out: stdout, Actor: actor,
		Interactive: isTerminal(stdin), Wait: o.wait, Logger: a.log, Delivered: true,
	})
	if err := a.startJobs(map[string]jobs.Notifier{console.Platform: con}, map[string]commands.Poster{console.Platform: con}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return a.runner.Run(gctx) })
	grp.Go(func() error {
		defer cancel()
		return con.Run(gctx)
	})
	if err := grp.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// runServe is the server: chat adapters and ops endpoints on
// IDPBOT_HTTP_ADDR, and the job workers. It drains on SIGTERM.
func runServe(ctx context.Context, o options, g env, stderr io.Writer) error {
	a, err := setup(ctx, o, g, stderr, false)
	if err != nil {
		return err
	}
	defer a.pool.Close()
	ops := newOpsServer(a.reg, a.log)
	ops.addCheck("database", func(ctx context.Context) error {
		if err := a.pool.Ping(ctx); err != nil {
			return errors.New("not reachable")
		}
		return nil
	})
	ops.addCheck("migrations", func(ctx context.Context) error {
		ok, err := postgres.MigrationsCurrent(ctx, a.pool)
		if err != nil {
			return errors.New("cannot be read")
		}
		if !ok {
			return errors.New("not all applied")
		}
		return nil
	})
	for path, h := range a.handlers {
		ops.mux.Handle(path, h)
	}
	set := &adapterSet{notifiers: map[string]jobs.Notifier{}, posters: map[string]commands.Poster{}}
	if err := addSlack(ctx, a, g, ops, set); err != nil {
		return err
	}
	if err := addDiscord(ctx, a, g, ops, set); err != nil {
		return err
	}
	notifiers, runs := set.notifiers, set.runs
	if len(notifiers) == 0 {
		a.log.Warn("no chat adapter configured: serving the ops endpoints only; set SLACK_* or DISCORD_* (see README), or run the console with `bot console`")
	}
	if err := a.startJobs(notifiers, set.posters); err != nil {
		return err
	}
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return ops.run(gctx, g.or("IDPBOT_HTTP_ADDR", ":8080"), 10*time.Second) })
	grp.Go(func() error { return a.runner.Run(gctx) })
	for _, run := range runs {
		grp.Go(func() error { return run(gctx) })
	}
	err = grp.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	a.log.Info("stopped")
	return nil
}

func chatConfigured(g env) bool {
	return g("SLACK_BOT_TOKEN") != "" || g("SLACK_APP_TOKEN") != "" || g("DISCORD_BOT_TOKEN") != ""
}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
