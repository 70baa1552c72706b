package digest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/survey"
)

var (
	week     = digest.Period{From: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)}
	lastWeek = week.Previous()
)

func TestPeriod(t *testing.T) {
	t.Parallel()
	if got := digest.Last(week.To, 7*24*time.Hour); got != week {
		t.Errorf("Last = %+v, want %+v", got, week)
	}
	want := digest.Period{From: time.Date(2025, 12, 29, 9, 0, 0, 0, time.UTC), To: week.From}
	if lastWeek != want || lastWeek.Length() != week.Length() {
		t.Errorf("Previous = %+v, want %+v", lastWeek, want)
	}
}

func TestCompute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cur, prev digest.Data
		check     func(t *testing.T, d digest.Digest)
	}{
		{
			name: "nothing in either period",
			check: func(t *testing.T, d digest.Digest) {
				want := digest.Digest{
					Period: week, Previous: lastWeek,
					Requests:  digest.Change[int]{HasCur: true, HasPrev: true, Arrow: "→"},
					Ready:     digest.Change[int]{HasCur: true, HasPrev: true, Arrow: "→"},
					Failed:    digest.Change[int]{HasCur: true, HasPrev: true, Arrow: "→"},
					Approvals: digest.Change[int]{HasCur: true, HasPrev: true, Arrow: "→"},
					Active:    digest.Change[int]{HasCur: true, HasPrev: true, Arrow: "→"},
				}
				if diff := cmp.Diff(want, d); diff != "" {
					t.Errorf("mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "breakdowns join both periods, largest first",
			cur: digest.Data{Requests: 6, SelfService: 3,
				ByService: []digest.Count{{"pg", 4}, {"web", 2}},
				ByTeam:    []digest.Count{{"payments", 3}, {"platform", 3}}},
			prev: digest.Data{Requests: 5, SelfService: 5,
				ByService: []digest.Count{{"web", 2}, {"gateway", 2}, {"pg", 1}},
				ByTeam:    []digest.Count{{"search", 5}}},
			check: func(t *testing.T, d digest.Digest) {
				wantSvc := []digest.Row{{"pg", 4, 1, "↑"}, {"web", 2, 2, "→"}, {"gateway", 0, 2, "↓"}}
				if diff := cmp.Diff(wantSvc, d.ByService); diff != "" {
					t.Errorf("by service mismatch (-want +got):\n%s", diff)
				}
				// Ties on the current count: the previous one, then the name.
				wantTeam := []digest.Row{{"payments", 3, 0, "↑"}, {"platform", 3, 0, "↑"}, {"search", 0, 5, "↓"}}
				if diff := cmp.Diff(wantTeam, d.ByTeam); diff != "" {
					t.Errorf("by team mismatch (-want +got):\n%s", diff)
				}
				want := digest.Change[float64]{Cur: 50, Prev: 100, HasCur: true, HasPrev: true, Arrow: "↓"}
				if d.SelfServiceRate != want {
					t.Errorf("self-service = %+v, want %+v", d.SelfServiceRate, want)
				}
				if d.Requests.Arrow != "↑" || d.ByEnvironment != nil {
					t.Errorf("requests %+v, environments %+v", d.Requests, d.ByEnvironment)
				}
			},
		},
		{
			name: "rates equal once rounded have a flat arrow",
			cur:  digest.Data{Requests: 3, SelfService: 2},     // 66.7%
			prev: digest.Data{Requests: 200, SelfService: 133}, // 66.5%
			check: func(t *testing.T, d digest.Digest) {
				if d.SelfServiceRate.Arrow != "→" {
					t.Errorf("self-service = %+v, want →", d.SelfServiceRate)
				}
			},
		},
		{
			name: "no requests before: no rate to compare",
			cur:  digest.Data{Requests: 4, SelfService: 4},
			check: func(t *testing.T, d digest.Digest) {
				want := digest.Change[float64]{Cur: 100, HasCur: true}
				if d.SelfServiceRate != want {
					t.Errorf("self-service = %+v, want %+v", d.SelfServiceRate, want)
				}
			},
		},
		{
			name: "timings and approval wait",
			cur: digest.Data{Approvals: 2, ApprovalWaitP50: 3 * time.Hour,
				Provision: []digest.Timing{{"web", 1, 90 * time.Second, 90 * time.Second}, {"pg", 4, 30 * time.Second, 5 * time.Minute}}},
			prev: digest.Data{Approvals: 0, ApprovalWaitP50: 0,
				Provision: []digest.Timing{{"pg", 9, 30*time.Second + 200*time.Millisecond, 4 * time.Minute}, {"gateway", 1, time.Second, time.Second}}},
			check: func(t *testing.T, d digest.Digest) {
				dur := func(c, p time.Duration, hc, hp bool, arrow string) digest.Change[time.Duration] {
					return digest.Change[time.Duration]{Cur: c, Prev: p, HasCur: hc, HasPrev: hp, Arrow: arrow}
				}
				want := []digest.TimingRow{
					{Service: "gateway", P50: dur(0, time.Second, false, true, ""), P90: dur(0, time.Second, false, true, "")},
					// 30.2s shows as 30s: no change.
					{Service: "pg", N: 4, P50: dur(30*time.Second, 30*time.Second+200*time.Millisecond, true, true, "→"),
						P90: dur(5*time.Minute, 4*time.Minute, true, true, "↑")},
					{Service: "web", N: 1, P50: dur(90*time.Second, 0, true, false, ""), P90: dur(90*time.Second, 0, true, false, "")},
				}
				if diff := cmp.Diff(want, d.Provision); diff != "" {
					t.Errorf("provision mismatch (-want +got):\n%s", diff)
				}
				if w := dur(3*time.Hour, 0, true, false, ""); d.ApprovalWait != w {
					t.Errorf("approval wait = %+v, want %+v", d.ApprovalWait, w)
				}
			},
		},
		{
			name: "NPS, outcomes, active",
			cur: digest.Data{Ready: 10, Failed: 1, Active: 100, FailureReasons: []digest.Count{{"timeout", 1}},
				NPS: survey.Score([]int{10, 10, 7}), HasNPS: true, NPSAt: week.From},
			prev: digest.Data{Ready: 10, Failed: 3, Active: 120, NPS: survey.Score([]int{10, 7, 7}), HasNPS: true},
			check: func(t *testing.T, d digest.Digest) {
				if d.Ready.Arrow != "→" || d.Failed.Arrow != "↓" || d.Active.Arrow != "↓" || d.Active.Prev != 120 {
					t.Errorf("ready %+v failed %+v active %+v", d.Ready, d.Failed, d.Active)
				}
				if d.NPS.Arrow != "↑" || !d.NPS.HasCur || !d.NPS.HasPrev || d.NPSResult.Responses != 3 || d.NPSAt != week.From {
					t.Errorf("NPS = %+v, result %+v", d.NPS, d.NPSResult)
				}
				if diff := cmp.Diff([]digest.Count{{"timeout", 1}}, d.TopFailures); diff != "" {
					t.Errorf("failures mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "no survey before; a survey without answers has no score",
			cur:  digest.Data{NPS: survey.Score(nil), HasNPS: true},
			check: func(t *testing.T, d digest.Digest) {
				if d.NPS.HasCur || d.NPS.HasPrev || d.NPS.Arrow != "" {
					t.Errorf("NPS = %+v, want none", d.NPS)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cur.Period, tt.prev.Period = week, lastWeek
			tt.check(t, digest.Compute(tt.cur, tt.prev))
		})
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {400 * time.Millisecond, "0.4s"}, {4249 * time.Millisecond, "4.2s"}, {9960 * time.Millisecond, "10s"},
		{45 * time.Second, "45s"}, {59600 * time.Millisecond, "1m"}, {130 * time.Second, "2m10s"},
		{time.Hour + 29*time.Second, "1h"}, {3*time.Hour + 12*time.Minute, "3h12m"},
		{52 * time.Hour, "2d4h"}, {48*time.Hour + 20*time.Minute, "2d"},
	}
	for _, tt := range tests {
		if got := digest.FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"7d", 7 * 24 * time.Hour}, {"24h", 24 * time.Hour}, {"2W", 14 * 24 * time.Hour}, {" 30d ", 30 * 24 * time.Hour},
		{"366d", digest.MaxPeriod},
		{"0d", 0}, {"367d", 0}, {"7", 0}, {"7 days", 0}, {"-7d", 0}, {"1.5d", 0}, {"7d; DROP TABLE", 0}, {strings.Repeat("9", 1000) + "d", 0},
	}
	for _, tt := range tests {
		got, err := digest.ParsePeriod(tt.in)
		if tt.want == 0 {
			if platform.ErrorCode(err) != platform.Invalid || !strings.Contains(platform.ErrorMessage(err), "is not a period") {
				t.Errorf("ParsePeriod(%.20q) = %s, %v; want invalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := digest.Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	cur := digest.Data{Period: week, Requests: 1204, SelfService: 1084,
		ByService:     []digest.Count{{"postgresql-database", 800}, {"web-application", 404}},
		ByTeam:        []digest.Count{{"a", 7}, {"b", 6}, {"c", 5}, {"d", 4}, {"e", 3}, {"f", 2}, {"g", 1}},
		ByEnvironment: []digest.Count{{"development", 1200}, {"production", 4}},
		Ready:         1100, Failed: 12,
		FailureReasons: []digest.Count{{"timeout waiting for the database server to accept connections after 30 seconds of retrying", 9}, {"quota", 3}},
		Provision:      []digest.Timing{{"postgresql-database", 700, 45 * time.Second, 130 * time.Second}},
		Approvals:      4, ApprovalWaitP50: 3*time.Hour + 12*time.Minute,
		Active: 15020,
		NPS:    survey.Score([]int{10, 10, 9, 7, 3}), HasNPS: true, NPSAt: time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC),
	}
	prev := digest.Data{Period: lastWeek, Requests: 1000, SelfService: 850,
		ByService:     []digest.Count{{"postgresql-database", 1000}},
		ByEnvironment: []digest.Count{{"development", 1000}},
		Ready:         950, Failed: 50,
		Provision: []digest.Timing{{"postgresql-database", 900, 62 * time.Second, 180 * time.Second}},
		Active:    14000,
	}
	got := digest.Reply(digest.Compute(cur, prev)).Text()
	want := `Platform digest: 7 days to Mon 12 Jan 09:00 UTC

Compared with the 7 days before (29 Dec – 5 Jan).

Requests
  Total         1,204 ↑ (was 1,000)
  Self-service  90% ↑ (was 85%)

By service
  postgresql-database  800 ↓ (was 1,000)
  web-application      404 ↑ (was 0)

By team
  a         7 ↑ (was 0)
  b         6 ↑ (was 0)
  c         5 ↑ (was 0)
  d         4 ↑ (was 0)
  e         3 ↑ (was 0)
  2 others  3 ↑ (was 0)

By environment
  development  1,200 ↑ (was 1,000)
  production   4 ↑ (was 0)

Provisioning
  Ready   1,100 ↑ (was 950)
  Failed  12 ↓ (was 50)

Top failure reasons
  9× timeout waiting for the database server to accept connectio…
  3× quota

Time to provision (p50 / p90)
  postgresql-database  45s / 2m10s ↓ (was 1m02s / 3m)

Approvals
  Wait (p50)  3h12m
  Decisions   4 ↑ (was 0)

Resources
  Active  15,020 ↑ (was 14,000)

Satisfaction
  Latest survey closed Fri 9 Jan 10:00 UTC, 5 answers.
  NPS  +40
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reply mismatch (-want +got):\n%s", diff)
	}
	for _, l := range strings.Split(got, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d characters: %q", n, l)
		}
	}

	empty := digest.Reply(digest.Compute(digest.Data{Period: week}, digest.Data{Period: lastWeek})).Text()
	for _, s := range []string{"Total         0 → (was 0)", "Self-service  –", "Wait (p50)  –", "NPS  –"} {
		if !strings.Contains(empty, s) {
			t.Errorf("empty digest lacks %q:\n%s", s, empty)
		}
	}
}
