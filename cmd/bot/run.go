package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
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
	n := a.notifier(con)
	if err := a.startJobs(map[string]jobs.Notifier{console.Platform: n}, map[string]commands.Poster{console.Platform: n}); err != nil {
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
