package jobs

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
)

// crashRunsEnv sets how many kill runs TestCrashResumeTiming makes.
const crashRunsEnv = "IDPBOT_CRASH_RUNS"

// TestCrashResumeTiming measures, over IDPBOT_CRASH_RUNS kill runs with the
// production lease timings, the time from the restart of a process whose
// predecessor was killed (SIGKILL) mid-provisioning to the job running
// again, and logs its distribution. It is a measurement, not a check of
// speed: without the variable it is skipped. Run it with
//
//	IDPBOT_CRASH_RUNS=30 go test -count=1 -run TestCrashResumeTiming -v ./internal/jobs
func TestCrashResumeTiming(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv(crashRunsEnv))
	if runs <= 0 {
		t.Skipf("set %s=30 to measure how long a killed process's job waits", crashRunsEnv)
	}
	var took []time.Duration
	for i := range runs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			pool, sub := crashSetup(t, inDriver)
			entered := make(chan time.Time, 1)
			d := crashDrivers(inDriver, false).(*crashDriver)
			d.entered = func() {
				select {
				case entered <- time.Now():
				default:
				}
			}
			rig, err := newCrashRig(pool, d, &tableNotifier{pool: pool}, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			restart := time.Now()
			startRig(t, rig)
			select {
			case at := <-entered:
				took = append(took, at.Sub(restart))
			case <-time.After(5 * time.Minute):
				t.Fatal("the job never ran again")
			}
			waitReady(t, rig, sub.ID)
		})
	}
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	q := func(p float64) time.Duration { return took[int(p*float64(len(took)-1)+0.5)] }
	var all []string
	for _, d := range took {
		all = append(all, d.Round(10*time.Millisecond).String())
	}
	t.Logf("restart to job running again over %d kills: min %s, median %s, p90 %s, max %s\nall: %s",
		len(took), took[0].Round(10*time.Millisecond), q(0.5).Round(10*time.Millisecond),
		q(0.9).Round(10*time.Millisecond), took[len(took)-1].Round(10*time.Millisecond), strings.Join(all, " "))
}

// waitReady waits until resource id is ready.
func waitReady(t testing.TB, rig *crashRig, id int64) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("#%d to be ready", id), func() (bool, string) {
		r, err := rig.store.Resource(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return r.State == platform.Ready, string(r.State)
	})
}

// provisionedName is the role and database name the postgres driver gives
// resource r.
func provisionedName(r *platform.Resource) string {
	return strings.ReplaceAll(r.Team+"_"+r.Environment+"_"+r.Name, "-", "_")
}

// checkProvisionedOnce checks that exactly one role and one database were
// made for r, those its outputs name.
func checkProvisionedOnce(t testing.TB, pool *pgxpool.Pool, r *platform.Resource) {
	t.Helper()
	name := provisionedName(r)
	var dbs, roles []string
	err := pool.QueryRow(context.Background(), `
		SELECT coalesce((SELECT array_agg(datname::text) FROM pg_database WHERE starts_with(datname, $1)), '{}'),
		       coalesce((SELECT array_agg(rolname::text) FROM pg_roles WHERE starts_with(rolname, $1)), '{}')`,
		name).Scan(&dbs, &roles)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{name}
	if !slices.Equal(dbs, want) || !slices.Equal(roles, want) || r.Outputs["database"] != name {
		t.Errorf("databases %q, roles %q, output database %q; want exactly %q of each", dbs, roles, r.Outputs["database"], name)
	}
}

// dropProvisioned removes what the postgres driver made for r.
func dropProvisioned(t testing.TB, pool *pgxpool.Pool, r *platform.Resource) {
	name := provisionedName(r)
	ctx := context.Background()
	for _, q := range []string{`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`, `DROP ROLE IF EXISTS "` + name + `"`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Errorf("clean up %s: %v", name, err)
		}
	}
}
