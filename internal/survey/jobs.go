package survey

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/schedule"
)

// JobTimeout bounds one run of a survey job: posting to every channel, or
// closing one survey.
const JobTimeout = 5 * time.Minute

// OpenArgs asks for the survey of a schedule slot to be opened in every
// configured channel. The periodic job inserts it; Slot makes it unique.
type OpenArgs struct {
	Slot time.Time `json:"slot" river:"unique"`
}

// Kind implements river.JobArgs.
func (OpenArgs) Kind() string { return "survey_open" }

// CloseArgs asks for a survey to be closed and its result posted. It is
// inserted with the survey, scheduled at its closing time.
type CloseArgs struct {
	SurveyID int64 `json:"survey_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (CloseArgs) Kind() string { return "survey_close" }

// InsertOpts implements river.JobArgsWithInsertOpts: one close job per
// survey, tried for as long as a chat outage may last.
func (CloseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AddWorkers registers the survey workers; it fits jobs.Config.Register.
func AddWorkers(workers *river.Workers, s *Service) {
	river.AddWorker(workers, &openWorker{svc: s})
	river.AddWorker(workers, &closeWorker{svc: s})
}

// PeriodicJob returns the River periodic job that opens scheduled surveys,
// for jobs.Config.Periodic. Only the elected leader enqueues it; each slot
// is inserted at most once (River UniqueOpts by slot and period) and posted
// at most once per channel (the surveys table's unique slot), however many
// replicas run.
func (s *Service) PeriodicJob() *river.PeriodicJob {
	sched := s.schedule
	return river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
		return OpenArgs{Slot: sched.Slot(time.Now())}, openInsertOpts(sched)
	}, &river.PeriodicJobOpts{ID: ScheduleName})
}

// openInsertOpts makes a slot's open job unique: by its slot (ByArgs) and
// by the period of the schedule's resolution, in which River enqueues it.
func openInsertOpts(sched *schedule.Cron) *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: sched.Period()}}
}

type openWorker struct {
	river.WorkerDefaults[OpenArgs]
	svc *Service
}

// Timeout bounds one run.
func (w *openWorker) Timeout(*river.Job[OpenArgs]) time.Duration { return JobTimeout }

// Work opens the slot's surveys.
func (w *openWorker) Work(ctx context.Context, job *river.Job[OpenArgs]) error {
	slot := job.Args.Slot
	if slot.IsZero() {
		slot = job.ScheduledAt
	}
	return w.svc.openScheduled(ctx, river.ClientFromContext[pgx.Tx](ctx), slot.UTC())
}

type closeWorker struct {
	river.WorkerDefaults[CloseArgs]
	svc *Service
}

// Timeout bounds one run.
func (w *closeWorker) Timeout(*river.Job[CloseArgs]) time.Duration { return JobTimeout }

// Work closes the survey and posts its result and comments.
func (w *closeWorker) Work(ctx context.Context, job *river.Job[CloseArgs]) error {
	return w.svc.closeSurvey(ctx, job.Args.SurveyID)
}
