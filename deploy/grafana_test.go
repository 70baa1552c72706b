package deploy_test

import (
	"encoding/json"
	"fmt"
	"image"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard model the checks read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *datasource `json:"datasource"`
	GridPos     struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"gridPos"`
	Targets []struct {
		RefID        string      `json:"refId"`
		Expr         string      `json:"expr"`
		LegendFormat string      `json:"legendFormat"`
		Datasource   *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

// requiredPanels are the views issue 7 asks for: a panel title fragment and
// the series its query must read.
var requiredPanels = []struct{ title, series, contains string }{
	{"Creations by service", "idp_resource_creations_total", "by (service_type)"},
	{"Time to provision", "idp_provision_time_seconds_bucket", "histogram_quantile(0.5,"},
	{"Time to provision", "idp_provision_time_seconds_bucket", "histogram_quantile(0.9,"},
	{"Provisioning failures", "idpbot_provisions_total", `outcome="failed"`},
	{"Requests by state", "idpbot_resources", "by (state)"},
	{"Job queue depth", "idpbot_job_queue_depth", "by (queue)"},
	{"Oldest pending job", "idpbot_job_oldest_pending_seconds", "by (queue)"},
	{"Acknowledgement latency p99", "idpbot_ack_duration_seconds_bucket", "histogram_quantile(0.99,"},
	{"Command outcomes", "idpbot_commands_total", "outcome"},
	{"Self-service rate", "idp_self_service_rate", ""},
	{"Net promoter score", "idp_net_promoter_score", ""},
	{"Chat API calls", "idpbot_chat_api_calls_total", "by (platform, status)"},
	{"Chat rate limits", "idpbot_chat_rate_limited_total", ""},
	{"Support tickets", "idp_support_tickets_total", "by (category)"},
}

var (
	labelValuesQuery = regexp.MustCompile(`^label_values\((?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	legendLabel      = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	grafanaVariable  = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)
)

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, "grafana/idpbot.json"), &d); err != nil {
		t.Fatalf("grafana/idpbot.json: %v", err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion = %d, want at least 39", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both must be set", d.UID, d.Title)
	}

	vars := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	var hasDatasource bool
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		switch v.Type {
		case "datasource":
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil || q != "prometheus" {
				t.Errorf("variable %s: query %s, want \"prometheus\"", v.Name, v.Query)
			}
			hasDatasource = v.Name == "datasource"
		case "query":
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("variable %s: datasource %+v, want uid ${datasource}", v.Name, v.Datasource)
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
				continue
			}
			m := labelValuesQuery.FindStringSubmatch(q.Query)
			if m == nil || m[1] == "" {
				t.Errorf("variable %s: query %q, want label_values(<series>, <label>)", v.Name, q.Query)
				continue
			}
			checkQuery(t.Errorf, "variable "+v.Name, m[1], nil)
		}
	}
	if !hasDatasource {
		t.Error("no datasource variable named datasource of type prometheus")
	}

	ids := map[int]bool{}
	var boxes []image.Rectangle
	var targets int
	for _, p := range allPanels(d.Panels) {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("%s: id missing or repeated", where)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v is outside the 24-column grid", where, g)
		}
		box := image.Rect(g.X, g.Y, g.X+g.W, g.Y+g.H)
		for _, b := range boxes {
			if b.Overlaps(box) {
				t.Errorf("%s: gridPos %+v overlaps another panel", where, g)
			}
		}
		boxes = append(boxes, box)
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || p.Description == "" {
			t.Errorf("%s: title and description must be set", where)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource %+v, want uid ${datasource}", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", where)
		}
		for _, tg := range p.Targets {
			targets++
			q := checkQuery(t.Errorf, where, tg.Expr, nil)
			for _, m := range grafanaVariable.FindAllStringSubmatch(tg.Expr, -1) {
				if !vars[m[1]] {
					t.Errorf("%s: query uses $%s, which is not a dashboard variable", where, m[1])
				}
			}
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("%s: target datasource %+v, want uid ${datasource}", where, tg.Datasource)
			}
			// A legend names labels the query's result has.
			labels := slices.Clone(targetLabels)
			labels = append(labels, q.Grouping...)
			for _, sel := range q.Selectors {
				if m, _, _, ok := lookupMetric(sel.Metric); ok {
					labels = append(labels, m.labels...)
				}
			}
			for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
				if !slices.Contains(labels, m[1]) {
					t.Errorf("%s: legend {{%s}} is not a label of %s", where, m[1], tg.Expr)
				}
			}
		}
	}
	if targets == 0 {
		t.Fatal("the dashboard has no queries")
	}

	for _, rp := range requiredPanels {
		found := slices.ContainsFunc(allPanels(d.Panels), func(p panel) bool {
			if !strings.Contains(p.Title, rp.title) {
				return false
			}
			for _, tg := range p.Targets {
				if strings.Contains(tg.Expr, rp.series) && strings.Contains(tg.Expr, rp.contains) {
					return true
				}
			}
			return false
		})
		if !found {
			t.Errorf("no panel titled %q queries %s with %q", rp.title, rp.series, rp.contains)
		}
	}
}

// TestDashboardQueriesParse has promtool parse every panel query, with the
// Grafana variables replaced by values.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	promtool(t)
	d := loadDashboard(t)
	exprs := map[string]string{}
	replace := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			e := replace.Replace(tg.Expr)
			e = grafanaVariable.ReplaceAllString(e, ".*")
			exprs[fmt.Sprintf("dashboard:panel_%d_%s", p.ID, tg.RefID)] = e
		}
	}
	checkExprsWithPromtool(t, exprs)
}
