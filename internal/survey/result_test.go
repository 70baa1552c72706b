package survey_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/idpbot/idpbot/internal/survey"
)

func TestScore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		responses []int
		want      survey.Result
		display   string
	}{
		{"no responses", nil, survey.Result{}, "0"},
		{"empty", []int{}, survey.Result{}, "0"},
		{"one promoter", []int{10}, survey.Result{Promoters: 1, Responses: 1, NPS: 100}, "+100"},
		{"one detractor", []int{0}, survey.Result{Detractors: 1, Responses: 1, NPS: -100}, "-100"},
		{"one passive", []int{7}, survey.Result{Passives: 1, Responses: 1, NPS: 0}, "0"},
		{"all passives", []int{7, 8, 8, 7}, survey.Result{Passives: 4, Responses: 4}, "0"},
		{"all detractors", []int{0, 3, 6, 6}, survey.Result{Detractors: 4, Responses: 4, NPS: -100}, "-100"},
		{"all promoters", []int{9, 10}, survey.Result{Promoters: 2, Responses: 2, NPS: 100}, "+100"},
		{"tie promoters and detractors", []int{10, 0, 9, 6}, survey.Result{Promoters: 2, Detractors: 2, Responses: 4}, "0"},
		{"tie with passives", []int{9, 6, 7}, survey.Result{Promoters: 1, Passives: 1, Detractors: 1, Responses: 3}, "0"},
		{"group boundaries", []int{6, 7, 8, 9}, survey.Result{Promoters: 1, Passives: 2, Detractors: 1, Responses: 4}, "0"},
		{"a third rounds down", []int{9, 7, 8}, survey.Result{Promoters: 1, Passives: 2, Responses: 3, NPS: 100.0 / 3}, "+33"},
		{"two thirds rounds up", []int{9, 10, 8}, survey.Result{Promoters: 2, Passives: 1, Responses: 3, NPS: 200.0 / 3}, "+67"},
		{"half rounds away from zero", []int{10, 7, 7, 7, 7, 7, 7, 7}, survey.Result{Promoters: 1, Passives: 7, Responses: 8, NPS: 12.5}, "+13"},
		{"negative half rounds away from zero", []int{1, 7, 7, 7, 7, 7, 7, 7}, survey.Result{Detractors: 1, Passives: 7, Responses: 8, NPS: -12.5}, "-13"},
		{"a hundred answers", append(append([]int{9, 0, 0}, repeat(7, 50)...), repeat(8, 47)...),
			survey.Result{Promoters: 1, Passives: 97, Detractors: 2, Responses: 100, NPS: -1}, "-1"},
		{"out of range ignored", []int{-1, 11, 100, 10}, survey.Result{Promoters: 1, Responses: 1, NPS: 100}, "+100"},
	}
	for _, tt := range tests {
		got := survey.Score(tt.responses)
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("%s: Score(%v) mismatch (-want +got):\n%s", tt.name, tt.responses, diff)
		}
		if d := survey.FormatNPS(got.NPS); d != tt.display {
			t.Errorf("%s: FormatNPS(%v) = %q, want %q", tt.name, got.NPS, d, tt.display)
		}
		if got.HasScore() != (tt.want.Responses > 0) {
			t.Errorf("%s: HasScore() = %v with %d responses", tt.name, got.HasScore(), got.Responses)
		}
		if sum := got.Promoters + got.Passives + got.Detractors; sum != got.Responses {
			t.Errorf("%s: groups sum to %d, responses %d", tt.name, sum, got.Responses)
		}
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestFormatNPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {-0.4, "0"}, {0.49, "0"}, {0.5, "+1"}, {-0.5, "-1"},
		{33.333, "+33"}, {-66.67, "-67"}, {100, "+100"}, {-100, "-100"},
	}
	for _, tt := range tests {
		if got := survey.FormatNPS(tt.in); got != tt.want {
			t.Errorf("FormatNPS(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResponseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, members int
		want       float64
		ok         bool
	}{
		{0, 0, 0, false},
		{5, 0, 0, false},
		{5, -3, 0, false},
		{0, 10, 0, true},
		{1, 3, 100.0 / 3, true},
		{10, 40, 25, true},
		{40, 40, 100, true},
		{41, 40, 100, true}, // people who left after answering
	}
	for _, tt := range tests {
		got, ok := survey.ResponseRate(tt.n, tt.members)
		if ok != tt.ok || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ResponseRate(%d, %d) = %v, %v; want %v, %v", tt.n, tt.members, got, ok, tt.want, tt.ok)
		}
	}
	r := survey.Score([]int{9, 9, 3})
	r.Members = 12
	if got, ok := r.ResponseRate(); !ok || got != 25 {
		t.Errorf("Result.ResponseRate() = %v, %v; want 25, true", got, ok)
	}
}

func TestChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cur, prev []int
		want      float64
		ok        bool
		arrow     string
	}{
		{"up", []int{10, 10, 7}, []int{10, 7, 7}, 200.0/3 - 100.0/3, true, "↑"},
		{"down", []int{0}, []int{10}, -200, true, "↓"},
		{"same", []int{10, 0}, []int{9, 7, 7, 6}, 0, true, "→"},
		{"less than half a point shows as none", []int{10, 7, 7}, append(repeat(9, 33), repeat(7, 67)...), 100.0/3 - 33, true, "→"},
		{"half a point shows as a change", append(repeat(9, 67), repeat(7, 133)...), append(repeat(9, 33), repeat(7, 67)...), 0.5, true, "↑"},
		{"no previous answers", []int{10}, nil, 0, false, "→"},
		{"no current answers", nil, []int{10}, 0, false, "→"},
		{"neither", nil, nil, 0, false, "→"},
	}
	for _, tt := range tests {
		cur, prev := survey.Score(tt.cur), survey.Score(tt.prev)
		got, ok := cur.Change(prev)
		if ok != tt.ok || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: Change = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
		if a := survey.Arrow(got); a != tt.arrow {
			t.Errorf("%s: Arrow(%v) = %q, want %q", tt.name, got, a, tt.arrow)
		}
	}
}

func TestActionID(t *testing.T) {
	t.Parallel()
	for _, score := range []int{0, 5, 10} {
		id, got, ok := survey.ParseActionID(survey.ActionID(42, score))
		if !ok || id != 42 || got != score {
			t.Errorf("ParseActionID(ActionID(42, %d)) = %d, %d, %v", score, id, got, ok)
		}
	}
	for _, bad := range []string{"", "nps:", "nps:42", "nps:42:11", "nps:42:-1", "nps:0:5", "nps:x:5", "nps:42:05", "create:42:5", "nps:42:5:1"} {
		if id, score, ok := survey.ParseActionID(bad); ok {
			t.Errorf("ParseActionID(%q) = %d, %d, true; want not ok", bad, id, score)
		}
	}
}
