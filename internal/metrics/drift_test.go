package metrics_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// driftSeries returns idp_resources_drifted by "type/env" and
// idpbot_drift_checks_total by result.
func driftSeries(t *testing.T, reg *prometheus.Registry) (gauge, checks map[string]float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gauge, checks = map[string]float64{}, map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "idp_resources_drifted":
				gauge[labels["service_type"]+"/"+labels["environment"]] = m.GetGauge().GetValue()
			case "idpbot_drift_checks_total":
				checks[labels["result"]] = m.GetCounter().GetValue()
			}
		}
	}
	return gauge, checks
}

// driftDB is the stored conditions: what DriftCounts answers.
type driftDB struct {
	mu     sync.Mutex
	counts []platform.DriftCount
	err    error
}

func (db *driftDB) DriftCounts(context.Context) ([]platform.DriftCount, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.counts, db.err
}

func (db *driftDB) set(counts []platform.DriftCount, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.counts, db.err = counts, err
}

func TestDriftGauge(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	d := metrics.NewDrift(reg, nil, nil)
	cat := platformtest.Catalog(t)
	org := &platform.Org{Environments: []platform.Environment{{Name: "development"}, {Name: "production"}}}
	d.Seed(cat, org)
	gauge, checks := driftSeries(t, reg)
	want := map[string]float64{}
	for _, typ := range cat.Types() {
		for _, env := range []string{"development", "production"} {
			want[typ+"/"+env] = 0
		}
	}
	if len(want) == 0 {
		t.Fatal("the catalog fixture has no service types")
	}
	if diff := cmp.Diff(want, gauge); diff != "" {
		t.Errorf("first scrape mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"healthy": 0, "drifted": 0, "unreachable": 0, "not_available": 0, "error": 0}, checks); diff != "" {
		t.Errorf("first scrape of the checks mismatch (-want +got):\n%s", diff)
	}

	d.Drifted([]platform.DriftCount{{ServiceType: "database", Environment: "production", Drifted: 2}, {ServiceType: "queue", Environment: "qa", Drifted: 1}})
	d.DriftChecked("drifted")
	d.DriftChecked("drifted")
	d.DriftChecked("unreachable")
	gauge, checks = driftSeries(t, reg)
	want["database/production"], want["queue/qa"] = 2, 1
	if diff := cmp.Diff(want, gauge); diff != "" {
		t.Errorf("after a round with drift mismatch (-want +got):\n%s", diff)
	}
	if checks["drifted"] != 2 || checks["unreachable"] != 1 || checks["healthy"] != 0 {
		t.Errorf("checks = %v", checks)
	}

	d.Drifted(nil)
	gauge, _ = driftSeries(t, reg)
	want["database/production"], want["queue/qa"] = 0, 0
	if diff := cmp.Diff(want, gauge); diff != "" {
		t.Errorf("after a round without drift mismatch (-want +got):\n%s", diff)
	}
}

// TestDriftGaugeFromTheDatabase: a replica that is not the leader reports
// the stored conditions too, read at scrape time.
func TestDriftGaugeFromTheDatabase(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	db := &driftDB{}
	d := metrics.NewDrift(reg, db, nil)
	d.Seed(platformtest.Catalog(t), &platform.Org{Environments: []platform.Environment{{Name: "production"}}})
	db.set([]platform.DriftCount{{ServiceType: "database", Environment: "production", Drifted: 3}}, nil)
	gauge, _ := driftSeries(t, reg)
	if gauge["database/production"] != 3 {
		t.Errorf("idp_resources_drifted = %v, want database/production 3 from the database", gauge)
	}
	// A round's counts show at once.
	d.Drifted(nil)
	if gauge, _ := driftSeries(t, reg); gauge["database/production"] != 0 {
		t.Errorf("after a round without drift: %v", gauge)
	}
	db.set(nil, errors.New("connection refused"))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather with the database down = %v", err)
	}
}
