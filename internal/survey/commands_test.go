package survey_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/survey"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

var (
	admin = platform.Actor{ID: "slack:UADMIN", Name: "Ada"}
	dev   = platform.Actor{ID: "slack:UDEV", Name: "Dev"}
)

func newCommands(f *fixture) *survey.Commands {
	return survey.NewCommands(f.svc, f.ins, &platform.Org{Admins: []string{admin.ID}}, nil)
}

func slackReq(a platform.Actor, channel string) commands.Request {
	return commands.Request{Actor: a, Platform: "slack", Channel: channel}
}

func TestSurveyCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := newCommands(f)
	ctx := context.Background()
	tests := []struct {
		actor platform.Actor
		args  string
		title string
		code  platform.Code
	}{
		{dev, "start", "Only platform admins can start surveys or see their results.", platform.Forbidden},
		{dev, "results", "Only platform admins can start surveys or see their results.", platform.Forbidden},
		{admin, "", "Usage: /idp survey start [channel] | survey results [#id]", platform.Invalid},
		{admin, "strat", `Unknown survey command "strat". Did you mean start? Usage: /idp survey start [channel] | survey results [#id]`, platform.Invalid},
		{admin, "results", "There has been no survey on slack yet. Start one with /idp survey start.", platform.NotFound},
		{admin, "results #x", `"#x" is not a survey: give its number, e.g. #12.`, platform.Invalid},
		{admin, "results 99", "There is no survey #99.", platform.NotFound},
		{admin, "start <#C9|general>", "Survey #1 posted in C9. It closes Mon 12 Jan 10:00 UTC.", ""},
		{admin, "start #C9", "Survey #1 is still open in C9; it closes Mon 12 Jan 10:00 UTC.", platform.Conflict},
		{admin, "start a;b", `"a;b" is not a channel: give its id or #name.`, platform.Invalid},
		{admin, "start C1 C2", "Usage: /idp survey start [channel]", platform.Invalid},
		{admin, "start", "Survey posted in 2 of 2 channels.", ""},
		{admin, "start", "Survey posted in 0 of 2 channels.", ""},
		{admin, "results", "Survey #3: no answers yet", ""},
		{admin, "results #1", "Survey #1: no answers yet", ""},
	}
	for _, tt := range tests {
		r := c.Survey(ctx, slackReq(tt.actor, "CHERE"), strings.Fields(tt.args))
		if r.Title != tt.title || platform.ErrorCode(r.Err) != tt.code {
			t.Errorf("survey %s by %s = %q (%v), want %q (%s)", tt.args, tt.actor.Name, r.Title, r.Err, tt.title, tt.code)
		}
	}
	if got := len(f.rec.of("survey")); got != 3 {
		t.Errorf("%d surveys posted, want 3", got)
	}
}

func TestSurveyStartInCurrentChannel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *survey.Config) { c.Channels = nil })
	c := newCommands(f)
	r := c.Survey(context.Background(), slackReq(admin, "CHERE"), []string{"start"})
	if r.Err != nil || r.Title != "Survey #1 posted in CHERE. It closes Mon 12 Jan 10:00 UTC." {
		t.Errorf("survey start without channels configured = %q, %v", r.Title, r.Err)
	}
	r = c.Survey(context.Background(), commands.Request{Actor: admin, Platform: "slack"}, []string{"start"})
	if r.Title != "Which channel? Give one: /idp survey start <channel>." {
		t.Errorf("survey start nowhere = %q", r.Title)
	}
}

func TestNPSCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := newCommands(f)
	ctx := context.Background()
	if r := c.NPS(ctx, slackReq(dev, "C1"), []string{"9"}); r.Title != "There is no open survey right now." {
		t.Errorf("nps without a survey = %q", r.Title)
	}
	sv := f.start(t, "C1")
	tests := []struct {
		args  string
		title string
		text  string
		code  platform.Code
	}{
		{"", "Give a score from 0 to 10, e.g. /idp nps 9 great self-service.", "", platform.Invalid},
		{"eleven", `"eleven" is not a score: give a whole number from 0 to 10, e.g. /idp nps 9 great self-service.`, "", platform.Invalid},
		{"11", `"11" is not a score: give a whole number from 0 to 10, e.g. /idp nps 9 great self-service.`, "", platform.Invalid},
		{"7", "Thanks! You answered 7 to survey #1.",
			"You can change it until Mon 12 Jan 10:00 UTC.\nWant to say why? Add a comment: /idp nps 7 <comment>", ""},
		{"9/10 the new catalog is great", "Thanks! You changed your answer to survey #1 from 7 to 9.",
			"You can change it until Mon 12 Jan 10:00 UTC.\nYour comment was saved; only the platform team reads it.", ""},
	}
	for _, tt := range tests {
		r := c.NPS(ctx, slackReq(dev, "C1"), strings.Fields(tt.args))
		if r.Title != tt.title || platform.ErrorCode(r.Err) != tt.code || !r.Ephemeral {
			t.Errorf("nps %s = %q (%v, ephemeral %v), want %q (%s)", tt.args, r.Title, r.Err, r.Ephemeral, tt.title, tt.code)
		}
		if tt.text != "" && (len(r.Sections) != 1 || r.Sections[0].Text != tt.text) {
			t.Errorf("nps %s sections = %+v, want %q", tt.args, r.Sections, tt.text)
		}
	}
	// A button click and the comment form.
	f.clock.Advance(time.Minute)
	if r := c.Answer(ctx, admin, sv.ID, 3); r.Err != nil || r.Title != "Thanks! You answered 3 to survey #1." {
		t.Errorf("Answer = %q, %v", r.Title, r.Err)
	}
	if r := c.Comment(ctx, admin, sv.ID, "slow approvals"); r.Err != nil || r.Title != "Thanks for your comment! Only the platform team reads it." {
		t.Errorf("Comment = %q, %v", r.Title, r.Err)
	}
	comments, _ := f.svc.Store().Comments(ctx, sv.ID)
	var got []string
	for _, cm := range comments {
		got = append(got, cm.Text)
	}
	if diff := cmp.Diff([]string{"the new catalog is great", "slow approvals"}, got); diff != "" {
		t.Errorf("comments mismatch (-want +got):\n%s", diff)
	}
	f.clock.Advance(8 * 24 * time.Hour)
	if r := c.Answer(ctx, dev, sv.ID, 10); r.Title != "Sorry, this survey is closed." || platform.ErrorCode(r.Err) != platform.Conflict {
		t.Errorf("Answer after closing = %q, %v", r.Title, r.Err)
	}
	// An internal error shows a reference, never its text.
	f.pool.Close()
	r := c.Answer(ctx, dev, sv.ID, 10)
	if !strings.HasPrefix(r.Title, "Something went wrong (ref: ") || r.ErrRef == "" || strings.Contains(r.Title, "closed pool") {
		t.Errorf("Answer with the database gone = %q", r.Title)
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	closes := time.Date(2026, 1, 12, 10, 0, 0, 0, time.UTC)
	sv := survey.Survey{ID: 12, Channel: "C1", ClosesAt: closes}
	got := survey.SurveyReply(sv, nil).Text()
	want := `How likely are you to recommend the platform to a colleague?

0 = not at all likely
10 = extremely likely

Closes  Mon 12 Jan 10:00 UTC
Survey  #12

One answer per person; you can change it until the survey closes.
Or answer with: /idp nps <0-10> [comment]
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SurveyReply mismatch (-want +got):\n%s", diff)
	}

	sv.ClosedAt = closes
	sv.Result = survey.Score([]int{10, 9, 9, 8, 3})
	sv.Result.Members = 20
	prev := survey.Score([]int{10, 3})
	got = survey.ResultReply(sv, &prev, nil).Text()
	want = `Survey #12 closed: NPS +40

NPS         +40 ↑ (was 0)
Promoters   3 (60%) · 9–10
Passives    1 (20%) · 7–8
Detractors  1 (20%) · 0–6
Responses   5 of 20 (25%)

NPS = % promoters (9–10) − % detractors (0–6), from −100 to +100.
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResultReply mismatch (-want +got):\n%s", diff)
	}
	for _, line := range strings.Split(got, "\n") {
		if len([]rune(line)) > 70 {
			t.Errorf("line too long for a phone: %q", line)
		}
	}

	sv.Result = survey.Result{Members: 20}
	if got := survey.ResultReply(sv, nil, nil).Title; got != "Survey #12 closed with no answers" {
		t.Errorf("ResultReply without answers = %q", got)
	}
	got = survey.CommentsReply(sv, []survey.Comment{{UserID: "slack:U1", Score: 3, Text: "docs are thin"}}).Text()
	want = "Comments on survey #12 (1)\n\nScore 3\n  docs are thin\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CommentsReply mismatch (-want +got):\n%s", diff)
	}
	if strings.Contains(got, "U1") {
		t.Error("comments name who wrote them")
	}
}
