package digest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/survey"
)

// MaxRows is how many lines of a breakdown Reply shows; the rest are
// summed up in one line.
const MaxRows = 6

// Reply renders a digest for a chat: short labelled lines that read on a
// phone, each value with its arrow and the previous period's value.
func Reply(d Digest) commands.Reply {
	r := commands.Reply{
		Title: fmt.Sprintf("Platform digest: %s to %s", FormatLength(d.Period.Length()), formatDate(d.Period.To)),
	}
	add := func(s commands.Section) { r.Sections = append(r.Sections, s) }
	add(commands.Section{Text: fmt.Sprintf("Compared with the %s before (%s).", FormatLength(d.Previous.Length()), formatRange(d.Previous))})

	requests := []commands.KV{
		{Key: "Total", Value: intValue(d.Requests)},
		{Key: "Self-service", Value: floatValue(d.SelfServiceRate, percent)},
	}
	add(commands.Section{Heading: "Requests", Fields: requests})
	if len(d.ByService) > 0 {
		add(commands.Section{Heading: "By service", Fields: rowFields(d.ByService)})
	}
	if len(d.ByTeam) > 0 {
		add(commands.Section{Heading: "By team", Fields: rowFields(d.ByTeam)})
	}
	if len(d.ByEnvironment) > 0 {
		add(commands.Section{Heading: "By environment", Fields: rowFields(d.ByEnvironment)})
	}

	add(commands.Section{Heading: "Provisioning", Fields: []commands.KV{
		{Key: "Ready", Value: intValue(d.Ready)},
		{Key: "Failed", Value: intValue(d.Failed)},
	}})
	if len(d.TopFailures) > 0 {
		var lines []string
		for _, f := range d.TopFailures {
			lines = append(lines, fmt.Sprintf("%d× %s", f.N, shorten(f.Key, 60)))
		}
		add(commands.Section{Heading: "Top failure reasons", Text: strings.Join(lines, "\n")})
	}

	if len(d.Provision) > 0 {
		var fields []commands.KV
		for _, t := range d.Provision {
			fields = append(fields, commands.KV{Key: t.Service, Value: timingValue(t)})
		}
		add(commands.Section{Heading: "Time to provision (p50 / p90)", Fields: fields})
	}
	add(commands.Section{Heading: "Approvals", Fields: []commands.KV{
		{Key: "Wait (p50)", Value: durationValue(d.ApprovalWait)},
		{Key: "Decisions", Value: intValue(d.Approvals)},
	}})
	add(commands.Section{Heading: "Resources", Fields: []commands.KV{{Key: "Active", Value: intValue(d.Active)}}})

	nps := commands.Section{Heading: "Satisfaction", Fields: []commands.KV{{Key: "NPS", Value: floatValue(d.NPS, survey.FormatNPS)}}}
	if d.NPS.HasCur {
		nps.Text = fmt.Sprintf("Latest survey closed %s, %d answers.", formatDate(d.NPSAt), d.NPSResult.Responses)
	}
	add(nps)
	return r
}

// rowFields renders a breakdown, at most MaxRows lines.
func rowFields(rows []Row) []commands.KV {
	var out []commands.KV
	for i, row := range rows {
		if i == MaxRows-1 && len(rows) > MaxRows {
			var cur, prev int
			for _, rest := range rows[i:] {
				cur, prev = cur+rest.Cur, prev+rest.Prev
			}
			out = append(out, commands.KV{Key: fmt.Sprintf("%d others", len(rows)-i), Value: intValue(ints(cur, prev))})
			break
		}
		out = append(out, commands.KV{Key: shorten(row.Key, 24), Value: intValue(Change[int]{Cur: row.Cur, Prev: row.Prev, HasCur: true, HasPrev: true, Arrow: row.Arrow})})
	}
	return out
}

func intValue(c Change[int]) string {
	return fmt.Sprintf("%s %s (was %s)", Thousands(c.Cur), c.Arrow, Thousands(c.Prev))
}

func floatValue(c Change[float64], format func(float64) string) string {
	switch {
	case !c.HasCur && !c.HasPrev:
		return "–"
	case !c.HasCur:
		return fmt.Sprintf("– (was %s)", format(c.Prev))
	case !c.HasPrev:
		return format(c.Cur)
	}
	return fmt.Sprintf("%s %s (was %s)", format(c.Cur), c.Arrow, format(c.Prev))
}

func durationValue(c Change[time.Duration]) string {
	switch {
	case !c.HasCur && !c.HasPrev:
		return "–"
	case !c.HasCur:
		return fmt.Sprintf("– (was %s)", FormatDuration(c.Prev))
	case !c.HasPrev:
		return FormatDuration(c.Cur)
	}
	return fmt.Sprintf("%s %s (was %s)", FormatDuration(c.Cur), c.Arrow, FormatDuration(c.Prev))
}

// timingValue renders "45s / 2m10s ↓ (was 1m02s / 3m)": the arrow is the
// median's.
func timingValue(t TimingRow) string {
	dur := func(d time.Duration, ok bool) string {
		if !ok {
			return "–"
		}
		return FormatDuration(d)
	}
	v := dur(t.P50.Cur, t.P50.HasCur) + " / " + dur(t.P90.Cur, t.P90.HasCur)
	if t.P50.HasPrev {
		if t.P50.Arrow != "" {
			v += " " + t.P50.Arrow
		}
		v += fmt.Sprintf(" (was %s / %s)", FormatDuration(t.P50.Prev), FormatDuration(t.P90.Prev))
	}
	return v
}

func percent(p float64) string { return fmt.Sprintf("%.0f%%", math.Round(p)) }

// displayed rounds d to the precision FormatDuration shows it at, so that
// arrows follow what people read.
func displayed(d time.Duration) time.Duration {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d < time.Hour:
		return d.Round(time.Second)
	case d < 24*time.Hour:
		return d.Round(time.Minute)
	}
	return d.Round(time.Hour)
}

// FormatDuration renders a duration briefly: "0.4s", "45s", "2m10s",
// "3h12m", "2d4h".
func FormatDuration(d time.Duration) string {
	d = displayed(d)
	switch {
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, s)
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// FormatLength renders a period's length: "7 days", "1 day", "12 hours".
func FormatLength(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	if d%time.Hour == 0 {
		n := int(d / time.Hour)
		if n == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", n)
	}
	return d.String()
}

func formatDate(t time.Time) string { return t.Format("Mon 2 Jan 15:04 MST") }

func formatRange(p Period) string {
	return p.From.Format("2 Jan") + " – " + p.To.Format("2 Jan")
}

// Thousands renders n with thousands separators: 1,234,567.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shorten cuts s to n characters.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
