// Package jobstest builds the jobs package's parts for other packages'
// tests.
package jobstest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// Enqueuer returns an Enqueuer on pool's test schema (postgrestest.Pool),
// configured by cfg (its Pool and Schema are set here).
func Enqueuer(t testing.TB, pool *pgxpool.Pool, cfg jobs.EnqueuerConfig) *jobs.Enqueuer {
	t.Helper()
	cfg.Pool, cfg.Schema = pool, postgrestest.Schema(pool)
	e, err := jobs.NewEnqueuer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
