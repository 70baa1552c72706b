package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func TestUpdatesCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	f := platformtest.Engine(t, platformtest.WithObserver(m), platformtest.WithJobs(1))
	ctx := context.Background()
	r, _, err := f.Engine.Submit(ctx, platformtest.Bob, platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments", Environment: "development"})
	if err != nil {
		t.Fatal(err)
	}
	isReady := func(s platform.State) bool { return s == platform.Ready }
	f.WaitState(r.ID, 10*time.Second, isReady)
	applied := series{name: "idp_resource_updates_total", labels: map[string]string{"service_type": "database", "result": "applied"}}
	failed := series{name: "idp_resource_updates_total", labels: map[string]string{"service_type": "database", "result": "failed"}}

	if _, _, err := f.Engine.Update(ctx, platformtest.Bob, "orders-db", map[string]any{"size": "medium"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reg, applied, 1)

	f.Driver.Fail(platformtest.OpUpdate, platformtest.Permanent("refused"), 1)
	if _, _, err := f.Engine.Update(ctx, platformtest.Bob, "orders-db", map[string]any{"size": "large"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reg, failed, 1)
	if got := applied.value(t, reg); got != 1 {
		t.Errorf("updates{result=applied} = %v after a failed one, want 1", got)
	}
	provFailed := series{name: "idpbot_provisions_total", labels: map[string]string{"service_type": "database", "outcome": "failed"}}
	if got := provFailed.value(t, reg); got != 0 {
		t.Errorf("a failed update counted as a failed provisioning (%v)", got)
	}
}
