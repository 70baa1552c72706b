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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/chat/console"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/policy"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/tracing"
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

// app is the wired core every mode shares: configuration, database,
// store and engine. Each is built from what was built before it.
type app struct {
	cfg     *Config
	log     *slog.Logger
	loc     *time.Location // where times are shown: UTC, local in the console
	console bool
	// audiences are the people this process delivers to on platforms
	// delivered per person: the console's user.
	audiences map[string]string
	pool      *pgxpool.Pool
	store     *postgres.Store
	enqueue   *jobs.Enqueuer
	engine    *platform.Engine
	reg       *prometheus.Registry
	metrics   *metrics.Metrics
	// flushTraces sends the spans still buffered (tracing.Setup).
	flushTraces func(context.Context) error
	// handlers are HTTP endpoints of drivers (webhook callbacks), served by
	// the server.
	handlers map[string]http.Handler
}

// setup loads the configuration and catalog, opens the database and wires
// the store, the enqueuer and the engine. The caller closes a.pool.
func setup(ctx context.Context, o options, g env, stderr io.Writer, consoleMode bool) (*app, error) {
	cfg, err := loadConfig(o.config, o.user)
	if err != nil {
		return nil, userError{err.Error()}
	}
	log, err := newLogger(cfg, g, stderr, consoleMode)
	if err != nil {
		return nil, err
	}
	flush, err := tracing.Setup(ctx, g)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, loc: time.UTC, console: consoleMode, reg: prometheus.NewRegistry(), flushTraces: flush}
	if consoleMode {
		a.loc = time.Local
	}
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
	a.metrics.Seed(cat, cfg.Org())
	a.enqueue, err = jobs.NewEnqueuer(jobs.EnqueuerConfig{Pool: a.pool, Org: cfg.Org(), Catalog: cat,
		ApprovalChannels: a.channels("approvals"), PerPerson: []string{console.Platform}, Logger: a.log})
	if err != nil {
		a.pool.Close()
		return nil, err
	}
	a.store = postgres.NewStore(a.pool, postgres.StoreOptions{OnEvent: a.enqueue.OnEvent})
	a.reg.MustRegister(metrics.NewDBCollector(a.store, func() metrics.PoolStats {
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
		Policies: []platform.Policy{rules}, Sealer: sealer, Logger: a.log, Observer: a.metrics, Tracer: tracing.Engine{},
		Deadlines: cfg.Deadlines(),
	})
	return a, nil
}

// flush sends the spans still buffered, for at most 5 seconds.
func (a *app) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.flushTraces(ctx); err != nil {
		a.log.Warn("send the last traces", "err", err)
	}
}

// compileRules compiles the configuration's policy rules.
func compileRules(cfg *Config) (*policy.Set, error) { return policy.Compile(cfg.Rules()) }

// runConsole is the local console: /idp commands typed in the terminal.
func runConsole(ctx context.Context, o options, g env, stdin io.Reader, stdout, stderr io.Writer) error {
	a, err := setup(ctx, o, g, stderr, true)
	if err != nil {
		return err
	}
	defer a.pool.Close()
	defer a.flush()
	actor := platform.Actor{ID: console.Platform + ":" + o.user, Name: o.user}
	a.audiences = map[string]string{console.Platform: o.user}
	con := console.New(console.Config{
		Engine: a.engine, In: stdin, Out: stdout, Actor: actor,
		Interactive: isTerminal(stdin), Wait: o.wait, Logger: a.log, Delivered: true,
	})
	svc, err := a.services(o, []*thread.Notifier{a.notifier(con)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return svc.runner.Run(gctx) })
	grp.Go(func() error {
		defer cancel()
		return con.Run(gctx, svc.router)
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
	defer a.flush()
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
	set := &adapterSet{}
	if err := addSlack(ctx, a, g, ops, set); err != nil {
		return err
	}
	if err := addDiscord(ctx, a, g, ops, set); err != nil {
		return err
	}
	if len(set.notifiers) == 0 {
		a.log.Warn("no chat adapter configured: serving the ops endpoints only; set SLACK_* or DISCORD_* (see README), or run the console with `bot console`")
	}
	svc, err := a.services(o, set.notifiers)
	if err != nil {
		return err
	}
	for path, handler := range set.handlers {
		ops.mux.Handle(path, handler(svc.router))
	}
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return ops.run(gctx, g.or("IDPBOT_HTTP_ADDR", ":8080"), 10*time.Second) })
	grp.Go(func() error { return svc.runner.Run(gctx) })
	if addr := g("IDPBOT_PPROF_ADDR"); addr != "" {
		grp.Go(func() error { return servePprof(gctx, addr) })
	}
	for _, run := range set.runs {
		grp.Go(func() error { return run(gctx, svc.router) })
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
