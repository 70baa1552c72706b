package metrics

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/platform"
)

// Snapshot is the state of the platform as the database tells it.
type Snapshot = platform.Snapshot

// QueueStat describes one job queue.
type QueueStat = platform.QueueStat

// Source reads a Snapshot from the database.
type Source interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// PoolStats are the database connection pool's numbers.
type PoolStats struct {
	Acquired, Idle, Total, Max int32
}

// scrapeCache holds what a collector reads from the database at scrape
// time, for a short while, so that concurrent scrapes share one read.
type scrapeCache[T any] struct {
	read    func(ctx context.Context) (T, error)
	what    string // for the log: "metrics", "drifted resources"
	log     *slog.Logger
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time

	mu  sync.Mutex
	val T
	at  time.Time
	ok  bool
}

func newScrapeCache[T any](what string, log *slog.Logger, read func(ctx context.Context) (T, error)) *scrapeCache[T] {
	return &scrapeCache[T]{read: read, what: what, log: log, timeout: 3 * time.Second, ttl: 2 * time.Second, now: time.Now}
}

// get returns the value read less than the ttl ago, or reads it; ok is
// false when the read failed (logged).
func (c *scrapeCache[T]) get() (v T, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.now().Sub(c.at) < c.ttl {
		return c.val, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	v, err := c.read(ctx)
	if err != nil {
		c.log.Warn("read "+c.what+" from the database", "err", err)
		c.ok = false
		return v, false
	}
	c.val, c.at, c.ok = v, c.now(), true
	return v, true
}

// set stores v as if it had just been read.
func (c *scrapeCache[T]) set(v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.val, c.at, c.ok = v, c.now(), true
}

// DBCollector exports the gauges that come from the database, read at
// scrape time (cached briefly so that concurrent scrapes share one read).
type DBCollector struct {
	snap *scrapeCache[Snapshot]
	pool func() PoolStats

	resources, oldest, selfService, nps, npsResponses, queueDepth, queueOldest, poolConns *prometheus.Desc
}

var _ prometheus.Collector = (*DBCollector)(nil)

// NewDBCollector returns a collector reading from src, and pool stats from
// pool when it is not nil.
func NewDBCollector(src Source, pool func() PoolStats, log *slog.Logger) *DBCollector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DBCollector{
		snap: newScrapeCache("metrics", log, src.Snapshot), pool: pool,
		resources:    prometheus.NewDesc("idpbot_resources", "Resources by state.", []string{"state"}, nil),
		oldest:       prometheus.NewDesc("idpbot_oldest_resource_in_state_seconds", "Age of the oldest resource in a state.", []string{"state"}, nil),
		selfService:  prometheus.NewDesc("idp_self_service_rate", "Percent of the last 30 days' resources created self-service.", nil, nil),
		nps:          prometheus.NewDesc("idp_net_promoter_score", "Net promoter score of the latest closed survey (-100 to 100); NaN before one closes.", nil, nil),
		npsResponses: prometheus.NewDesc("idp_net_promoter_score_responses", "Responses behind idp_net_promoter_score (0: no survey has closed with answers).", nil, nil),
		queueDepth:   prometheus.NewDesc("idpbot_job_queue_depth", "Jobs waiting to run, by queue.", []string{"queue"}, nil),
		queueOldest:  prometheus.NewDesc("idpbot_job_oldest_pending_seconds", "Age of the oldest job waiting to run, by queue.", []string{"queue"}, nil),
		poolConns:    prometheus.NewDesc("idpbot_db_pool_connections", "Database pool connections by state.", []string{"state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DBCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.resources, c.oldest, c.selfService, c.nps, c.npsResponses, c.queueDepth, c.queueOldest, c.poolConns} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *DBCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pool != nil {
		p := c.pool()
		for state, v := range map[string]int32{"acquired": p.Acquired, "idle": p.Idle, "total": p.Total, "max": p.Max} {
			ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(v), state)
		}
	}
	s, ok := c.snap.get()
	if !ok {
		return
	}
	for _, st := range platform.States {
		ch <- prometheus.MustNewConstMetric(c.resources, prometheus.GaugeValue, float64(s.ResourcesByState[st]), string(st))
	}
	for _, st := range []platform.State{platform.Pending, platform.Provisioning, platform.AwaitingApproval, platform.Deleting} {
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, s.OldestInState[st].Seconds(), string(st))
	}
	// A rate or a score without anything to measure is NaN, not 0: the
	// series exists from the first scrape, but a dashboard shows no value
	// and comparisons in alerts are false.
	selfService, nps := math.NaN(), math.NaN()
	if s.HasSelfServiceRate {
		selfService = s.SelfServiceRate
	}
	if s.HasNPS {
		nps = s.NPS
	}
	ch <- prometheus.MustNewConstMetric(c.selfService, prometheus.GaugeValue, selfService)
	ch <- prometheus.MustNewConstMetric(c.nps, prometheus.GaugeValue, nps)
	ch <- prometheus.MustNewConstMetric(c.npsResponses, prometheus.GaugeValue, float64(s.NPSResponses))
	for _, q := range s.Queues {
		ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(q.Depth), q.Queue)
		ch <- prometheus.MustNewConstMetric(c.queueOldest, prometheus.GaugeValue, q.OldestPending.Seconds(), q.Queue)
	}
}
