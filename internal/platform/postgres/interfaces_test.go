package postgres_test

import (
	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/drivers/webhook"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/survey"
)

// The postgres types implement the interfaces their users declare. The
// checks live in an external test because some users (jobs) test against
// this package, which therefore must not import them.
var (
	_ metrics.Source        = (*postgres.Store)(nil)
	_ webhook.CallbackStore = (*postgres.Callbacks)(nil)
	_ digest.Store          = (*postgres.Digests)(nil)
	_ survey.Store          = (*postgres.Surveys)(nil)
	_ jobs.Store            = (*postgres.Store)(nil)
	_ jobs.CardStore        = (*postgres.Store)(nil)
	_ jobs.TicketStore      = (*postgres.Store)(nil)
)
