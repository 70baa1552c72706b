package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/chat/console"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/survey"
)

// chatPoster posts surveys, their results and digests through an adapter's
// generic commands.Poster, so every adapter that can post can run them.
type chatPoster struct {
	p   commands.Poster
	loc *time.Location
}

var (
	_ survey.Poster = chatPoster{}
	_ digest.Poster = chatPoster{}
)

// npsActions are the survey's 0–10 buttons: each answers for the clicker
// in the survey's channel, like typing /idp nps <score>.
func npsActions() []commands.Action {
	out := make([]commands.Action, 11)
	for i := range out {
		out[i] = commands.Action{Label: strconv.Itoa(i), Command: "nps " + strconv.Itoa(i)}
	}
	return out
}

func (c chatPoster) PostSurvey(ctx context.Context, channel string, s survey.Survey) (string, error) {
	r := survey.SurveyReply(s, c.loc)
	r.Actions = npsActions()
	return c.p.Post(ctx, channel, r)
}

func (c chatPoster) PostSurveyResult(ctx context.Context, channel, ref string, s survey.Survey, prev *survey.Result) error {
	return c.p.PostInThread(ctx, channel, ref, survey.ResultReply(s, prev, c.loc))
}

func (c chatPoster) PostComments(ctx context.Context, channel string, s survey.Survey, comments []survey.Comment) error {
	_, err := c.p.Post(ctx, channel, survey.CommentsReply(s, comments))
	return err
}

// ChannelMembers asks the adapter when it can count a channel's members
// (Slack; Discord for channels everyone on the server sees); 0 means
// unknown, and the response rate is left out.
func (c chatPoster) ChannelMembers(ctx context.Context, channel string) (int, error) {
	if m, ok := c.p.(interface {
		ChannelMembers(ctx context.Context, channel string) (int, error)
	}); ok {
		return m.ChannelMembers(ctx, channel)
	}
	return 0, nil
}

func (c chatPoster) PostDigest(ctx context.Context, channel string, d digest.Digest) error {
	_, err := c.p.Post(ctx, channel, digest.Reply(d))
	return err
}

// setupSchedules builds governance (approval cards, support tickets), the
// NPS survey and the usage digest services. Their posters are filled in by
// startJobs. In the console everything posts to the console.
func (a *app) setupSchedules(o options, consoleMode bool, loc *time.Location) error {
	cfg := a.cfg
	a.posters = map[string]commands.Poster{}
	a.surveyPosters = map[string]survey.Poster{}
	a.digestPosters = map[string]digest.Poster{}
	approvals, support := cfg.Channels["approvals"], cfg.Channels["support"]
	surveys, digests := channelLists(cfg.Channels["surveys"]), channelLists(cfg.Channels["digests"])
	team := cfg.Channels["platform"]
	if team == nil {
		team = cfg.Channels["digests"]
	}
	if consoleMode {
		approvals = map[string]string{console.Platform: "approvals"}
		support = map[string]string{console.Platform: "support"}
		surveys = map[string][]string{console.Platform: {"console"}}
		digests = map[string][]string{console.Platform: {"console"}}
		team = map[string]string{console.Platform: "console"}
	}
	var err error
	a.gov, err = jobs.NewGovernance(jobs.GovernanceConfig{Engine: a.engine, Store: a.store, Pool: a.pool, Logger: a.log,
		ApprovalChannels: approvals, SupportChannels: support})
	if err != nil {
		return err
	}
	a.survey, err = survey.New(survey.Config{
		Store: postgres.NewSurveys(a.pool, nil), Posters: a.surveyPosters, Channels: surveys, TeamChannels: team,
		Schedule: cfg.Schedules["nps_survey"], Window: time.Duration(cfg.Surveys.Window),
		Location: loc, Logger: a.log,
	})
	if err != nil {
		return userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	a.digest, err = digest.New(digest.Config{
		Store: postgres.NewDigests(a.pool), Posters: a.digestPosters, Channels: digests,
		Schedule: cfg.Schedules["usage_digest"], Location: loc, Logger: a.log,
	})
	if err != nil {
		return userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	for name := range cfg.Schedules {
		if name != "nps_survey" && name != "usage_digest" {
			return userError{fmt.Sprintf("config %s: unknown schedule %q (known: nps_survey, usage_digest)", displayPath(o.config), name)}
		}
	}
	return nil
}

// channelLists turns the config's one channel per platform into the
// services' lists.
func channelLists(m map[string]string) map[string][]string {
	out := map[string][]string{}
	for platformName, ch := range m {
		if ch != "" {
			out[platformName] = []string{ch}
		}
	}
	return out
}

// lazyInserter inserts through the job runner, which is built after the
// router that needs it.
type lazyInserter struct{ a *app }

func (l lazyInserter) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return l.a.runner.Client().InsertTx(ctx, tx, args, opts)
}

// verbs are the commands surveys and digests add to the router.
func (a *app) verbs() []commands.Verb {
	sc := survey.NewCommands(a.survey, lazyInserter{a}, a.engine.Org(), a.log)
	dc := digest.NewCommands(a.digest, a.engine.Org(), a.log)
	return []commands.Verb{
		{Name: "nps", Usage: survey.NPSUsage, Help: survey.NPSHelp, Example: "nps 9 self-service is great", Role: commands.Everyone,
			Run: func(ctx context.Context, req commands.Request, args []string) commands.Reply {
				r := sc.NPS(ctx, req, args)
				if r.Err == nil && len(args) == 1 {
					r.Actions = append(r.Actions, commands.Action{Label: "Add a comment", Command: "nps " + args[0], Input: "Comment"})
				}
				return r
			}},
		{Name: "survey", Usage: survey.SurveyUsage, Help: survey.SurveyHelp, Example: "survey start", Role: commands.Admins, Run: sc.Survey},
		{Name: "digest", Usage: digest.Usage, Help: digest.Help, Example: "digest now 7d", Role: commands.Admins, Run: dc.Digest},
		{Name: "stats", Usage: "stats", Help: "The platform's health over the last 30 days: self-service rate, time to provision, availability, active resources, satisfaction.",
			Example: "stats", Role: commands.Everyone,
			Run: func(ctx context.Context, req commands.Request, args []string) commands.Reply {
				if len(args) > 0 {
					return commands.ErrorReply(ctx, a.log, platform.Errorf(platform.Invalid, "stats takes no arguments: /idp stats"))
				}
				st, err := a.platformStats(ctx)
				if err != nil {
					return commands.ErrorReply(ctx, a.log, err)
				}
				return commands.StatsReply(st, "30 days")
			}},
	}
}

// statsWindow is the window of /idp stats, like idp_self_service_rate's.
const statsWindow = 30 * 24 * time.Hour

// platformStats reads the platform's health: the store's numbers and the
// survey package's latest NPS (the same round the gauge and the digest
// show).
func (a *app) platformStats(ctx context.Context) (platform.Stats, error) {
	st, err := a.store.Stats(ctx, time.Now().Add(-statsWindow))
	if err != nil {
		return st, err
	}
	r, ok, err := a.survey.Store().LatestResult(ctx)
	if err != nil {
		return st, err
	}
	st.NPS, st.HasNPS = r.NPS, ok
	return st, nil
}

// snapshotSource is the metrics Source: the store's gauges with the
// survey package's latest NPS.
type snapshotSource struct{ a *app }

func (s snapshotSource) Snapshot(ctx context.Context) (metrics.Snapshot, error) {
	snap, err := s.a.store.Snapshot(ctx)
	if err != nil {
		return snap, err
	}
	r, ok, err := s.a.survey.Store().LatestResult(ctx)
	if err != nil {
		return snap, err
	}
	snap.NPS, snap.HasNPS = r.NPS, ok
	return snap, nil
}
