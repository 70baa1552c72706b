package schedule_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/schedule"
)

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		want string
	}{
		{"", `schedule nps_survey: the cron spec is empty`},
		{"   ", `schedule nps_survey: the cron spec is empty`},
		{"every monday", `schedule nps_survey: invalid cron spec "every monday"`},
		{"0 10 * *", `schedule nps_survey: invalid cron spec "0 10 * *"`},
		{"61 10 * * *", `schedule nps_survey: invalid cron spec "61 10 * * *"`},
		{"CRON_TZ=Mars/Olympus 0 10 * * *", `schedule nps_survey: invalid cron spec "CRON_TZ=Mars/Olympus 0 10 * * *"`},
		{"0 0 31 2 *", `schedule nps_survey: cron spec "0 0 31 2 *" never fires`},
		{"CRON_TZ=Europe/Paris 0 0 30 2 *", `schedule nps_survey: cron spec "CRON_TZ=Europe/Paris 0 0 30 2 *" never fires`},
		{"0 0 31 4,6,9,11 *", `schedule nps_survey: cron spec "0 0 31 4,6,9,11 *" never fires`},
	}
	for _, tt := range tests {
		s, err := schedule.Parse("nps_survey", tt.spec)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want error starting %q", tt.spec, s, err, tt.want)
		}
	}
}

func TestParseNext(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	runs := func(spec string, from time.Time, n int) []time.Time {
		t.Helper()
		s, err := schedule.Parse("test", spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		var out []time.Time
		for range n {
			from = s.Next(from)
			out = append(out, from.UTC())
		}
		return out
	}
	tests := []struct {
		spec string
		from string
		want []string
	}{
		// The default survey schedule: 10:00 UTC on the first three days
		// of each quarter (the job skips weekends and done quarters).
		{"CRON_TZ=UTC 0 10 1-3 1,4,7,10 *", "2025-12-15T00:00:00Z", []string{
			"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z", "2026-04-01T10:00:00Z"}},
		// The default digest schedule: Mondays 09:00 UTC.
		{"CRON_TZ=UTC 0 9 * * 1", "2026-01-01T00:00:00Z", []string{
			"2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z"}},
		// CRON_TZ: 09:00 in Paris is 08:00 UTC in winter, 07:00 in summer.
		{"CRON_TZ=Europe/Paris 0 9 * * 1", "2026-03-20T00:00:00Z", []string{
			"2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z"}},
		// 29 February fires, if rarely.
		{"0 0 29 2 *", "2026-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
	}
	for _, tt := range tests {
		var want []time.Time
		for _, w := range tt.want {
			want = append(want, utc(w))
		}
		if diff := cmp.Diff(want, runs(tt.spec, utc(tt.from), len(want))); diff != "" {
			t.Errorf("runs of %q mismatch (-want +got):\n%s", tt.spec, diff)
		}
	}
}

func TestCronSlot(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, _ := time.Parse(time.RFC3339Nano, s)
		return v
	}
	cronSched := schedule.MustParse("digest", "CRON_TZ=UTC 0 9 * * 1")
	every := schedule.MustParse("test", "@every 2s")
	tests := []struct {
		s    *schedule.Cron
		now  string
		want string
	}{
		{cronSched, "2026-01-05T09:00:00.003Z", "2026-01-05T09:00:00Z"}, // on time
		{cronSched, "2026-01-05T08:59:59.9Z", "2026-01-05T09:00:00Z"},   // River's 100 ms head start
		{cronSched, "2026-01-05T09:00:42Z", "2026-01-05T09:00:00Z"},     // late
		{every, "2026-01-05T09:00:03.05Z", "2026-01-05T09:00:03Z"},      // on time
		{every, "2026-01-05T09:00:02.95Z", "2026-01-05T09:00:03Z"},      // early
		{every, "2026-01-05T11:00:02.95+02:00", "2026-01-05T09:00:03Z"}, // any zone
	}
	for _, tt := range tests {
		if got := tt.s.Slot(at(tt.now)); !got.Equal(at(tt.want)) || got.Location() != time.UTC {
			t.Errorf("%s.Slot(%s) = %s, want %s", tt.s, tt.now, got, tt.want)
		}
	}
	if cronSched.Period() != time.Minute || every.Period() != time.Second {
		t.Errorf("periods = %s, %s; want 1m, 1s", cronSched.Period(), every.Period())
	}
}
