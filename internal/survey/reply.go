package survey

import (
	"fmt"
	"math"
	"time"

	"github.com/idpbot/idpbot/internal/commands"
)

// FormatTime renders a date for a chat message, short enough for a phone:
// "Tue 9 Jan 10:00 UTC".
func FormatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2 Jan 15:04 MST")
}

// SurveyReply renders a survey as posted in its channel: the question, the
// scale, the closing date and how to answer by command. Adapters add the
// 0–10 buttons (ActionID gives their ids).
func SurveyReply(s Survey, loc *time.Location) commands.Reply {
	return commands.Reply{
		Title: Question,
		Sections: []commands.Section{
			{Text: "0 = not at all likely\n10 = extremely likely"},
			{Fields: []commands.KV{
				{Key: "Closes", Value: FormatTime(s.ClosesAt, loc)},
				{Key: "Survey", Value: s.Ref()},
			}},
			{Text: "One answer per person; you can change it until the survey closes.\nOr answer with: /idp nps <0-10> [comment]"},
		},
	}
}

// ResultReply renders a survey's result: the score and its change since
// prev (the channel's previous result, may be nil), the size of each group
// and the response rate. For an open survey it is the result so far.
func ResultReply(s Survey, prev *Result, loc *time.Location) commands.Reply {
	r := s.Result
	var title string
	switch {
	case s.ClosedAt.IsZero() && !r.HasScore():
		title = fmt.Sprintf("Survey %s: no answers yet", s.Ref())
	case s.ClosedAt.IsZero():
		title = fmt.Sprintf("Survey %s so far: NPS %s", s.Ref(), FormatNPS(r.NPS))
	case !r.HasScore():
		title = fmt.Sprintf("Survey %s closed with no answers", s.Ref())
	default:
		title = fmt.Sprintf("Survey %s closed: NPS %s", s.Ref(), FormatNPS(r.NPS))
	}
	reply := commands.Reply{Title: title}
	var fields []commands.KV
	if r.HasScore() {
		score := FormatNPS(r.NPS)
		if prev != nil {
			if _, ok := r.Change(*prev); ok {
				// The arrow follows the numbers shown.
				d := math.Round(r.NPS) - math.Round(prev.NPS)
				score = fmt.Sprintf("%s %s (was %s)", score, Arrow(d), FormatNPS(prev.NPS))
			}
		}
		fields = append(fields,
			commands.KV{Key: "NPS", Value: score},
			commands.KV{Key: "Promoters", Value: groupValue(r, r.Promoters, "9–10")},
			commands.KV{Key: "Passives", Value: groupValue(r, r.Passives, "7–8")},
			commands.KV{Key: "Detractors", Value: groupValue(r, r.Detractors, "0–6")},
		)
	}
	responses := fmt.Sprint(r.Responses)
	if rate, ok := r.ResponseRate(); ok {
		responses = fmt.Sprintf("%d of %d (%s)", r.Responses, r.Members, percent(rate))
	}
	fields = append(fields, commands.KV{Key: "Responses", Value: responses})
	if s.ClosedAt.IsZero() {
		fields = append(fields, commands.KV{Key: "Closes", Value: FormatTime(s.ClosesAt, loc)})
	}
	reply.Sections = []commands.Section{{Fields: fields}}
	reply.Sections = append(reply.Sections, commands.Section{
		Text: "NPS = % promoters (9–10) − % detractors (0–6), from −100 to +100."})
	return reply
}

func groupValue(r Result, n int, scores string) string {
	return fmt.Sprintf("%d (%s) · %s", n, percent(r.Percent(n)), scores)
}

// percent renders a percentage as a whole number: "25%".
func percent(p float64) string { return fmt.Sprintf("%.0f%%", math.Round(p)) }

// CommentsReply renders a closed survey's comments for the platform team,
// each with its score and without who wrote it.
func CommentsReply(s Survey, comments []Comment) commands.Reply {
	reply := commands.Reply{Title: fmt.Sprintf("Comments on survey %s (%d)", s.Ref(), len(comments))}
	for _, c := range comments {
		reply.Sections = append(reply.Sections, commands.Section{Heading: fmt.Sprintf("Score %d", c.Score), Text: c.Text})
	}
	if len(comments) == 0 {
		reply.Sections = []commands.Section{{Text: "Nobody left a comment."}}
	}
	return reply
}
