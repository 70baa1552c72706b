package main

import (
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/chat/console"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/survey"
)

// services are what serves people once the chat platforms are known: the
// command router and the job runner.
type services struct {
	router *commands.Router
	runner *jobs.Runner
}

// services builds, over the app's engine and the platforms' notifiers,
// the NPS survey and usage digest services, support tickets, the command
// router and the job runner that delivers threads and posts through the
// notifiers.
func (a *app) services(o options, notifiers []*thread.Notifier) (*services, error) {
	byPlatform := map[string]jobs.Notifier{}
	posters := map[string]commands.Poster{}
	surveyPosters := map[string]survey.Poster{}
	digestPosters := map[string]digest.Poster{}
	for _, n := range notifiers {
		byPlatform[n.Platform()], posters[n.Platform()] = n, n
		surveyPosters[n.Platform()] = survey.ChatPoster(n, a.loc)
		digestPosters[n.Platform()] = digest.ChatPoster(n)
	}
	cfg := a.cfg
	for name := range cfg.Schedules {
		if name != "nps_survey" && name != "usage_digest" {
			return nil, userError{fmt.Sprintf("config %s: unknown schedule %q (known: nps_survey, usage_digest)", displayPath(o.config), name)}
		}
	}
	team := a.channels("platform")
	if len(team) == 0 {
		team = a.channels("digests")
	}
	sv, err := survey.New(survey.Config{
		Store: postgres.NewSurveys(a.pool, nil), Posters: surveyPosters,
		Channels: channelLists(a.channels("surveys")), TeamChannels: team,
		Schedule: cfg.Schedules["nps_survey"], Window: time.Duration(cfg.Surveys.Window),
		Location: a.loc, Logger: a.log,
	})
	if err != nil {
		return nil, userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	dg, err := digest.New(digest.Config{
		Store: postgres.NewDigests(a.pool), Posters: digestPosters, Channels: channelLists(a.channels("digests")),
		Schedule: cfg.Schedules["usage_digest"], Location: a.loc, Logger: a.log,
	})
	if err != nil {
		return nil, userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	tickets, err := jobs.NewTickets(a.store, a.enqueue, a.channels("support"))
	if err != nil {
		return nil, err
	}
	surveys := survey.NewCommands(sv, a.enqueue, a.engine.Org(), a.log)
	verbs := append(surveys.Verbs(),
		digest.NewCommands(dg, a.engine.Org(), a.log).Verb(),
		commands.StatsVerb(a.store, a.log))
	router := commands.NewRouter(a.engine, commands.Options{
		Logger: a.log, Location: a.loc,
		Tickets: tickets, Metrics: a.metrics, SupportCategories: cfg.SupportCategories(),
		Verbs: verbs, Survey: surveys.Home,
	})
	drift, err := a.driftChecker(o)
	if err != nil {
		return nil, err
	}
	runner, err := jobs.New(jobs.Config{
		Pool: a.pool, Engine: a.engine, Store: a.store, Logger: a.log,
		Notifiers:   byPlatform,
		Audiences:   a.audiences,
		Enqueuer:    a.enqueue,
		Workers:     cfg.Jobs.Workers,
		RescueAfter: time.Duration(cfg.Jobs.RescueAfter),
		Retention:   cfg.Retention(),
		Metrics:     a.metrics,
		Register: func(w *river.Workers) {
			jobs.AddGovernanceWorkers(w, a.engine, a.store, posters, a.log)
			survey.AddWorkers(w, sv)
			digest.AddWorkers(w, dg)
			jobs.AddDriftWorker(w, drift)
		},
		Periodic: append(append(jobs.GovernancePeriodic(), sv.PeriodicJob(), dg.PeriodicJob()), drift.PeriodicJobs()...),
	})
	if err != nil {
		return nil, err
	}
	return &services{router: router, runner: runner}, nil
}

// channels returns the configured channels of a kind ("requests",
// "approvals", "support", "surveys", "digests", "platform") by platform.
// In the console everything posts to the console, and requests' stories
// go to the terminal (its direct channel).
func (a *app) channels(kind string) map[string]string {
	if a.console {
		switch kind {
		case "requests":
			return nil
		case "approvals", "support":
			return map[string]string{console.Platform: kind}
		default:
			return map[string]string{console.Platform: "console"}
		}
	}
	return a.cfg.Channels[kind]
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
