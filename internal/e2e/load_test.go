package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/chat/discord"
	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/slack"
	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/jobs/jobstest"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// BenchmarkBurst is the load test of delivery under the chat platforms'
// rate limits: a burst of requests (IDPBOT_LOAD_REQUESTS, default 200)
// from IDPBOT_LOAD_USERS people (default 50) into one requests channel,
// provisioned at once, their stories told through the real adapter and
// jobs runner (production settings) to a fake platform that enforces the
// documented limits, every window IDPBOT_LOAD_SCALE (default 10) times
// shorter and the bot pacing as many times faster. Each run prints:
//
//   - creds p50/p99: from a request's ready transition to its connection
//     details in the requester's direct messages;
//   - complete: from the burst to the last message of the last thread,
//     and its ratio to the pacing floor (the channel's posts at its
//     allowed rate, or the edits at theirs, whichever is longer);
//   - channel posts and API calls per request, 429s;
//   - lost and duplicated thread lines (every event's line must be in its
//     thread exactly once) and duplicate posts counted by the fake.
//
// Run it as README's "Load tests" says (one run per -count);
// IDPBOT_LOAD_LOG names a file for the bot's logs.
func BenchmarkBurst(b *testing.B) {
	b.Run("slack", func(b *testing.B) { benchBurst(b, slackLoad{}) })
	b.Run("discord", func(b *testing.B) { benchBurst(b, discordLoad{}) })
}

// loadTarget is one platform under load.
type loadTarget interface {
	platform() string
	// start builds the fake (limits scaled) and the notifier for n users,
	// and returns the actor of user i.
	start(b *testing.B, nd *node, users int, scale float64) (n *thread.Notifier, requests string, actor func(i int) platform.Actor)
	// observe reads what the fake received.
	observe(nd *node, rs []*platform.Resource) loadObservation
}

// loadObservation is what a fake saw of a burst.
type loadObservation struct {
	credentials                map[int64]time.Time // resource → when its details arrived
	thread                     map[int64]string    // resource → its thread's text
	last                       time.Time           // the last message posted in the channel or a thread
	posts                      int                 // messages posted in the requests channel and its threads
	edits                      int
	calls, limited, duplicates int
	// floor is the pacing floor: the least time the platform's limits
	// allow for those posts and edits.
	floor time.Duration
}

func loadParam(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

func benchBurst(b *testing.B, target loadTarget) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL is not set: the load test needs PostgreSQL")
	}
	requests, users, scale := int(loadParam("IDPBOT_LOAD_REQUESTS", 200)), int(loadParam("IDPBOT_LOAD_USERS", 50)), loadParam("IDPBOT_LOAD_SCALE", 10)
	b.StopTimer()
	for range b.N {
		pool := postgrestest.Pool(b)
		nd := newLoadNode(b, pool, target.platform(), users)
		n, channel, actor := target.start(b, nd, users, scale)
		_, stop := nd.runProduction(b, target.platform(), n)
		b.StartTimer()

		start := time.Now()
		rs := make([]*platform.Resource, requests)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 20)
		for i := range requests {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				r, _, err := nd.engine.Submit(context.Background(), actor(i%users), platform.Request{
					Service: "postgresql-database", Name: fmt.Sprintf("load-%03d", i), Team: "payments", Environment: "development",
					Origin: platform.Origin{Platform: target.platform(), Channel: channel},
				})
				if err != nil {
					b.Errorf("submit %d: %v", i, err)
					return
				}
				rs[i] = r
			})
		}
		wg.Wait()
		if b.Failed() {
			return
		}
		waitDelivered(b, pool, requests, 10*time.Minute)
		b.StopTimer()
		stop()
		if f := os.Getenv("IDPBOT_LOAD_LOG"); f != "" { // the bot's logs, to see what waited
			_ = os.WriteFile(f, []byte(nd.logs.String()), 0o644)
		}
		report(b, nd, target, rs, start)
	}
}

// newLoadNode is a node whose org has one team of users people, with room
// for every request.
func newLoadNode(b *testing.B, pool *pgxpool.Pool, platformName string, users int) *node {
	cat, err := catalogload.Load(catalog.FS)
	if err != nil {
		b.Fatal(err)
	}
	members := make([]string, users)
	for i := range members {
		members[i] = platformName + ":" + loadUser(platformName, i)
	}
	org := &platform.Org{
		Teams:         []platform.Team{{Name: "payments", Members: members}},
		Environments:  []platform.Environment{{Name: "development"}},
		DefaultQuotas: map[string]int{"postgresql-database": 100000},
	}
	enq := jobstest.Enqueuer(b, pool, jobs.EnqueuerConfig{})
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	drv := platformtest.NewDriver()
	engine := platform.NewEngine(platform.EngineConfig{
		Store: store, Catalog: cat, Org: org, Sealer: platformtest.Sealer(b),
		Drivers: map[string]platform.Driver{"postgres": drv},
	})
	l := &logs{}
	return &node{pool: pool, store: store, engine: engine, enq: enq, driver: drv, logs: l,
		log: slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

func loadUser(platformName string, i int) string {
	if platformName == discord.Platform {
		return fmt.Sprintf("12000000000000%05d", i)
	}
	return fmt.Sprintf("U0LOAD%04d", i)
}

// runProduction starts a jobs runner with the bot's production settings.
func (nd *node) runProduction(b *testing.B, platformName string, n *thread.Notifier) (*jobs.Runner, func()) {
	return nd.start(b, jobs.Config{Notifiers: map[string]jobs.Notifier{platformName: n}, Workers: 10})
}

// waitDelivered waits until requests resources are ready and every event
// of theirs is delivered.
func waitDelivered(b *testing.B, pool *pgxpool.Pool, requests int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		var ready, pending int
		err := pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM resources WHERE state = 'ready'),
			(SELECT count(*) FROM resources r WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.resource_id = r.id
				AND d.last_event_id = (SELECT max(id) FROM events e WHERE e.resource_id = r.id)))`).Scan(&ready, &pending)
		if err != nil {
			b.Fatal(err)
		}
		if ready == requests && pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s: %d of %d ready, %d with events undelivered", timeout, ready, requests, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// report checks and prints what a burst gave.
func report(b *testing.B, nd *node, target loadTarget, rs []*platform.Resource, start time.Time) {
	ctx := context.Background()
	for i, r := range rs {
		got, err := nd.store.Resource(ctx, r.ID)
		if err != nil {
			b.Fatal(err)
		}
		rs[i] = got
	}
	obs := target.observe(nd, rs)
	var creds []time.Duration
	lost, doubled := 0, 0
	for _, r := range rs {
		evs, err := nd.store.Events(ctx, r.ID)
		if err != nil {
			b.Fatal(err)
		}
		text := obs.thread[r.ID]
		for _, ev := range evs {
			if ev.Kind == platform.EventTransition && ev.To == platform.Ready {
				if at, ok := obs.credentials[r.ID]; ok {
					creds = append(creds, at.Sub(ev.At))
				} else {
					lost++ // the connection details
				}
			}
			line := lineOf(target.platform(), r, ev)
			if line == "" {
				continue
			}
			switch c := strings.Count(text, line); {
			case c == 0:
				lost++
				if lost <= 3 {
					b.Logf("%s: line %q missing from its thread:\n%s", r.Ref(), line, text)
				}
			case c > 1:
				doubled++
			}
		}
	}
	slices.Sort(creds)
	complete := obs.last.Sub(start)
	n := float64(len(rs))
	b.ReportMetric(pct(creds, 50).Seconds(), "creds-p50-s")
	b.ReportMetric(pct(creds, 99).Seconds(), "creds-p99-s")
	b.ReportMetric(complete.Seconds(), "complete-s")
	b.ReportMetric(complete.Seconds()/obs.floor.Seconds(), "complete/floor")
	b.ReportMetric(float64(obs.posts)/n, "posts/req")
	b.ReportMetric(float64(obs.edits)/n, "edits/req")
	b.ReportMetric(float64(obs.calls)/n, "calls/req")
	b.ReportMetric(float64(obs.limited), "429s")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(doubled+obs.duplicates), "duplicated")
	if lost > 0 || doubled > 0 || obs.duplicates > 0 {
		b.Errorf("%d lines lost, %d doubled, %d duplicate posts", lost, doubled, obs.duplicates)
	}
}

// lineOf is the text ev shows in r's thread on platformName ("" for none).
func lineOf(platformName string, r *platform.Resource, ev platform.Event) string {
	if platformName == discord.Platform {
		line, _ := discord.EventMessage(r, ev)
		return line
	}
	m, _ := slack.EventMessage(r, ev)
	return m.Text
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(math.Ceil(p/100*float64(len(sorted))))-1)]
}

// slackLoad is Slack under load.
type slackLoad struct{}

const loadChannel = "C0REQUESTS"

func (slackLoad) platform() string { return slack.Platform }

var slackFakes sync.Map // *node → *slackfake.Server

func (slackLoad) start(b *testing.B, nd *node, users int, scale float64) (*thread.Notifier, string, func(int) platform.Actor) {
	fake := slackfake.New(b)
	for i := range users {
		fake.AddUser(slackfake.User{ID: loadUser(slack.Platform, i), Name: fmt.Sprintf("user%d", i)})
	}
	fake.SetLimits(slackfake.DocumentedLimits().Scaled(scale))
	slackFakes.Store(nd, fake)
	a, err := slack.New(slack.Config{BotToken: fake.BotToken, SigningSecret: slackSecret, APIURL: fake.URL(),
		Engine: nd.engine, Logger: nd.log, RateScale: scale})
	if err != nil {
		b.Fatal(err)
	}
	n := thread.New(thread.Config{Transport: a, Threads: nd.store, RequestsChannel: loadChannel, Log: nd.log})
	return n, loadChannel, func(i int) platform.Actor {
		return platform.Actor{ID: slack.Platform + ":" + loadUser(slack.Platform, i), Name: fmt.Sprintf("user%d", i)}
	}
}

func (slackLoad) observe(nd *node, rs []*platform.Resource) loadObservation {
	v, _ := slackFakes.Load(nd)
	fake := v.(*slackfake.Server)
	st := fake.Stats()
	obs := loadObservation{credentials: map[int64]time.Time{}, thread: map[int64]string{}, duplicates: len(st.Duplicates)}
	roots := map[string][]string{}
	for _, m := range fake.Messages(loadChannel) {
		obs.posts++
		obs.last = later(obs.last, m.At)
		if m.ThreadTS != "" {
			roots[m.ThreadTS] = append(roots[m.ThreadTS], m.Text)
		}
	}
	for _, r := range rs {
		th, _, _ := nd.store.Thread(context.Background(), r.ID, slack.Platform)
		obs.thread[r.ID] = strings.Join(roots[th.RootRef], "\n")
		for _, m := range fake.Messages("D" + strings.TrimPrefix(r.Requester.ID, "slack:")) {
			if strings.Contains(string(m.Blocks), r.Ref()) && strings.Contains(string(m.Blocks), "```") {
				obs.credentials[r.ID] = m.At
			}
		}
	}
	for method, ms := range st.Methods {
		obs.calls += ms.Calls
		obs.limited += ms.RateLimited
		if method == "chat.update" {
			obs.edits = ms.Calls - ms.RateLimited
		}
	}
	scale := loadParam("IDPBOT_LOAD_SCALE", 10)
	postFloor := time.Duration(float64(obs.posts) * float64(time.Second) / scale)
	editFloor := time.Duration(float64(obs.edits) * float64(time.Minute/50) / scale)
	obs.floor = max(postFloor, editFloor)
	return obs
}

// discordLoad is Discord under load.
type discordLoad struct{}

func (discordLoad) platform() string { return discord.Platform }

var discordFakes sync.Map // *node → *discordtest.Server

func (discordLoad) start(b *testing.B, nd *node, users int, scale float64) (*thread.Notifier, string, func(int) platform.Actor) {
	fake := discordtest.New(b)
	fake.AddChannel(discordChannel)
	fake.SetLimits(discordtest.DocumentedLimits().Scaled(scale))
	discordFakes.Store(nd, fake)
	key := discordtest.NewKey(b)
	a, err := discord.New(discord.Config{BotToken: discordtest.BotToken, AppID: discordtest.AppID, PublicKey: key.Public,
		APIURL: fake.URL(), Engine: nd.engine, Logger: nd.log, RateScale: scale})
	if err != nil {
		b.Fatal(err)
	}
	n := thread.New(thread.Config{Transport: a, Threads: nd.store, RequestsChannel: discordChannel, Log: nd.log})
	return n, discordChannel, func(i int) platform.Actor {
		return platform.Actor{ID: discord.Platform + ":" + loadUser(discord.Platform, i), Name: fmt.Sprintf("user%d", i)}
	}
}

func (discordLoad) observe(nd *node, rs []*platform.Resource) loadObservation {
	v, _ := discordFakes.Load(nd)
	fake := v.(*discordtest.Server)
	st := fake.Stats()
	obs := loadObservation{credentials: map[int64]time.Time{}, thread: map[int64]string{}, duplicates: len(st.Duplicates)}
	roots := 0
	for _, m := range fake.Messages(discordChannel) {
		obs.posts++
		roots++
		obs.last = later(obs.last, m.At)
	}
	for _, r := range rs {
		th, _, _ := nd.store.Thread(context.Background(), r.ID, discord.Platform)
		var lines []string
		for _, m := range fake.Messages(th.ThreadRef) {
			obs.posts++
			obs.last = later(obs.last, m.At)
			lines = append(lines, m.Content)
		}
		obs.thread[r.ID] = strings.Join(lines, "\n")
		if dm, ok := fake.DM(strings.TrimPrefix(r.Requester.ID, "discord:")); ok {
			for _, m := range fake.Messages(dm) {
				if strings.Contains(m.Content, r.Name) && strings.Contains(m.Content, "```") {
					obs.credentials[r.ID] = m.At
				}
			}
		}
	}
	for route, rs := range st.Routes {
		obs.calls += rs.Calls
		obs.limited += rs.RateLimited
		if strings.HasPrefix(route, "PATCH /channels/") {
			obs.edits += rs.Calls - rs.RateLimited
		}
	}
	scale := loadParam("IDPBOT_LOAD_SCALE", 10)
	// The channel takes the roots at 5 per 5 s; each thread is a channel
	// of its own; every call counts against the global 50 per second.
	rootFloor := time.Duration(float64(roots) * float64(time.Second) / scale)
	globalFloor := time.Duration(float64(obs.calls) * float64(time.Second/50) / scale)
	obs.floor = max(rootFloor, globalFloor)
	return obs
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
