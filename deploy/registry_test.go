package deploy_test

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/idpbot/idpbot/internal/metrics"
)

type noSource struct{}

func (noSource) Snapshot(context.Context) (metrics.Snapshot, error) { return metrics.Snapshot{}, nil }

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// TestKnownMetricsAreExported: every metric the alerts, rule tests and
// dashboard may use (knownMetrics) is registered by the bot's metrics
// package, with the same labels — so a renamed metric fails here, not in
// production.
func TestKnownMetricsAreExported(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.New(reg)
	metrics.NewDrift(reg, nil, nil)
	reg.MustRegister(metrics.NewDBCollector(noSource{}, nil, nil))

	ch := make(chan *prometheus.Desc, 512)
	go func() { reg.Describe(ch); close(ch) }()
	exported := map[string][]string{}
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		sort.Strings(labels)
		exported[m[1]] = labels
	}
	for name, km := range knownMetrics {
		if name == "up" { // Prometheus' own
			continue
		}
		got, ok := exported[name]
		if !ok {
			t.Errorf("%s is used by alerts or dashboards but the bot does not export it", name)
			continue
		}
		want := slices.Clone(km.labels)
		sort.Strings(want)
		if diff := cmp.Diff(want, got); diff != "" && !(len(want) == 0 && len(got) == 0) {
			t.Errorf("%s labels mismatch (-known +exported):\n%s", name, diff)
		}
	}
}
