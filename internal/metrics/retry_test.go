package metrics_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// A retry counts in idp_retries_total under the operation that runs again.
func TestRetriesCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	f := platformtest.Engine(t, platformtest.WithObserver(m))
	ctx := context.Background()
	f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the script exited with status 1"), 1)
	r, _, err := f.Engine.Submit(ctx, platformtest.Bob, platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments", Environment: "development"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Engine.Provision(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	provisioning := series{name: "idp_retries_total", labels: map[string]string{"service_type": "database", "operation": "provisioning"}}
	if got := provisioning.value(t, reg); got != 0 {
		t.Errorf("retries before any = %v", got)
	}
	if _, err := f.Engine.Retry(ctx, platformtest.Bob, r.Ref()); err != nil {
		t.Fatal(err)
	}
	if got := provisioning.value(t, reg); got != 1 {
		t.Errorf("idp_retries_total{operation=provisioning} = %v after one retry, want 1", got)
	}
	if _, err := f.Engine.Retry(ctx, platformtest.Bob, r.Ref()); err == nil {
		t.Error("a second retry of a provisioning resource succeeded")
	}
	if got := provisioning.value(t, reg); got != 1 {
		t.Errorf("a refused retry was counted: %v", got)
	}
}
