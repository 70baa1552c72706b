package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// TestSeedMetricsMove: creating a request counts a creation; provisioning
// it observes its time to provision; a failure counts as failed. The engine
// tells its observer after the state change commits, so a reader that saw
// the new state waits for the observation rather than racing it.
func TestSeedMetricsMove(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	f := platformtest.Engine(t, platformtest.WithObserver(m), platformtest.WithJobs(1))
	ctx := context.Background()
	submit := func(name string) *platform.Resource {
		t.Helper()
		r, _, err := f.Engine.Submit(ctx, platformtest.Bob, platform.Request{Service: "postgresql-database", Name: name, Team: "payments", Environment: "development"})
		if err != nil {
			t.Fatalf("Submit(%s) = %v", name, err)
		}
		return r
	}
	creations := series{name: "idp_resource_creations_total", labels: map[string]string{"service_type": "database", "team": "payments", "environment": "development"}}
	ready := series{name: "idpbot_provisions_total", labels: map[string]string{"service_type": "database", "outcome": "ready"}}
	failed := series{name: "idpbot_provisions_total", labels: map[string]string{"service_type": "database", "outcome": "failed"}}
	provisionTime := series{name: "idp_provision_time_seconds", labels: map[string]string{"service_type": "database"}}

	r := submit("ok-db")
	if got := creations.value(t, reg); got != 1 {
		t.Errorf("creations after one request = %v, want 1", got)
	}
	f.WaitState(r.ID, 10*time.Second, func(s platform.State) bool { return s == platform.Ready })
	waitFor(t, reg, ready, 1)
	if got := provisionTime.value(t, reg); got != 1 {
		t.Errorf("provision time observations = %v, want 1", got)
	}

	f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("quota exceeded on the target"), 1)
	r = submit("bad-db")
	f.WaitState(r.ID, 10*time.Second, func(s platform.State) bool { return s == platform.Failed })
	waitFor(t, reg, failed, 1)
	if got := creations.value(t, reg); got != 2 {
		t.Errorf("creations after two requests = %v, want 2", got)
	}
	if got := provisionTime.value(t, reg); got != 1 {
		t.Errorf("a failure was observed as a time to provision (%v observations)", got)
	}
	if got := ready.value(t, reg); got != 1 {
		t.Errorf("provisions{outcome=ready} = %v after a failure, want 1", got)
	}
}

// series names one time series of a registry: a counter's value or a
// histogram's sample count, 0 while it has not been observed.
type series struct {
	name   string
	labels map[string]string
}

func (s series) value(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != s.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !s.matches(m.GetLabel()) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func (s series) matches(labels []*dto.LabelPair) bool {
	found := 0
	for _, lp := range labels {
		if v, ok := s.labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(s.labels)
}

// waitFor waits until a series reaches want; it fails after a deadline
// generous enough for a loaded machine, never on a short timing.
func waitFor(t *testing.T, reg *prometheus.Registry, s series, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.value(t, reg)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", s.name, s.labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
