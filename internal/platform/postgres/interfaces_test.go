package postgres_test

import (
	"github.com/idpbot/idpbot/internal/metrics"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// The postgres types implement the interfaces their users declare. These
// checks live in an external test so that the store imports none of them.
var (
	_ metrics.Source = (*postgres.Store)(nil)
)
