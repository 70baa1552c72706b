package metrics

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/platform"
)

// DriftSource reads the drift check's stored conditions (postgres.Store).
type DriftSource interface {
	// DriftCounts counts the drifted ready resources by service type and
	// environment.
	DriftCounts(ctx context.Context) ([]platform.DriftCount, error)
}

// Drift holds the drift check's metrics: idp_resources_drifted, the ready
// resources whose live state no longer matches their record, by service
// type and environment, and idpbot_drift_checks_total, the checks of single
// resources by result. The gauge is read from the stored conditions at
// scrape time (cached briefly), so every replica reports what the leader's
// last round stored. It implements jobs.DriftObserver.
type Drift struct {
	counts *scrapeCache[map[[2]string]int] // nil without a source
	desc   *prometheus.Desc
	checks *prometheus.CounterVec

	mu     sync.Mutex
	seeded map[[2]string]bool
	last   map[[2]string]int // what Drifted was last told, without a source
}

var _ prometheus.Collector = (*Drift)(nil)

// DriftResults are the results idpbot_drift_checks_total counts (the
// jobs.Drift* constants).
var DriftResults = []string{"healthy", "drifted", "unreachable", "not_available", "error"}

// NewDrift returns the drift metrics registered on reg, the gauge read from
// src (nil: only what Drifted was last told).
func NewDrift(reg prometheus.Registerer, src DriftSource, log *slog.Logger) *Drift {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Drift{
		desc: prometheus.NewDesc("idp_resources_drifted",
			"Ready resources whose live state no longer matches their record (deleted out of band, degraded, changed), by service type and environment, as the last drift check found them.",
			[]string{"service_type", "environment"}, nil),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_drift_checks_total", Help: "Drift checks of single resources, by result (healthy, drifted, unreachable, not_available, error).",
		}, []string{"result"}),
		seeded: map[[2]string]bool{},
	}
	if src != nil {
		d.counts = newScrapeCache("drifted resources", log, func(ctx context.Context) (map[[2]string]int, error) {
			counts, err := src.DriftCounts(ctx)
			return byKey(counts), err
		})
	}
	reg.MustRegister(d, d.checks)
	for _, r := range DriftResults {
		d.checks.WithLabelValues(r)
	}
	return d
}

// Seed makes idp_resources_drifted exist at 0 for each of the catalog's
// service types × the organisation's environments from the first scrape.
func (d *Drift) Seed(c *platform.Catalog, org *platform.Org) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, typ := range c.Types() {
		for _, env := range org.EnvironmentNames() {
			d.seeded[[2]string{typ, env}] = true
		}
	}
}

// DriftChecked counts one resource's drift check.
func (d *Drift) DriftChecked(result string) { d.checks.WithLabelValues(result).Inc() }

// Drifted is told a round's counts: the gauge shows them at once, without
// waiting for the cache to expire.
func (d *Drift) Drifted(counts []platform.DriftCount) {
	m := byKey(counts)
	if d.counts != nil {
		d.counts.set(m)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = m
	for k := range m {
		d.seeded[k] = true
	}
}

func byKey(counts []platform.DriftCount) map[[2]string]int {
	m := map[[2]string]int{}
	for _, c := range counts {
		m[[2]string{c.ServiceType, c.Environment}] += c.Drifted
	}
	return m
}

// Describe implements prometheus.Collector.
func (d *Drift) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect implements prometheus.Collector: every seeded series, and every
// series that has had drifted resources since the process started.
func (d *Drift) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	counts := d.last
	d.mu.Unlock()
	if d.counts != nil {
		var ok bool
		if counts, ok = d.counts.get(); !ok {
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A series once reported stays, at 0 when nothing drifts there any
	// more, so that alerts see it resolve rather than vanish.
	for k := range counts {
		d.seeded[k] = true
	}
	for k := range d.seeded {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(counts[k]), k[0], k[1])
	}
}
