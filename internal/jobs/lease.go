package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// Why a process killed mid-job used to leave it standing for minutes: River
// finds a job of a dead process only when its rescuer (run by the elected
// leader, every 30 s) sees it running for longer than RescueStuckJobsAfter
// and the job's own timeout (DefaultTimeout, 2 min, for provisioning); it
// then makes it retryable, and the leader's scheduler makes it available
// within another 5 s. After a kill -9 of the leader, leadership itself
// waits for the dead leader's term to expire (15 s). River has no heartbeat,
// and its rescue delay must exceed the longest legitimate job, so it stays
// the backstop, and a lease of our own resumes a dead process's jobs in
// LeaseTakeover plus a check.
//
// The lease. Every Runner gives its River client a unique ID (LeasePrefix,
// host, random) and, for as long as it runs jobs, holds a session advisory
// lock keyed by that ID on a connection of its own (postgres.Lease). River
// records the client ID of each attempt in river_job.attempted_by. Every
// process (not just the leader) checks every LeaseCheck for running jobs
// whose latest attempt is another client's; if it can take that client's
// lock, the client's session is gone. It keeps the lock for LeaseTakeover,
// then makes those jobs available again on the connection that holds it.
//
// Never twice at once. A process can be alive and have lost its lease (the
// connection broke, the server restarted), and the process taking over
// cannot tell. So a process runs a job only inside its lease's epoch: the
// lease is confirmed by a ping every LeasePing, and an epoch ends — every
// attempt started in it is cancelled — LeaseFence after the last ping that
// was sent before a reply proved the session alive. The session, hence the
// lock, lived at least until that ping was sent, and a taker's hold begins
// only after the session ended, so the owner's attempts are cancelled at
// the latest LeaseFence after the hold began; the taker acts LeaseTakeover
// after it, leaving LeaseTakeover-LeaseFence for the cancelled drivers to
// return and River to record their results — which matters: River records
// a result on any running row of that ID, whatever its attempt, so a result
// recorded after the takeover could end the next attempt's row while it
// runs. Because the taker holds the
// lock throughout, the owner cannot get its lease back and start another
// epoch in between. A job just fetched is covered the same way: an attempt
// starts only while the epoch is valid (checked again by the middleware
// when River hands it over, however long after the fetch), and is bound to
// that epoch's end. While the lease is lost, fetched jobs are snoozed, not
// failed, and the lease is re-acquired, which succeeds once no taker holds
// it. The bound assumes drivers honour cancellation (DESIGN §5) and clocks
// that run at the same rate; it needs no agreement on the time of day.
const (
	// LeasePrefix starts the River client ID of every Runner. Only jobs
	// of such clients are taken over: a process of an older version holds
	// no lease, and its jobs are left to River's rescuer.
	LeasePrefix = "idpbot/"
	// LeasePing is how often a process confirms its lease.
	LeasePing = time.Second
	// LeaseFence is how long after its last confirmation a process stops
	// its jobs when it cannot confirm its lease.
	LeaseFence = 5 * time.Second
	// LeaseTakeover is how long a process holds a dead client's lease
	// before it makes that client's jobs available again.
	LeaseTakeover = 12 * time.Second
	// LeaseCheck is how often every process looks for dead clients' jobs.
	LeaseCheck = 2 * time.Second
)

// leaseTimings are LeasePing, LeaseFence, LeaseTakeover and LeaseCheck,
// shortened by tests.
type leaseTimings struct{ ping, fence, takeover, check time.Duration }

var defaultLeaseTimings = leaseTimings{LeasePing, LeaseFence, LeaseTakeover, LeaseCheck}

// errLeaseLost is the cause of a job context cancelled with its epoch.
var errLeaseLost = errors.New("jobs: lease lost")

// newClientID returns a River client ID unique to this process.
func newClientID() string {
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return LeasePrefix + host + "/" + hex.EncodeToString(b[:])
}

// lease holds this process's lease and the epoch its jobs run in.
type lease struct {
	store  *postgres.Store
	client string
	t      leaseTimings
	log    *slog.Logger

	mu       sync.Mutex
	held     *postgres.Lease // nil while lost
	epoch    context.Context // nil or done: no job may start
	end      context.CancelCauseFunc
	deadline time.Time // the epoch ends then unless confirmed
	timer    *time.Timer
}

// acquire takes the lease, retrying every ping interval until it gets it
// or ctx ends.
func (l *lease) acquire(ctx context.Context) error {
	for {
		sent := time.Now()
		held, err := l.store.AcquireLease(ctx, l.client)
		if held != nil {
			l.mu.Lock()
			l.held = held
			l.mu.Unlock()
			l.confirm(sent)
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err() // stopping: no warning about a connection it cancelled
		case err != nil:
			l.log.Warn("cannot acquire the jobs lease", "client", l.client, "error", err)
		default:
			l.log.Info("jobs lease held by another session, waiting", "client", l.client)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.t.ping):
		}
	}
}

// confirm records that the lease's session was alive when sent, starting
// an epoch if none is running, and extending it to sent+fence.
func (l *lease) confirm(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch == nil || l.epoch.Err() != nil {
		l.epoch, l.end = context.WithCancelCause(context.Background())
		end := l.end
		l.timer = time.AfterFunc(time.Until(sent.Add(l.t.fence)), func() { end(errLeaseLost) })
	} else {
		l.timer.Reset(time.Until(sent.Add(l.t.fence)))
	}
	l.deadline = sent.Add(l.t.fence)
}

// lose ends the epoch at once: the session is known to be gone.
func (l *lease) lose(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.end != nil {
		l.end(fmt.Errorf("%w: %w", errLeaseLost, cause))
		l.timer.Stop()
	}
	if l.held != nil {
		_ = l.held.Close(context.Background())
		l.held = nil
	}
}

// run confirms the lease every ping interval, and re-acquires it when its
// session is lost, until ctx ends; then it releases it.
func (l *lease) run(ctx context.Context) {
	defer l.lose(context.Canceled)
	tick := time.NewTicker(l.t.ping)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		held := l.held
		l.mu.Unlock()
		sent := time.Now()
		pctx, cancel := context.WithTimeout(ctx, l.t.fence)
		err := held.Ping(pctx)
		cancel()
		if err == nil {
			l.confirm(sent)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("jobs lease lost: cancelling running jobs and re-acquiring it", "client", l.client, "error", err)
		l.lose(err)
		if l.acquire(ctx) != nil {
			return
		}
		l.log.Info("jobs lease re-acquired", "client", l.client)
	}
}

// attempt returns ctx bound to the current epoch, or false when there is
// none: the job must not run.
func (l *lease) attempt(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	l.mu.Lock()
	epoch, deadline := l.epoch, l.deadline
	l.mu.Unlock()
	if epoch == nil || epoch.Err() != nil || !time.Now().Before(deadline) {
		return ctx, func() {}, false
	}
	jctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(epoch, func() { cancel(context.Cause(epoch)) })
	return jctx, func() { stop(); cancel(nil) }, true
}

// middleware runs a job only within the lease's epoch, cancelled when the
// epoch ends; a job fetched while the lease is lost is snoozed for a ping
// interval (its attempt is not counted).
func (l *lease) middleware() rivertype.WorkerMiddleware {
	return river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		jctx, done, ok := l.attempt(ctx)
		if !ok {
			return river.JobSnooze(l.t.ping)
		}
		defer done()
		return doInner(jctx)
	})
}
