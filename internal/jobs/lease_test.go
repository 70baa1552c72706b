package jobs

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// fastLease are lease timings short enough for tests.
var fastLease = leaseTimings{ping: 50 * time.Millisecond, fence: 500 * time.Millisecond, takeover: 200 * time.Millisecond, check: 50 * time.Millisecond}

// runningJob inserts a job running as client's attempt n (of max) and
// returns its ID.
func runningJob(t *testing.T, pool *pgxpool.Pool, client string, n, max int) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `
		INSERT INTO river_job (kind, args, state, attempt, max_attempts, attempted_at, attempted_by)
		VALUES ('provision', '{}', 'running', $2, $3, now(), ARRAY['idpbot/earlier', $1])
		RETURNING id`, client, n, max).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type jobState struct {
	State   string
	Attempt int
	Note    bool
}

func stateOf(t *testing.T, pool *pgxpool.Pool, id int64) jobState {
	t.Helper()
	var s jobState
	err := pool.QueryRow(context.Background(), `
		SELECT state, attempt, coalesce(errors[array_upper(errors, 1)]->>'error', '') LIKE '%lost its lease%'
		FROM river_job WHERE id = $1`, id).Scan(&s.State, &s.Attempt, &s.Note)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// round runs one check of k and waits for the takeovers it started.
func round(ctx context.Context, k *takeover) {
	k.check(ctx)
	k.wg.Wait()
}

// TestTakeover: the jobs of a client whose lease is held (a live process)
// or of the checking process itself are never touched; once the lease is
// released (the process died), one check makes its jobs available, or
// discards one that has used its last attempt.
func TestTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	store := postgres.NewStore(pool, postgres.StoreOptions{})
	const dead, live, self = LeasePrefix + "dead", LeasePrefix + "live", LeasePrefix + "self"
	deadJob, lastJob := runningJob(t, pool, dead, 2, 25), runningJob(t, pool, dead, 3, 3)
	liveJob, selfJob := runningJob(t, pool, live, 1, 25), runningJob(t, pool, self, 1, 25)
	otherJob := runningJob(t, pool, "older_version_client", 1, 25)

	deadLease, err := store.AcquireLease(ctx, dead)
	if err != nil || deadLease == nil {
		t.Fatalf("AcquireLease(dead) = %v, %v", deadLease, err)
	}
	liveLease, err := store.AcquireLease(ctx, live)
	if err != nil || liveLease == nil {
		t.Fatalf("AcquireLease(live) = %v, %v", liveLease, err)
	}
	defer liveLease.Close(ctx)
	if again, err := store.AcquireLease(ctx, live); err != nil || again != nil {
		t.Fatalf("AcquireLease of a held lease = %v, %v; want nil, nil", again, err)
	}

	k := &takeover{store: store, self: self, t: fastLease, log: slog.New(slog.DiscardHandler)}
	running := jobState{State: "running", Attempt: 1}
	for range 3 {
		round(ctx, k)
	}
	for _, id := range []int64{deadJob, liveJob, selfJob, otherJob} {
		if got := stateOf(t, pool, id); got.State != "running" {
			t.Fatalf("job %d while every lease is held: %+v, want running", id, got)
		}
	}

	if err := deadLease.Close(ctx); err != nil {
		t.Fatal(err)
	}
	round(ctx, k)
	for id, want := range map[int64]jobState{
		deadJob:  {State: "available", Attempt: 2, Note: true},
		lastJob:  {State: "discarded", Attempt: 3, Note: true},
		liveJob:  running,
		selfJob:  running,
		otherJob: running,
	} {
		if got := stateOf(t, pool, id); got != want {
			t.Errorf("job %d after its client's lease was released: %+v, want %+v", id, got, want)
		}
	}
	// The dead client's lease was let go after the takeover: it can run again.
	if back, err := store.AcquireLease(ctx, dead); err != nil || back == nil {
		t.Errorf("AcquireLease(dead) after the takeover = %v, %v; want the lease", back, err)
	} else {
		back.Close(ctx)
	}
}

// TestLeaseEpoch: a job may start only while the process's lease is
// confirmed; when the lease's session is killed, running jobs are cancelled
// with errLeaseLost and, once the lease is re-acquired, jobs may start again.
func TestLeaseEpoch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.Pool(t)
	store := postgres.NewStore(pool, postgres.StoreOptions{})
	// A fence long enough that a loaded machine's slow ping does not end
	// an epoch; a killed session is noticed by the next ping regardless.
	timings := fastLease
	timings.fence = LeaseFence
	l := &lease{store: store, client: newClientID(), t: timings, log: slog.New(slog.DiscardHandler)}
	if _, _, ok := l.attempt(ctx); ok {
		t.Fatal("attempt before the lease was acquired = ok, want refused")
	}
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	jctx, finish, ok := l.attempt(ctx)
	if !ok {
		t.Fatal("attempt with the lease held = refused, want ok")
	}
	defer finish()
	// Pings confirm the lease, extending the epoch the job runs in.
	l.mu.Lock()
	first := l.deadline
	l.mu.Unlock()
	waitFor(t, 30*time.Second, "a ping to extend the epoch", func() (bool, string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.deadline.After(first.Add(10 * fastLease.ping)), l.deadline.String()
	})
	if jctx.Err() != nil {
		t.Fatalf("job context with the lease confirmed: %v", context.Cause(jctx))
	}

	var killed bool
	if err := pool.QueryRow(ctx, `
		SELECT bool_or(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND objid::bigint = hashtextextended('idpbot-lease/' || $1, 0) & 4294967295`, l.client).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the lease's session = %v, %v", killed, err)
	}
	select {
	case <-jctx.Done():
		if !errors.Is(context.Cause(jctx), errLeaseLost) {
			t.Errorf("job cancelled by %v, want errLeaseLost", context.Cause(jctx))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("job still running 30 s after its lease's session was killed")
	}
	waitFor(t, 30*time.Second, "the lease to be re-acquired", func() (bool, string) {
		_, finish, ok := l.attempt(ctx)
		finish()
		return ok, "attempt refused"
	})
}

func TestClientID(t *testing.T) {
	t.Parallel()
	a, b := newClientID(), newClientID()
	if a == b || !strings.HasPrefix(a, LeasePrefix) || len(a) > 100 {
		t.Errorf("newClientID() = %q, %q; want distinct IDs starting with %q, at most 100 bytes", a, b, LeasePrefix)
	}
}
