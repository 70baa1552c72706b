package jobs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// crashChildEnv makes the test binary act as process A of
// TestCrashResume: a bot whose provisioning hangs until it is killed.
const crashChildEnv = "IDPBOT_JOBS_CRASH_CHILD_SCHEMA"

// driverEntered is what process A prints when its driver has started.
const driverEntered = "DRIVER-ENTERED"

func TestMain(m *testing.M) {
	if schema := os.Getenv(crashChildEnv); schema != "" {
		if err := crashChild(schema); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hangingDriver announces that provisioning started, then hangs the way a
// process does just before it is killed.
type hangingDriver struct{ testDriver }

func (d *hangingDriver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	fmt.Println(driverEntered, job.Resource.ID)
	<-ctx.Done()
	return platform.Result{}, ctx.Err()
}

// crashChild runs a jobs Runner on schema until it is killed (or a minute
// passes, should the parent test die first).
func crashChild(schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := postgres.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	enq, err := NewEnqueuer(EnqueuerConfig{Pool: pool, Schema: schema})
	if err != nil {
		return err
	}
	store := postgres.NewStore(pool, postgres.StoreOptions{OnEvent: enq.OnEvent})
	engine, err := buildEngine(store, &hangingDriver{testDriver{timeout: time.Minute}})
	if err != nil {
		return err
	}
	runner, err := New(Config{
		Pool: pool, Engine: engine, Store: store, Schema: schema,
		DefaultTimeout: time.Minute, RescueAfter: 2 * time.Minute,
		FetchPollInterval: 20 * time.Millisecond, testOnly: true,
		// The killed process must not hold the leadership the survivor
		// needs to rescue its job; in production the lease just expires.
		leaderElectionDisabled: true,
	})
	if err != nil {
		return err
	}
	return runner.Run(ctx)
}

// TestCrashResume kills a process (SIGKILL) while its driver provisions a
// resource; a second process rescues the job once RescueAfter has passed,
// resumes the resource and provisions it exactly once.
func TestCrashResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const rescueAfter = time.Second
	h := newHarness(t, func(c *Config) {
		c.DefaultTimeout = rescueAfter / 2
		c.RescueAfter = rescueAfter
	})
	h.driver.timeout = rescueAfter / 2
	sub := h.submit(t, "orders-db")

	// Process A picks the provisioning job up and hangs in the driver.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+postgrestest.Schema(h.pool))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	entered := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), driverEntered) {
				entered <- sc.Text()
				return
			}
		}
		close(entered)
	}()
	select {
	case line, ok := <-entered:
		if want := fmt.Sprintf("%s %d", driverEntered, sub.ID); !ok || line != want {
			t.Fatalf("process A printed %q, want %q", line, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("process A never started provisioning")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	r, err := h.store.Resource(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != platform.Provisioning {
		t.Fatalf("after the crash the resource is %s, want provisioning", r.State)
	}
	// The killed process never finished its job: it is still running as
	// far as the database knows, until it has been so for RescueAfter.
	waitFor(t, 10*time.Second, "the orphaned job to be older than RescueAfter", func() (bool, string) {
		var (
			state string
			stale bool
		)
		err := h.pool.QueryRow(ctx, `SELECT state, attempted_at < now() - $1::interval FROM river_job WHERE kind = 'provision'`,
			rescueAfter.String()).Scan(&state, &stale)
		if err != nil {
			return false, err.Error()
		}
		if state != "running" {
			t.Fatalf("orphaned job is %s, want running", state)
		}
		return stale, state
	})

	// Process B starts, rescues the job and finishes the resource. River's
	// leader makes the rescued job available again on its next scheduler
	// run (every 5 s), so this takes a few seconds.
	h.start(t)
	r, evs := h.waitSettled(t, sub.ID, platform.Ready)
	if calls, creations := h.driver.counts(); calls != 1 || creations != 1 {
		t.Errorf("process B's driver calls, creations = %d, %d; want 1, 1", calls, creations)
	}
	want := []step{
		{platform.EventTransition, "", platform.Pending, "requested by Alice"},
		{platform.EventTransition, platform.Pending, platform.Provisioning, "provisioning started"},
		{platform.EventStep, "", "", "resuming provisioning"},
		{platform.EventStep, "", "", "creating database"},
		{platform.EventTransition, platform.Provisioning, platform.Ready, "ready"},
		{platform.EventSecret, "", "", ""},
	}
	if diff := cmp.Diff(want, steps(evs)); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(expectedThread(r, evs), h.notifier.recorded(r.ID)); diff != "" {
		t.Errorf("thread mismatch (-want +got):\n%s", diff)
	}
	var rescued bool
	if err := h.pool.QueryRow(ctx, `SELECT errors::text LIKE '%Stuck job rescued%' FROM river_job WHERE kind = 'provision'`).Scan(&rescued); err != nil || !rescued {
		t.Errorf("provision job rescued = %v, %v; want the rescuer's note in its errors", rescued, err)
	}
}
