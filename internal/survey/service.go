package survey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/schedule"
)

// Defaults of Config.
const (
	// DefaultSchedule opens a survey on the first working day of each
	// quarter at 10:00 UTC. A cron spec cannot say "first working day", and
	// restricting both day of month and day of week makes cron match either
	// of them, so the spec runs on the first three days of each quarter's
	// first month and the job itself skips Saturdays, Sundays, and days
	// when a survey for the quarter already exists in the channel (see
	// Config.Schedule). Public holidays are not known.
	DefaultSchedule = "CRON_TZ=UTC 0 10 1-3 1,4,7,10 *"
	// DefaultWindow is how long a survey stays open.
	DefaultWindow = 7 * 24 * time.Hour
	// ScheduleName is the survey schedule's name in the configuration
	// (schedules.nps_survey) and in errors.
	ScheduleName = "nps_survey"
)

// Poster posts surveys and their results to one chat platform; each chat
// adapter implements it. Channels are the platform's channel ids.
type Poster interface {
	// PostSurvey posts s (render it with SurveyReply, plus the 0–10
	// buttons whose ids come from ActionID) and returns the posted
	// message's reference, the thread its result goes to.
	PostSurvey(ctx context.Context, channel string, s Survey) (ref string, err error)
	// PostSurveyResult posts r in the thread of message ref (render it
	// with ResultReply); prev is the channel's previous result, if any.
	PostSurveyResult(ctx context.Context, channel, ref string, s Survey, prev *Result) error
	// PostComments posts a closed survey's comments (render them with
	// CommentsReply) to the platform team's channel.
	PostComments(ctx context.Context, channel string, s Survey, comments []Comment) error
	// ChannelMembers returns how many people are in a channel, or 0 and no
	// error when the platform cannot tell.
	ChannelMembers(ctx context.Context, channel string) (int, error)
}

// Inserter inserts River jobs in a transaction; *river.Client[pgx.Tx] is
// one.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

var _ Inserter = (*river.Client[pgx.Tx])(nil)

// Config is what a Service is built from.
type Config struct {
	// Store keeps the surveys and answers.
	Store Store
	// Posters post to each chat platform, by platform name ("slack",
	// "discord", "console"). Surveys go only to platforms with a Poster.
	Posters map[string]Poster
	// Channels are the survey channels of each platform
	// (channels.surveys).
	Channels map[string][]string
	// TeamChannels are the platform team's channels, by platform, where
	// comments go (no comments are posted on a platform without one).
	TeamChannels map[string]string
	// Schedule is the cron spec of scheduled surveys (schedules.nps_survey;
	// default DefaultSchedule). Only with the default spec does a run skip
	// weekends and quarters that already have a survey; any other spec
	// opens a survey at every run, unless one is still open in the channel.
	Schedule string
	// Window is how long a survey stays open (default DefaultWindow).
	Window time.Duration
	// Location is the time zone closing dates are shown in (default UTC).
	Location *time.Location
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service opens, answers and closes surveys. It is safe for concurrent use.
type Service struct {
	store           Store
	posters         map[string]Poster
	channels        map[string][]string
	teamChannels    map[string]string
	schedule        *schedule.Cron
	firstWorkingDay bool
	window          time.Duration
	loc             *time.Location
	now             func() time.Time
	log             *slog.Logger
}

// New returns a Service. It does no I/O; an invalid or never-firing
// schedule is an error naming it.
func New(cfg Config) (*Service, error) {
	spec := cfg.Schedule
	if spec == "" {
		spec = DefaultSchedule
	}
	sched, err := schedule.Parse(ScheduleName, spec)
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("survey: Store is required")
	}
	if cfg.Window < 0 {
		return nil, fmt.Errorf("survey: window %s is negative", cfg.Window)
	}
	s := &Service{
		store:           cfg.Store,
		posters:         cfg.Posters,
		channels:        cfg.Channels,
		teamChannels:    cfg.TeamChannels,
		schedule:        sched,
		firstWorkingDay: spec == DefaultSchedule,
		window:          cfg.Window,
		loc:             cfg.Location,
		now:             cfg.Now,
		log:             cfg.Logger,
	}
	if s.window == 0 {
		s.window = DefaultWindow
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "survey")
	return s, nil
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Record stores user's answer to survey id (see Store.Record) once the
// score and the comment are valid: a score from 0 to 10, a comment of at
// most MaxComment characters (control characters dropped).
func (s *Service) Record(ctx context.Context, id int64, user string, score int, comment string) (Answer, error) {
	if err := checkScore(score); err != nil {
		return Answer{}, err
	}
	comment, err := cleanComment(comment)
	if err != nil {
		return Answer{}, err
	}
	return s.store.Record(ctx, id, user, score, comment)
}

// Comment stores user's comment on their answer to survey id (see
// Store.Comment); an empty or too long comment is Invalid.
func (s *Service) Comment(ctx context.Context, id int64, user, text string) error {
	text, err := cleanComment(text)
	if err != nil {
		return err
	}
	if text == "" {
		return platform.Errorf(platform.Invalid, "The comment is empty.")
	}
	return s.store.Comment(ctx, id, user, text)
}

// Schedule returns the schedule of scheduled surveys.
func (s *Service) Schedule() *schedule.Cron { return s.schedule }

// Location returns the time zone dates are shown in.
func (s *Service) Location() *time.Location { return s.loc }

// Channels returns the configured survey channels of a platform.
func (s *Service) Channels(platformName string) []string { return s.channels[platformName] }

// openMode says what opening a survey in a channel that has one means.
type openMode int

const (
	// scheduled runs skip a channel with an open survey (and, with the
	// default schedule, weekends and quarters that have a survey).
	scheduled openMode = iota
	// manual starts are a Conflict when the channel has an open survey.
	manual
)

// Start opens a survey in channel of platformName now, on behalf of admin
// by, and schedules its closing with ins. It is a Conflict when a survey is
// open there already, and Unavailable when the platform has no Poster.
func (s *Service) Start(ctx context.Context, ins Inserter, platformName, channel, by string) (Survey, error) {
	slot := s.now().Truncate(time.Minute).UTC()
	sv, _, err := s.open(ctx, ins, platformName, channel, slot, by, manual)
	return sv, err
}

// openScheduled opens the survey of slot in every configured channel of
// every platform with a Poster. A channel that fails does not stop the
// others; the errors are returned together so that the job is retried
// (channels already posted are not posted again).
func (s *Service) openScheduled(ctx context.Context, ins Inserter, slot time.Time) error {
	if s.firstWorkingDay {
		switch slot.In(s.schedule.Location()).Weekday() {
		case time.Saturday, time.Sunday:
			s.log.InfoContext(ctx, "no survey on a weekend", "slot", slot)
			return nil
		}
	}
	var errs []error
	for _, p := range slices.Sorted(maps.Keys(s.channels)) {
		if _, ok := s.posters[p]; !ok {
			continue
		}
		for _, ch := range s.channels[p] {
			sv, opened, err := s.open(ctx, ins, p, ch, slot, "", scheduled)
			switch {
			case err != nil:
				s.log.ErrorContext(ctx, "open survey", "platform", p, "channel", ch, "slot", slot, "err", err)
				errs = append(errs, fmt.Errorf("open survey in %s %s: %w", p, ch, err))
			case opened:
				s.log.InfoContext(ctx, "survey opened", "survey_id", sv.ID, "platform", p, "channel", ch, "slot", slot)
			}
		}
	}
	return errors.Join(errs...)
}

// open opens the survey of slot in one channel: it claims the slot's row,
// posts the survey, records the message and schedules the closing job, all
// in one transaction that also holds a per-channel lock, so that however
// many replicas or retries run it the survey is posted once. opened is
// false when nothing was posted: the slot was posted before, or a
// scheduled run found a reason to skip.
func (s *Service) open(ctx context.Context, ins Inserter, platformName, channel string, slot time.Time, by string, mode openMode) (sv Survey, opened bool, err error) {
	poster, ok := s.posters[platformName]
	if !ok {
		return Survey{}, false, platform.Errorf(platform.Unavailable, "Surveys cannot be posted to %s from this bot.", platformName)
	}
	if channel == "" {
		return Survey{}, false, platform.Errorf(platform.Invalid, "Which channel? Give one: /idp survey start <channel>.")
	}
	o := Opening{Platform: platformName, Channel: channel, Slot: slot, OpenedBy: by, Window: s.window}
	if mode == scheduled && s.firstWorkingDay {
		o.SkipFrom, o.SkipTo = quarter(slot, s.schedule.Location())
	}
	sv, status, err := s.store.Open(ctx, o, func(ctx context.Context, tx pgx.Tx, sv Survey) (string, error) {
		ref, err := poster.PostSurvey(ctx, channel, sv)
		if err != nil {
			return "", fmt.Errorf("post survey: %w", err)
		}
		if _, err := ins.InsertTx(ctx, tx, CloseArgs{SurveyID: sv.ID}, &river.InsertOpts{ScheduledAt: sv.ClosesAt}); err != nil {
			return "", fmt.Errorf("schedule closing: %w", err)
		}
		return ref, nil
	})
	if err != nil {
		return Survey{}, false, err
	}
	switch {
	case status == SlotTaken && mode == manual && !sv.Closed(s.now()):
		return Survey{}, false, platform.Errorf(platform.Conflict, "Survey %s is still open in %s; it closes %s.",
			sv.Ref(), channel, FormatTime(sv.ClosesAt, s.loc))
	case status == SlotTaken && mode == manual:
		return Survey{}, false, platform.Errorf(platform.Conflict, "Survey %s was just started in %s; wait a minute.", sv.Ref(), channel)
	case status == SlotTaken:
		return sv, false, nil // this slot was posted already
	case status == ChannelBusy && mode == manual:
		return Survey{}, false, platform.Errorf(platform.Conflict, "Survey %s is still open in %s; it closes %s.",
			sv.Ref(), channel, FormatTime(sv.ClosesAt, s.loc))
	case status == ChannelBusy:
		s.log.InfoContext(ctx, "survey still open; not opening another", "survey_id", sv.ID, "channel", channel)
		return Survey{}, false, nil
	case status == PeriodDone:
		s.log.InfoContext(ctx, "this quarter has a survey already", "channel", channel, "slot", slot)
		return Survey{}, false, nil
	}
	return sv, true, nil
}

// quarter returns the calendar quarter t falls in, in loc.
func quarter(t time.Time, loc *time.Location) (from, to time.Time) {
	t = t.In(loc)
	m := time.Month((int(t.Month())-1)/3*3 + 1)
	from = time.Date(t.Year(), m, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 3, 0)
}

// closeSurvey closes survey id, posts its result in its thread and its
// comments to the platform team's channel. Each step is done once: a retry
// after a failure resumes where it stopped.
func (s *Service) closeSurvey(ctx context.Context, id int64) error {
	sv, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	poster, ok := s.posters[sv.Platform]
	if !ok {
		// The survey still closes, so that its score counts; its result
		// cannot be posted until the platform is configured again.
		if _, _, err := s.store.Close(ctx, id, 0); err != nil {
			return err
		}
		return river.JobCancel(fmt.Errorf("close survey %d: no poster for platform %s: result not posted", id, sv.Platform))
	}
	if sv.ClosedAt.IsZero() {
		members, err := poster.ChannelMembers(ctx, sv.Channel)
		if err != nil {
			s.log.WarnContext(ctx, "count channel members", "survey_id", id, "channel", sv.Channel, "err", err)
			members = 0
		}
		if sv, _, err = s.store.Close(ctx, id, members); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "survey closed", "survey_id", id, "responses", sv.Result.Responses, "nps", sv.Result.NPS)
	}
	resultPosted, commentsPosted, err := s.store.Posted(ctx, id)
	if err != nil {
		return err
	}
	if !resultPosted {
		prev, err := s.store.Previous(ctx, sv)
		if err != nil {
			return err
		}
		if err := poster.PostSurveyResult(ctx, sv.Channel, sv.MessageRef, sv, prev); err != nil {
			return fmt.Errorf("post result of survey %d: %w", id, err)
		}
		if err := s.store.MarkResultPosted(ctx, id); err != nil {
			return err
		}
	}
	if !commentsPosted {
		comments, err := s.store.Comments(ctx, id)
		if err != nil {
			return err
		}
		if team := s.teamChannels[sv.Platform]; team != "" && len(comments) > 0 {
			if err := poster.PostComments(ctx, team, sv, comments); err != nil {
				return fmt.Errorf("post comments of survey %d: %w", id, err)
			}
		}
		if err := s.store.MarkCommentsPosted(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
