package survey_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/survey"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	sv := f.start(t, "C1")
	// The closing job is scheduled with the survey.
	var (
		kind  string
		at    time.Time
		count int
	)
	if err := f.pool.QueryRow(ctx, `SELECT kind, scheduled_at, count(*) OVER () FROM river_job`).Scan(&kind, &at, &count); err != nil {
		t.Fatal(err)
	}
	if kind != "survey_close" || !at.Equal(sv.ClosesAt) || count != 1 {
		t.Errorf("jobs = %d, first %s at %s; want one survey_close at %s", count, kind, at, sv.ClosesAt)
	}

	f.clock.Advance(time.Minute)
	_, err := f.svc.Start(ctx, f.ins, "slack", "C1", "slack:UADMIN")
	if want := "Survey #1 is still open in C1; it closes Mon 12 Jan 10:00 UTC."; platform.ErrorCode(err) != platform.Conflict || platform.ErrorMessage(err) != want {
		t.Errorf("second Start = %v, want %q", err, want)
	}
	if _, err := f.svc.Start(ctx, f.ins, "discord", "C1", "slack:UADMIN"); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Start on a platform without a poster = %v, want unavailable", err)
	}

	// A post that fails leaves nothing behind, so that a retry posts.
	f.rec.fail = func(kind, channel string) error {
		if channel == "C2" {
			return errors.New("slack: rate limited")
		}
		return nil
	}
	if _, err := f.svc.Start(ctx, f.ins, "slack", "C2", "slack:UADMIN"); err == nil || platform.ErrorCode(err) != platform.Internal {
		t.Errorf("Start with a failing post = %v, want an internal error", err)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM surveys WHERE channel = 'C2'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("surveys of C2 after a failed post = %d, %v; want 0", n, err)
	}
	f.rec.fail = nil
	if sv2 := f.start(t, "C2"); sv2.Channel != "C2" {
		t.Errorf("retried Start = %+v", sv2)
	}
	if got := len(f.rec.of("survey")); got != 2 {
		t.Errorf("%d surveys posted, want 2", got)
	}
}

func TestCloseSurveyPostsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *survey.Config) { c.Window = time.Hour })
	ctx := context.Background()
	first := f.start(t, "C1")
	f.record(t, first.ID, "slack:U1", 6, "")
	f.clock.Advance(time.Hour)
	if err := f.svc.CloseSurvey(ctx, first.ID); err != nil {
		t.Fatal(err)
	}

	f.clock.Advance(24 * time.Hour)
	sv := f.start(t, "C1")
	f.record(t, sv.ID, "slack:U1", 9, "much better now")
	f.record(t, sv.ID, "slack:U2", 10, "")
	f.record(t, sv.ID, "slack:U3", 2, "docs are thin")
	f.clock.Advance(time.Hour)
	// The comments post fails once: the retry posts them without posting
	// the result again.
	failed := false
	f.rec.fail = func(kind, _ string) error {
		if kind == "comments" && !failed {
			failed = true
			return errors.New("discord: 503")
		}
		return nil
	}
	if err := f.svc.CloseSurvey(ctx, sv.ID); err == nil {
		t.Fatal("closeSurvey with a failing comments post succeeded")
	}
	for range 2 {
		if err := f.svc.CloseSurvey(ctx, sv.ID); err != nil {
			t.Fatal(err)
		}
	}
	results := f.rec.of("result")
	want := survey.FromCounts(2, 0, 1)
	want.Members = 40
	prev := survey.FromCounts(0, 0, 1)
	prev.Members = 40
	wantPosts := []post{
		{Kind: "result", Channel: "C1", Ref: "msg-1", SurveyID: first.ID, Slot: first.Slot, Result: func() survey.Result { r := survey.FromCounts(0, 0, 1); r.Members = 40; return r }()},
		{Kind: "result", Channel: "C1", Ref: sv.MessageRef, SurveyID: sv.ID, Slot: sv.Slot, Result: want, Prev: &prev},
	}
	if diff := cmp.Diff(wantPosts, results); diff != "" {
		t.Errorf("results posted mismatch (-want +got):\n%s", diff)
	}
	comments := f.rec.of("comments")
	if len(comments) != 1 || comments[0].Channel != "CPLATFORM" || comments[0].SurveyID != sv.ID {
		t.Fatalf("comments posted = %+v, want one post to CPLATFORM", comments)
	}
	var texts []string
	for _, c := range comments[0].Comments {
		texts = append(texts, c.Text)
	}
	if diff := cmp.Diff([]string{"much better now", "docs are thin"}, texts); diff != "" {
		t.Errorf("comments mismatch (-want +got):\n%s", diff)
	}
}

func TestScheduledFirstWorkingDay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *survey.Config) { c.Window = 2 * time.Hour })
	ctx := context.Background()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }
	tests := []struct {
		slot time.Time
		want bool
	}{
		{day(2026, 1, 1), true},   // Thursday: the quarter's first working day
		{day(2026, 1, 2), false},  // Friday: this quarter has its survey
		{day(2026, 1, 3), false},  // Saturday
		{day(2026, 4, 1), true},   // Wednesday
		{day(2027, 1, 1), true},   // Friday
		{day(2027, 10, 1), true},  // Friday
		{day(2027, 10, 3), false}, // Sunday, and done
		{day(2028, 1, 1), false},  // Saturday
		{day(2028, 1, 2), false},  // Sunday
		{day(2028, 1, 3), true},   // Monday
	}
	for _, tt := range tests {
		f.clock.Set(tt.slot)
		before := len(f.rec.of("survey"))
		if err := f.svc.OpenScheduled(ctx, f.ins, tt.slot); err != nil {
			t.Fatalf("openScheduled(%s): %v", tt.slot, err)
		}
		posted := len(f.rec.of("survey")) - before
		if want := map[bool]int{true: 2, false: 0}[tt.want]; posted != want {
			t.Errorf("openScheduled(%s %s) posted %d surveys, want %d", tt.slot.Weekday(), tt.slot.Format(time.DateOnly), posted, want)
		}
	}
}

func TestScheduledSkipsChannelWithOpenSurvey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *survey.Config) { c.Schedule = "0 10 * * *" })
	ctx := context.Background()
	f.start(t, "C1")
	f.clock.Advance(24 * time.Hour)
	slot := f.clock.Now()
	if err := f.svc.OpenScheduled(ctx, f.ins, slot); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range f.rec.of("survey") {
		got = append(got, p.Channel+" "+p.Slot.Format(time.RFC3339))
	}
	want := []string{"C1 2026-01-05T10:00:00Z", "C2 2026-01-06T10:00:00Z"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("posts mismatch (-want +got):\n%s", diff)
	}
}

func TestOpenSameSlotConcurrently(t *testing.T) {
	t.Parallel()
	// Without River's uniqueness (two leaders, a retried job), the
	// surveys table still lets a slot post once per channel.
	f := newFixture(t, func(c *survey.Config) { c.Schedule = "0 10 * * *" })
	slot := f.clock.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if err := f.svc.OpenScheduled(context.Background(), f.ins, slot); err != nil {
				t.Errorf("openScheduled: %v", err)
			}
		})
	}
	wg.Wait()
	var got []string
	for _, p := range f.rec.of("survey") {
		got = append(got, p.Channel)
	}
	if len(got) != 2 || got[0] == got[1] {
		t.Errorf("channels posted = %v, want C1 and C2 once each", got)
	}
	var jobs int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'survey_close'`).Scan(&jobs); err != nil || jobs != 2 {
		t.Errorf("close jobs = %d, %v; want 2", jobs, err)
	}
}

func TestCloseWithoutPosterStillCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	sv := f.start(t, "C1")
	f.record(t, sv.ID, "slack:U1", 10, "")
	other, err := survey.New(survey.Config{Store: postgres.NewSurveys(f.pool, f.clock.Now), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = other.CloseSurvey(ctx, sv.ID)
	var cancel *river.JobCancelError
	if !errors.As(err, &cancel) {
		t.Errorf("closeSurvey without a poster = %v, want the job cancelled", err)
	}
	if r, ok, err := f.svc.Store().LatestResult(ctx); err != nil || !ok || r.NPS != 100 {
		t.Errorf("LatestResult = %+v, %v, %v; want the survey closed with +100", r, ok, err)
	}
}
