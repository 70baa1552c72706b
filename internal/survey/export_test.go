package survey

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/schedule"
)

// Hooks into the jobs' work for the package's external tests.

func (s *Service) CloseSurvey(ctx context.Context, id int64) error { return s.closeSurvey(ctx, id) }

func (s *Service) OpenScheduled(ctx context.Context, ins Inserter, slot time.Time) error {
	return s.openScheduled(ctx, ins, slot)
}

func OpenInsertOpts(sched *schedule.Cron) *river.InsertOpts { return openInsertOpts(sched) }
