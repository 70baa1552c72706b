package metrics_test

import (
	"context"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
)

// emptyDB is a fresh deployment's database: no request, no survey.
type emptyDB struct{}

func (emptyDB) Snapshot(context.Context) (metrics.Snapshot, error) { return metrics.Snapshot{}, nil }

// TestFirstScrapeHasEverySeedSeries scrapes a fresh registry and finds
// every seed series: the counters and histograms at 0 for each service
// type × team × environment, the NPS as NaN (no score, not 0) beside its
// 0 responses, the self-service rate as NaN (no request to measure).
func TestFirstScrapeHasEverySeedSeries(t *testing.T) {
	t.Parallel()
	cat, err := catalogload.Load(catalog.FS)
	if err != nil {
		t.Fatal(err)
	}
	org := &platform.Org{
		Teams:        []platform.Team{{Name: "payments"}, {Name: "platform"}},
		Environments: []platform.Environment{{Name: "development"}, {Name: "staging"}, {Name: "production"}},
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Seed(cat, org)
	m.SupportCategories([]string{"access", "bug"})
	reg.MustRegister(metrics.NewDBCollector(emptyDB{}, nil, nil))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	gauges := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.GetMetric())
		for _, s := range mf.GetMetric() {
			if g := s.GetGauge(); g != nil {
				gauges[mf.GetName()] = g.GetValue()
			}
		}
	}
	types := len(cat.Types())
	if types == 0 {
		t.Fatal("the shipped catalog has no service types")
	}
	for name, want := range map[string]int{
		"idp_resource_creations_total":     types * 2 * 3,
		"idp_provision_time_seconds":       types,
		"idpbot_provisions_total":          types * 2,
		"idp_support_tickets_total":        2,
		"idp_net_promoter_score":           1,
		"idp_net_promoter_score_responses": 1,
		"idp_self_service_rate":            1,
	} {
		if got[name] != want {
			t.Errorf("first scrape: %d series of %s, want %d", got[name], name, want)
		}
	}
	for _, name := range []string{"idp_net_promoter_score", "idp_self_service_rate"} {
		if v := gauges[name]; !math.IsNaN(v) {
			t.Errorf("%s with nothing measured = %v, want NaN", name, v)
		}
	}
	if v := gauges["idp_net_promoter_score_responses"]; v != 0 {
		t.Errorf("idp_net_promoter_score_responses before any survey = %v, want 0", v)
	}
	ready := series{name: "idpbot_provisions_total", labels: map[string]string{"service_type": "database", "outcome": "ready"}}
	if v := ready.value(t, reg); v != 0 {
		t.Errorf("seeded %v = %v, want 0", ready, v)
	}
}
