// Package digest builds idpbot's usage digest: for a period (by default the
// last 7 days) against the one before it, requests by service, team and
// environment, ready versus failed with the top failure reasons, time to
// provision per service, approval wait, self-service rate, active
// resources and the latest NPS, each with its change. Load aggregates the
// numbers in PostgreSQL, Compute (pure) compares two periods, Reply renders
// the result for the chat adapters; a River periodic job posts it on a
// cron schedule and Commands answers "/idp digest now".
package digest

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/idpbot/idpbot/internal/survey"
)

// Period is the half-open time range [From, To).
type Period struct {
	From, To time.Time
}

// Last returns the period of length d that ends at to.
func Last(to time.Time, d time.Duration) Period { return Period{From: to.Add(-d), To: to} }

// Length returns how long the period is.
func (p Period) Length() time.Duration { return p.To.Sub(p.From) }

// Previous returns the period of the same length just before p.
func (p Period) Previous() Period { return Period{From: p.From.Add(-p.Length()), To: p.From} }

// Count is how many of something there were, by name.
type Count struct {
	Key string
	N   int
}

// Timing is the time to provision (request to ready) of one service's
// resources that became ready in a period. The percentiles are exact
// (PostgreSQL's percentile_cont over every resource, interpolated).
type Timing struct {
	Service  string
	N        int
	P50, P90 time.Duration
}

// Data is one period's usage, aggregated by Load.
type Data struct {
	Period Period
	// Requests is the number of requests made in the period; SelfService
	// how many of them the requester's own team made (not an admin on a
	// team's behalf).
	Requests    int
	SelfService int
	// ByService, ByTeam and ByEnvironment split Requests, most first.
	ByService, ByTeam, ByEnvironment []Count
	// Ready and Failed are provisioning outcomes in the period.
	Ready, Failed int
	// FailureReasons are the most frequent reasons of Failed (at most
	// TopReasons), most first.
	FailureReasons []Count
	// Provision is the time to provision per service, by service name.
	Provision []Timing
	// Approvals is the number of approval decisions (approved or rejected)
	// in the period; ApprovalWaitP50 the median time they took.
	Approvals       int
	ApprovalWaitP50 time.Duration
	// Active is the number of resources ready at the end of the period.
	Active int
	// NPS is the latest survey round's result closed before the end of the
	// period (HasNPS false when there is none), closed at NPSAt.
	NPS    survey.Result
	HasNPS bool
	NPSAt  time.Time
}

// TopReasons is how many failure reasons Load keeps.
const TopReasons = 3

// Change is a value of the period and of the one before, with the arrow of
// its direction. Has* are false when a period has no value (no requests,
// no survey, nothing provisioned); Arrow is "" unless both have one.
type Change[T int | float64 | time.Duration] struct {
	Cur, Prev       T
	HasCur, HasPrev bool
	// Arrow is ↑, ↓ or → as the value rose, fell or stayed the same at the
	// precision it is shown.
	Arrow string
}

// Row is one line of a breakdown: a service, team or environment.
type Row struct {
	Key       string
	Cur, Prev int
	Arrow     string
}

// TimingRow compares one service's time to provision.
type TimingRow struct {
	Service  string
	N        int
	P50, P90 Change[time.Duration]
}

// Digest compares a period's usage with the one before.
type Digest struct {
	Period, Previous Period
	Requests         Change[int]
	// SelfServiceRate is the percentage of requests made self-service.
	SelfServiceRate                  Change[float64]
	ByService, ByTeam, ByEnvironment []Row
	Ready, Failed                    Change[int]
	// TopFailures are the period's most frequent failure reasons.
	TopFailures []Count
	Provision   []TimingRow
	// ApprovalWait is the median approval wait; Approvals the decisions.
	ApprovalWait Change[time.Duration]
	Approvals    Change[int]
	Active       Change[int]
	// NPS is the latest survey score at the end of each period.
	NPS Change[float64]
	// NPSResult is the current period's latest survey result.
	NPSResult survey.Result
	NPSAt     time.Time
}

// Compute compares cur with prev. It is pure: the numbers come from Load
// (or fixtures), aggregated.
func Compute(cur, prev Data) Digest {
	d := Digest{
		Period:        cur.Period,
		Previous:      prev.Period,
		Requests:      ints(cur.Requests, prev.Requests),
		ByService:     rows(cur.ByService, prev.ByService),
		ByTeam:        rows(cur.ByTeam, prev.ByTeam),
		ByEnvironment: rows(cur.ByEnvironment, prev.ByEnvironment),
		Ready:         ints(cur.Ready, prev.Ready),
		Failed:        ints(cur.Failed, prev.Failed),
		TopFailures:   slices.Clone(cur.FailureReasons),
		Approvals:     ints(cur.Approvals, prev.Approvals),
		Active:        ints(cur.Active, prev.Active),
		NPSAt:         cur.NPSAt,
	}
	d.SelfServiceRate = floats(rate(cur.SelfService, cur.Requests), cur.Requests > 0,
		rate(prev.SelfService, prev.Requests), prev.Requests > 0)
	d.ApprovalWait = durations(cur.ApprovalWaitP50, cur.Approvals > 0, prev.ApprovalWaitP50, prev.Approvals > 0)
	if cur.HasNPS {
		d.NPSResult = cur.NPS
	}
	d.NPS = floats(cur.NPS.NPS, cur.HasNPS && cur.NPS.HasScore(), prev.NPS.NPS, prev.HasNPS && prev.NPS.HasScore())
	d.Provision = timings(cur.Provision, prev.Provision)
	return d
}

func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func arrow[T int | time.Duration](cur, prev T) string {
	switch {
	case cur > prev:
		return "↑"
	case cur < prev:
		return "↓"
	}
	return "→"
}

func ints(cur, prev int) Change[int] {
	return Change[int]{Cur: cur, Prev: prev, HasCur: true, HasPrev: true, Arrow: arrow(cur, prev)}
}

// floats compares percentages and scores, shown as whole numbers.
func floats(cur float64, hasCur bool, prev float64, hasPrev bool) Change[float64] {
	c := Change[float64]{HasCur: hasCur, HasPrev: hasPrev}
	if hasCur {
		c.Cur = cur
	}
	if hasPrev {
		c.Prev = prev
	}
	if hasCur && hasPrev {
		c.Arrow = survey.Arrow(math.Round(cur) - math.Round(prev))
	}
	return c
}

// durations compares durations at the precision FormatDuration shows.
func durations(cur time.Duration, hasCur bool, prev time.Duration, hasPrev bool) Change[time.Duration] {
	c := Change[time.Duration]{HasCur: hasCur, HasPrev: hasPrev}
	if hasCur {
		c.Cur = cur
	}
	if hasPrev {
		c.Prev = prev
	}
	if hasCur && hasPrev {
		c.Arrow = arrow(displayed(cur), displayed(prev))
	}
	return c
}

// rows joins two breakdowns: every key of either, the current period's
// largest first.
func rows(cur, prev []Count) []Row {
	idx := map[string]int{}
	var out []Row
	for _, c := range cur {
		idx[c.Key] = len(out)
		out = append(out, Row{Key: c.Key, Cur: c.N})
	}
	for _, p := range prev {
		i, ok := idx[p.Key]
		if !ok {
			i = len(out)
			idx[p.Key] = i
			out = append(out, Row{Key: p.Key})
		}
		out[i].Prev = p.N
	}
	for i := range out {
		out[i].Arrow = arrow(out[i].Cur, out[i].Prev)
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Cur, a.Cur), cmp.Compare(b.Prev, a.Prev), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// timings joins two periods' times to provision, by service name.
func timings(cur, prev []Timing) []TimingRow {
	byService := map[string]*TimingRow{}
	var names []string
	row := func(name string) *TimingRow {
		r, ok := byService[name]
		if !ok {
			r = &TimingRow{Service: name}
			byService[name] = r
			names = append(names, name)
		}
		return r
	}
	for _, t := range cur {
		r := row(t.Service)
		r.N = t.N
		r.P50.Cur, r.P50.HasCur = t.P50, true
		r.P90.Cur, r.P90.HasCur = t.P90, true
	}
	for _, t := range prev {
		r := row(t.Service)
		r.P50.Prev, r.P50.HasPrev = t.P50, true
		r.P90.Prev, r.P90.HasPrev = t.P90, true
	}
	slices.Sort(names)
	var out []TimingRow
	for _, n := range names {
		r := *byService[n]
		r.P50 = durations(r.P50.Cur, r.P50.HasCur, r.P50.Prev, r.P50.HasPrev)
		r.P90 = durations(r.P90.Cur, r.P90.HasCur, r.P90.Prev, r.P90.HasPrev)
		out = append(out, r)
	}
	return out
}
