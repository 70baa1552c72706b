package deploy_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ruleFile is a Prometheus rule file (rule_files:).
type ruleFile struct {
	Groups []ruleGroup `json:"groups"`
}

// ruleGroup is a group of rules, the same in a rule file and in a
// PrometheusRule's spec.
type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

// rule is an alerting or recording rule.
type rule struct {
	Alert         string            `json:"alert,omitempty"`
	Record        string            `json:"record,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// prometheusRule is the Prometheus Operator's PrometheusRule.
type prometheusRule struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            ruleFile          `json:"spec"`
}

// promtoolTests is a promtool unit test file.
type promtoolTests struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval,omitempty"`
	GroupEvalOrder     []string `json:"group_eval_order,omitempty"`
	Tests              []struct {
		Name        string `json:"name,omitempty"`
		Interval    string `json:"interval,omitempty"`
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels,omitempty"`
				ExpAnnotations map[string]string `json:"exp_annotations,omitempty"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test,omitempty"`
		PromqlExprTest []struct {
			Expr       string `json:"expr"`
			EvalTime   string `json:"eval_time"`
			ExpSamples []struct {
				Labels string  `json:"labels"`
				Value  float64 `json:"value"`
			} `json:"exp_samples"`
		} `json:"promql_expr_test,omitempty"`
	} `json:"tests"`
}

// requiredAlerts are the alerts issue 7 asks for, by what they watch.
var requiredAlerts = map[string]string{
	"IdpProvisioningFailureRateHigh": "idpbot_provisions_total",
	"IdpProvisioningStuck":           "idpbot_oldest_resource_in_state_seconds",
	"IdpApprovalPendingTooLong":      "idpbot_oldest_resource_in_state_seconds",
	"IdpJobQueueBacklog":             "idpbot_job_queue_depth",
	"IdpJobQueueStalled":             "idpbot_job_oldest_pending_seconds",
	"IdpChatAPIErrors":               "idpbot_chat_api_calls_total",
	"IdpNotificationDeliveryBacklog": "idpbot_job_oldest_pending_seconds",
	"IdpNPSDrop":                     "idp_net_promoter_score",
	"IdpbotDown":                     "up",
	"IdpResourcesDrifted":            "idp_resources_drifted",
}

// testedAlerts must have a promtool test in which they fire.
var testedAlerts = []string{
	"IdpProvisioningFailureRateHigh", "IdpProvisioningStuck", "IdpJobQueueBacklog", "IdpNPSDrop",
	"IdpNotificationDeliveryBacklog", "IdpResourcesDrifted",
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	decodeYAML(t, "prometheus/rules.yaml", &rf)
	return rf
}

func TestPrometheusRuleMatchesRuleFile(t *testing.T) {
	t.Parallel()
	var pr prometheusRule
	decodeYAML(t, "prometheus/alerts.yaml", &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Errorf("alerts.yaml is %s %s, want monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	if pr.Metadata.Name == "" {
		t.Error("alerts.yaml: metadata.name is empty")
	}
	rf := loadRules(t)
	if len(rf.Groups) == 0 {
		t.Fatal("rules.yaml has no groups")
	}
	if diff := cmp.Diff(rf.Groups, pr.Spec.Groups); diff != "" {
		t.Errorf("alerts.yaml spec.groups differ from rules.yaml groups (-rules.yaml +alerts.yaml):\n%s", diff)
	}
	var kust struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	decodeYAML(t, "prometheus/kustomization.yaml", &kust)
	if !slices.Contains(kust.Resources, "alerts.yaml") {
		t.Errorf("prometheus/kustomization.yaml resources = %q, want alerts.yaml among them", kust.Resources)
	}
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	rf := loadRules(t)
	records := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	runbook := runbookSections(t)
	alerts := map[string]rule{}
	groups := map[string]bool{}
	for _, g := range rf.Groups {
		if groups[g.Name] {
			t.Errorf("group %s appears twice", g.Name)
		}
		groups[g.Name] = true
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("group %s: a rule must have exactly one of alert and record: %+v", g.Name, r)
				continue
			}
			if r.Record != "" {
				checkQuery(t.Errorf, "record "+r.Record, r.Expr, records)
				continue
			}
			where := "alert " + r.Alert
			if _, dup := alerts[r.Alert]; dup {
				t.Errorf("%s is defined twice", where)
			}
			alerts[r.Alert] = r
			q := checkQuery(t.Errorf, where, r.Expr, records)
			for _, sel := range q.Selectors {
				if records[sel.Metric] {
					continue
				}
				if !slices.Contains(sel.Matchers, matcher{"job", "=", scrapeJob}) {
					t.Errorf("%s: %s{…} lacks job=%q: every selector names the scrape job", where, sel.Metric, scrapeJob)
				}
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: annotation %s is empty", where, a)
				}
			}
			if _, ok := r.Annotations["runbook"]; ok {
				t.Errorf("%s: annotation runbook: the convention is runbook_url, a link to RUNBOOK.md", where)
			}
			checkRunbook(t, where, r.Alert, r.Annotations["runbook_url"], runbook)
		}
	}
	for name, m := range requiredAlerts {
		r, ok := alerts[name]
		if !ok {
			t.Errorf("alert %s is missing", name)
			continue
		}
		q, _ := parseQuery(r.Expr)
		if !slices.ContainsFunc(q.Selectors, func(s selector) bool { return s.Metric == m }) {
			t.Errorf("alert %s does not watch %s: %s", name, m, r.Expr)
		}
	}
	// The thresholds issue 7 names.
	for name, want := range map[string]string{
		"IdpProvisioningFailureRateHigh": "> 0.1",
		"IdpProvisioningStuck":           `state="provisioning"}) > 1800`,
		"IdpApprovalPendingTooLong":      `state="awaiting_approval"}) > 86400`,
		"IdpJobQueueBacklog":             "> 100",
		"IdpJobQueueStalled":             "> 600",
		"IdpChatAPIErrors":               `status=~"5..|429|error"`,
		"IdpNPSDrop":                     "[14d])) < -10",
		"IdpbotDown":                     `absent(up{job="idpbot"})`,
	} {
		if r, ok := alerts[name]; ok && !strings.Contains(r.Expr, want) {
			t.Errorf("alert %s: expr %q does not contain %q", name, r.Expr, want)
		}
	}
	for name, want := range map[string]string{"IdpJobQueueBacklog": "10m", "IdpProvisioningFailureRateHigh": "5m"} {
		if r, ok := alerts[name]; ok && r.For != want {
			t.Errorf("alert %s: for = %q, want %q", name, r.For, want)
		}
	}
}

func TestPromtoolUnitTests(t *testing.T) {
	t.Parallel()
	var pt promtoolTests
	decodeYAML(t, "prometheus/rules_test.yaml", &pt)
	if diff := cmp.Diff([]string{"rules.yaml"}, pt.RuleFiles); diff != "" {
		t.Errorf("rules_test.yaml rule_files mismatch (-want +got):\n%s", diff)
	}
	rf := loadRules(t)
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts[r.Alert] = true
			}
		}
	}
	fires := map[string]bool{}
	for _, tc := range pt.Tests {
		for _, in := range tc.InputSeries {
			q := checkQuery(t.Errorf, fmt.Sprintf("test %q: input series", tc.Name), in.Series, nil)
			if len(q.Selectors) != 1 {
				t.Errorf("test %q: input series %q is not one series", tc.Name, in.Series)
			}
		}
		for _, at := range tc.AlertRuleTest {
			if !alerts[at.Alertname] {
				t.Errorf("test %q: alert %s is not in rules.yaml", tc.Name, at.Alertname)
			}
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			}
		}
	}
	for _, name := range testedAlerts {
		if !fires[name] {
			t.Errorf("rules_test.yaml has no test in which %s fires", name)
		}
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	out := runPromtool(t, "prometheus", "check", "rules", "rules.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules rules.yaml:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	out := runPromtool(t, "prometheus", "test", "rules", "rules_test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules rules_test.yaml:\n%s", out)
	}
}

// checkExprsWithPromtool has promtool parse PromQL expressions by writing
// them as recording rules of a temporary rule file.
func checkExprsWithPromtool(t *testing.T, exprs map[string]string) {
	t.Helper()
	names := slices.Sorted(maps.Keys(exprs))
	g := ruleGroup{Name: "exprs"}
	for _, n := range names {
		g.Rules = append(g.Rules, rule{Record: n, Expr: exprs[n]})
	}
	b, err := yaml.Marshal(ruleFile{Groups: []ruleGroup{g}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "exprs.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "exprs.yaml")
}
