package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/platform"
)

// Drift holds the drift check's metrics: idp_resources_drifted, the ready
// resources whose live state no longer matches their record, by service
// type and environment, and idpbot_drift_checks_total, the checks of single
// resources by result. It implements jobs.DriftObserver.
type Drift struct {
	drifted *prometheus.GaugeVec
	checks  *prometheus.CounterVec

	mu    sync.Mutex
	known map[[2]string]bool
}

// DriftResults are the results idpbot_drift_checks_total counts (the
// jobs.Drift* constants).
var DriftResults = []string{"healthy", "drifted", "unreachable", "not_available", "error"}

// NewDrift returns the drift metrics registered on reg.
func NewDrift(reg prometheus.Registerer) *Drift {
	d := &Drift{
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idp_resources_drifted",
			Help: "Ready resources whose live state no longer matches their record (deleted out of band, degraded, changed), by service type and environment, as the leader's last drift check found them.",
		}, []string{"service_type", "environment"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_drift_checks_total", Help: "Drift checks of single resources, by result (healthy, drifted, unreachable, not_available, error).",
		}, []string{"result"}),
		known: map[[2]string]bool{},
	}
	reg.MustRegister(d.drifted, d.checks)
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
			d.drifted.WithLabelValues(typ, env).Set(0)
			d.known[[2]string{typ, env}] = true
		}
	}
}

// DriftChecked counts one resource's drift check.
func (d *Drift) DriftChecked(result string) { d.checks.WithLabelValues(result).Inc() }

// Drifted sets idp_resources_drifted from a round's counts: every series
// not in counts goes back to 0 (it stays, so that rates and alerts see it).
func (d *Drift) Drifted(counts []platform.DriftCount) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := map[[2]string]int{}
	for _, c := range counts {
		k := [2]string{c.ServiceType, c.Environment}
		now[k] += c.Drifted
		d.known[k] = true
	}
	for k := range d.known {
		d.drifted.WithLabelValues(k[0], k[1]).Set(float64(now[k]))
	}
}
