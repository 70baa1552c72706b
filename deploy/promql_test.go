package deploy_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// selector is one vector selector of a PromQL expression.
type selector struct {
	Metric   string
	Matchers []matcher
}

// matcher is one label matcher of a selector.
type matcher struct {
	Label, Op, Value string
}

// query is what the checks need to know of a PromQL expression: its vector
// selectors and the labels of its by/without/on/ignoring/group_* clauses.
type query struct {
	Selectors []selector
	Grouping  []string
}

// notMetrics are identifiers that are PromQL keywords or aggregation
// operators, never metric names (functions are recognised by their "(").
var notMetrics = []string{
	"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2",
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
	"bottomk", "topk", "quantile", "limitk", "limit_ratio",
}

// groupingKeywords take a parenthesised list of label names.
var groupingKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}

// parseQuery extracts the vector selectors and grouping labels of a PromQL
// expression. It is a lexer, not a parser: enough to find every metric name
// and label an alert, test or panel refers to. Grafana variables ($name,
// ${name}) are skipped.
func parseQuery(expr string) (query, error) {
	var q query
	s := expr
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			_, n, err := readString(s[i:])
			if err != nil {
				return q, fmt.Errorf("%q: %w", expr, err)
			}
			i += n
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return q, fmt.Errorf("%q: unclosed [", expr)
			}
			i += end + 1
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return q, fmt.Errorf("%q: unclosed ${", expr)
				}
				i += end + 1
			} else {
				for i < len(s) && isIdent(s[i]) {
					i++
				}
			}
		case c == '{':
			_, n, err := readMatchers(s[i:])
			if err != nil {
				return q, fmt.Errorf("%q: %w", expr, err)
			}
			return q, fmt.Errorf("%q: selector %s has no metric name", expr, s[i:i+n])
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			// A number or a duration (5m, 1e3, 0x1f): never a name.
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdent(s[i]) {
				i++
			}
			name := s[start:i]
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
				j++
			}
			next := byte(0)
			if j < len(s) {
				next = s[j]
			}
			switch {
			case slices.Contains(groupingKeywords, name):
				if next != '(' {
					continue // group_left without a list
				}
				end := strings.IndexByte(s[j:], ')')
				if end < 0 {
					return q, fmt.Errorf("%q: unclosed %s (", expr, name)
				}
				for _, l := range strings.Split(s[j+1:j+end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						q.Grouping = append(q.Grouping, l)
					}
				}
				i = j + end + 1
			case slices.Contains(notMetrics, name), next == '(':
				// keyword, aggregation or function
			default:
				sel := selector{Metric: name}
				if next == '{' {
					ms, n, err := readMatchers(s[j:])
					if err != nil {
						return q, fmt.Errorf("%q: %w", expr, err)
					}
					sel.Matchers = ms
					i = j + n
				}
				q.Selectors = append(q.Selectors, sel)
			}
		default:
			i++
		}
	}
	return q, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// readString reads the quoted string at the start of s and returns its value
// and length.
func readString(s string) (string, int, error) {
	quote := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			lit := s[:i+1]
			if quote == '\'' {
				lit = `"` + strings.ReplaceAll(s[1:i], `"`, `\"`) + `"`
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return "", 0, fmt.Errorf("bad string %s: %w", s[:i+1], err)
			}
			return v, i + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unclosed string %s", s)
}

// readMatchers reads the {label op "value", ...} at the start of s.
func readMatchers(s string) ([]matcher, int, error) {
	var out []matcher
	i := 1
	for {
		for i < len(s) && strings.IndexByte(" \t\n\r,", s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unclosed {")
		}
		if s[i] == '}' {
			return out, i + 1, nil
		}
		start := i
		for i < len(s) && isIdent(s[i]) {
			i++
		}
		m := matcher{Label: s[start:i]}
		if m.Label == "" {
			return nil, 0, fmt.Errorf("label name expected at %q", s[i:])
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		for _, op := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s[i:], op) {
				m.Op = op
				i += len(op)
				break
			}
		}
		if m.Op == "" {
			return nil, 0, fmt.Errorf("matcher operator expected after %s", m.Label)
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) || strings.IndexByte("\"'`", s[i]) < 0 {
			return nil, 0, fmt.Errorf("quoted value expected after %s%s", m.Label, m.Op)
		}
		v, n, err := readString(s[i:])
		if err != nil {
			return nil, 0, err
		}
		m.Value = v
		i += n
		out = append(out, m)
	}
}

// checkQuery reports every metric, label and label value of expr that the
// bot does not export. Names defined by recording rules (records) count as
// known, with any labels.
func checkQuery(errorf func(string, ...any), where, expr string, records map[string]bool) query {
	q, err := parseQuery(expr)
	if err != nil {
		errorf("%s: %v", where, err)
		return q
	}
	if len(q.Selectors) == 0 {
		errorf("%s: %q selects no metric", where, expr)
	}
	labels := slices.Clone(targetLabels)
	for _, sel := range q.Selectors {
		if records[sel.Metric] {
			for _, m := range sel.Matchers {
				labels = append(labels, m.Label)
			}
			continue
		}
		m, base, suffix, ok := lookupMetric(sel.Metric)
		if !ok {
			errorf("%s: metric %s is not one the bot exports (see knownMetrics)", where, sel.Metric)
			continue
		}
		allowed := append(slices.Clone(targetLabels), m.labels...)
		if suffix == "_bucket" {
			allowed = append(allowed, "le")
		}
		labels = append(labels, allowed...)
		for _, mt := range sel.Matchers {
			if !slices.Contains(allowed, mt.Label) {
				errorf("%s: %s has no label %q (labels: %s)", where, base, mt.Label, strings.Join(m.labels, ", "))
				continue
			}
			vals := m.values[mt.Label]
			if vals == nil || strings.Contains(mt.Value, "$") {
				continue
			}
			for _, v := range literalAlternatives(mt) {
				if !slices.Contains(vals, v) {
					errorf("%s: %s{%s%s%q}: %q is not a value of %s (values: %s)", where, base, mt.Label, mt.Op, mt.Value, v, mt.Label, strings.Join(vals, ", "))
				}
			}
		}
	}
	for _, l := range q.Grouping {
		if !slices.Contains(labels, l) && l != "le" {
			errorf("%s: groups by %q, a label none of its metrics has", where, l)
		}
	}
	return q
}

// lookupMetric finds the exported metric a series name belongs to: the name
// itself, or a histogram's _bucket, _sum or _count series.
func lookupMetric(name string) (m metric, base, suffix string, ok bool) {
	if m, ok := knownMetrics[name]; ok && m.kind != histogram {
		return m, name, "", true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if m, ok := knownMetrics[base]; found && ok && m.kind == histogram {
			return m, base, suffix, true
		}
	}
	return metric{}, "", "", false
}

var plainAlternatives = regexp.MustCompile(`^[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*$`)

// literalAlternatives returns the values a matcher names literally: the
// value of = and !=, and the alternatives of a regexp made only of literal
// alternatives (a|b). Other regexps name none.
func literalAlternatives(m matcher) []string {
	switch m.Op {
	case "=", "!=":
		return []string{m.Value}
	}
	if plainAlternatives.MatchString(m.Value) {
		return strings.Split(m.Value, "|")
	}
	return nil
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want query
	}{
		{
			expr: `up{job="idpbot"} == 0`,
			want: query{Selectors: []selector{{Metric: "up", Matchers: []matcher{{"job", "=", "idpbot"}}}}},
		},
		{
			expr: `absent(up{job="idpbot"}) or max by (job) (up{job="idpbot"}) == 0`,
			want: query{
				Selectors: []selector{
					{Metric: "up", Matchers: []matcher{{"job", "=", "idpbot"}}},
					{Metric: "up", Matchers: []matcher{{"job", "=", "idpbot"}}},
				},
				Grouping: []string{"job"},
			},
		},
		{
			expr: "histogram_quantile(0.9, sum by (service_type, le) (rate(idp_provision_time_seconds_bucket{job=\"$job\", service_type=~\"$service_type\"}[$__rate_interval])))",
			want: query{
				Selectors: []selector{{Metric: "idp_provision_time_seconds_bucket", Matchers: []matcher{
					{"job", "=", "$job"}, {"service_type", "=~", "$service_type"},
				}}},
				Grouping: []string{"service_type", "le"},
			},
		},
		{
			expr: "sum(rate(a_total{x!~'y|z', w!=`v`}[5m] offset 1h)) without(instance) / ignoring(q) group_left b * 1e3 + c:rec",
			want: query{
				Selectors: []selector{
					{Metric: "a_total", Matchers: []matcher{{"x", "!~", "y|z"}, {"w", "!=", "v"}}},
					{Metric: "b"},
					{Metric: "c:rec"},
				},
				Grouping: []string{"instance", "q"},
			},
		},
		{
			expr: `delta(idp_net_promoter_score{job="idpbot"}[100d]) < -10 and on() vector(1) > bool 0.5`,
			want: query{
				Selectors: []selector{{Metric: "idp_net_promoter_score", Matchers: []matcher{{"job", "=", "idpbot"}}}},
			},
		},
	}
	for _, tt := range tests {
		got, err := parseQuery(tt.expr)
		if err != nil {
			t.Errorf("parseQuery(%q): %v", tt.expr, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseQuery(%q) mismatch (-want +got):\n%s", tt.expr, diff)
		}
	}
	for _, bad := range []string{`{job="x"}`, `up{job="x"`, `up{job=x}`, `rate(up[5m`, `up{job="x}`} {
		if got, err := parseQuery(bad); err == nil {
			t.Errorf("parseQuery(%q) = %+v, want an error", bad, got)
		}
	}
}

// TestCheckQuery proves the metric checks catch what they are for: unknown
// metrics, labels, label values and grouping labels.
func TestCheckQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		records map[string]bool
		bad     bool
	}{
		{expr: `sum by (service_type) (rate(idpbot_provisions_total{outcome="failed"}[5m]))`},
		{expr: `histogram_quantile(0.5, sum by (le) (rate(idp_provision_time_seconds_bucket[5m])))`},
		{expr: `idpbot_resources{state=~"provisioning|awaiting_approval"}`},
		{expr: `sum(rate(idp_provision_time_seconds_count[5m]))`},
		{expr: `x:rate5m{anything="1"} > 0`, records: map[string]bool{"x:rate5m": true}},
		{expr: `idp_provision_time_seconds`, bad: true},                           // a histogram is only its series
		{expr: `idpbot_provision_total`, bad: true},                               // misspelt
		{expr: `idpbot_provisions_total{result="failed"}`, bad: true},             // no such label
		{expr: `idpbot_provisions_total{outcome="error"}`, bad: true},             // no such value
		{expr: `idpbot_resources{state=~"provisioning|stuck"}`, bad: true},        // no such value
		{expr: `idpbot_resources{state!="gone"}`, bad: true},                      // no such value
		{expr: `sum by (services) (idpbot_provisions_total)`, bad: true},          // no such label
		{expr: `idpbot_job_queue_depth{le="1"}`, bad: true},                       // le only on buckets
		{expr: `rate(idpbot_commands_total{outcome="$outcome"}[5m])`, bad: false}, // variables are not checked
	}
	for _, tt := range tests {
		var errs []string
		errorf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
		checkQuery(errorf, "test", tt.expr, tt.records)
		if failed := len(errs) > 0; failed != tt.bad {
			t.Errorf("checkQuery(%q) reported %q, want a problem: %v", tt.expr, errs, tt.bad)
		}
	}
}
