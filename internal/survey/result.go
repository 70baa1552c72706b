package survey

import (
	"fmt"
	"math"
)

// Result is the outcome of a survey: how many answered in each NPS group and
// the score. Promoters answered 9–10, passives 7–8, detractors 0–6.
type Result struct {
	Promoters  int
	Passives   int
	Detractors int
	// Responses is the number of people who answered: the sum of the groups.
	Responses int
	// NPS is % promoters − % detractors, from −100 to 100, unrounded; 0 when
	// nobody answered (see HasScore).
	NPS float64
	// Members is how many people could have answered (the channel's members
	// when the survey closed); 0 when unknown.
	Members int
}

// Score returns the Result of a list of answers (0–10). Values outside 0–10
// are not answers and are ignored.
func Score(responses []int) Result {
	var p, pa, d int
	for _, s := range responses {
		switch {
		case s < 0 || s > 10:
		case s >= 9:
			p++
		case s >= 7:
			pa++
		default:
			d++
		}
	}
	return FromCounts(p, pa, d)
}

// FromCounts returns the Result of the given number of promoters, passives
// and detractors.
func FromCounts(promoters, passives, detractors int) Result {
	r := Result{Promoters: promoters, Passives: passives, Detractors: detractors}
	r.Responses = promoters + passives + detractors
	if r.Responses > 0 {
		r.NPS = float64(100*(promoters-detractors)) / float64(r.Responses)
	}
	return r
}

// HasScore reports whether anybody answered: without answers there is no
// score.
func (r Result) HasScore() bool { return r.Responses > 0 }

// ResponseRate returns the percentage of Members who answered, and false
// when the number of members is unknown.
func (r Result) ResponseRate() (float64, bool) { return ResponseRate(r.Responses, r.Members) }

// ResponseRate returns n as a percentage of members, at most 100 (people
// who left the channel after answering still count as answers), and false
// when members is unknown (0 or less).
func ResponseRate(n, members int) (float64, bool) {
	if members <= 0 {
		return 0, false
	}
	return min(100, 100*float64(n)/float64(members)), true
}

// Change returns how many points the score moved since previous, and false
// when either survey has no score to compare.
func (r Result) Change(previous Result) (float64, bool) {
	if !r.HasScore() || !previous.HasScore() {
		return 0, false
	}
	return r.NPS - previous.NPS, true
}

// Percent returns n as a percentage of the responses (0 without any).
func (r Result) Percent(n int) float64 {
	if r.Responses == 0 {
		return 0
	}
	return 100 * float64(n) / float64(r.Responses)
}

// FormatNPS renders a score as people read it: a whole number with its sign,
// "+33", "-13", "0". Halves round away from zero.
func FormatNPS(nps float64) string {
	v := math.Round(nps)
	if v == 0 {
		return "0" // also turns -0 into 0
	}
	return fmt.Sprintf("%+.0f", v)
}

// Arrow shows the direction of a change as displayed: ↑ when it rounds to
// a positive whole number, ↓ when to a negative one, → otherwise.
func Arrow(delta float64) string {
	switch v := math.Round(delta); {
	case v > 0:
		return "↑"
	case v < 0:
		return "↓"
	}
	return "→"
}
