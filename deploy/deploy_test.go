package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/platform"
)

// metricKind is how a metric is exported.
type metricKind int

const (
	counter metricKind = iota
	gauge
	histogram
)

// metric is one exported metric: its kind, its labels and, for bounded
// labels whose values the artifacts name, the values it may take.
type metric struct {
	kind   metricKind
	labels []string
	values map[string][]string
}

// states are the lifecycle states, the values of every state label of a
// resource metric.
var states = func() []string {
	var out []string
	for _, s := range platform.States {
		out = append(out, string(s))
	}
	return out
}()

// knownMetrics are the metrics the alerts, promtool tests and dashboard may
// use. The metrics package (internal/metrics) must export exactly these
// names and labels: a test there is to assert this list against the real
// registry, so an alert or panel can never watch a metric that does not
// exist.
var knownMetrics = map[string]metric{
	// The original design's platform metrics.
	"idp_resource_creations_total":     {kind: counter, labels: []string{"service_type", "team", "environment"}},
	"idp_provision_time_seconds":       {kind: histogram, labels: []string{"service_type"}},
	"idp_self_service_rate":            {kind: gauge},
	"idp_net_promoter_score":           {kind: gauge},
	"idp_net_promoter_score_responses": {kind: gauge},
	"idp_support_tickets_total":        {kind: counter, labels: []string{"category"}},

	// The bot's own.
	"idpbot_provisions_total": {kind: counter, labels: []string{"service_type", "outcome"},
		values: map[string][]string{"outcome": {"ready", "failed"}}},
	"idpbot_resources": {kind: gauge, labels: []string{"state"},
		values: map[string][]string{"state": states}},
	"idpbot_oldest_resource_in_state_seconds": {kind: gauge, labels: []string{"state"},
		values: map[string][]string{"state": {string(platform.Provisioning), string(platform.AwaitingApproval)}}},
	"idpbot_commands_total":           {kind: counter, labels: []string{"platform", "verb", "outcome"}},
	"idpbot_command_duration_seconds": {kind: histogram, labels: []string{"platform", "verb"}},
	"idpbot_ack_duration_seconds":     {kind: histogram, labels: []string{"platform", "kind"}},
	"idpbot_errors_total":             {kind: counter, labels: []string{"platform", "code"}},
	"idpbot_jobs_total": {kind: counter, labels: []string{"kind", "outcome"},
		values: map[string][]string{"outcome": {"completed", "retried", "failed", "cancelled"}}},
	"idpbot_job_duration_seconds":               {kind: histogram, labels: []string{"kind"}},
	"idpbot_job_queue_depth":                    {kind: gauge, labels: []string{"queue"}},
	"idpbot_job_oldest_pending_seconds":         {kind: gauge, labels: []string{"queue"}},
	"idpbot_chat_api_calls_total":               {kind: counter, labels: []string{"platform", "method", "status"}},
	"idpbot_chat_rate_limited_total":            {kind: counter, labels: []string{"platform"}},
	"idpbot_chat_rate_limit_wait_seconds_total": {kind: counter, labels: []string{"platform"}},
	"idp_resources_drifted":                     {kind: gauge, labels: []string{"service_type", "environment"}},
	"idpbot_drift_checks_total": {kind: counter, labels: []string{"result"},
		values: map[string][]string{"result": {"healthy", "drifted", "unreachable", "not_available", "error"}}},
	"idpbot_db_pool_connections": {kind: gauge, labels: []string{"state"},
		values: map[string][]string{"state": {"acquired", "idle", "total", "max"}}},

	// Standard Go and process collectors, and Prometheus' own up.
	"go_goroutines":                 {kind: gauge},
	"go_memstats_heap_inuse_bytes":  {kind: gauge},
	"process_resident_memory_bytes": {kind: gauge},
	"process_cpu_seconds_total":     {kind: counter},
	"up":                            {kind: gauge},
}

// targetLabels are attached by Prometheus (and the Prometheus Operator) to
// every scraped series.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

// knownEnv are the environment variables the bot reads (DESIGN.md §6 and
// issue 7), plus the Go runtime's and libpq's that the manifests set.
var knownEnv = []string{
	"DATABASE_URL", "IDPBOT_HTTP_ADDR", "IDPBOT_CONFIG", "IDPBOT_CATALOG_DIR",
	"IDPBOT_SECRET_KEY", "IDPBOT_LOG_FORMAT", "IDPBOT_LOG_LEVEL",
	"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
	"DISCORD_BOT_TOKEN", "DISCORD_APP_ID", "DISCORD_PUBLIC_KEY", "DISCORD_API_URL",
	"GOMEMLIMIT", "PGPASSFILE", "PGPASSWORD",
}

// The contract between the image, the manifests and the code.
const (
	httpPort    = 8080
	imageRepo   = "ghcr.io/idpbot/idpbot"
	nonrootUID  = 65532
	secretName  = "idpbot"
	scrapeJob   = "idpbot"
	configPath  = "/etc/idpbot/config.yaml"
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
	metricsPath = "/metrics"
)

// readFile returns the content of a file of the repository, path relative
// to deploy/.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeYAML decodes a single-document YAML file strictly: unknown or
// duplicate fields are errors, so a misspelt field cannot go unnoticed.
func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b := readFile(t, path)
	if bytes.HasPrefix(b, []byte("---")) || bytes.Contains(b, []byte("\n---")) {
		t.Fatalf("%s: more than one YAML document; keep one object per file", path)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// promtool returns the path of promtool. Without it the test fails when CI
// is set (CI installs Debian's prometheus package) and is skipped otherwise.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not on PATH and CI is set: install it with apt-get install -y --no-install-recommends prometheus")
		}
		t.Skip("promtool is not on PATH (apt-get install -y --no-install-recommends prometheus); CI requires it")
	}
	return p
}

// runPromtool runs promtool with args in dir and fails the test with its
// output when it exits non-zero.
func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkEnvNames reports environment variable names that are not known.
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	for _, n := range names {
		if !slices.Contains(knownEnv, n) {
			t.Errorf("%s sets %s, which the bot does not read (known: %s)", where, n, strings.Join(knownEnv, ", "))
		}
	}
}
