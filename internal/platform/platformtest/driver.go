package platformtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Op is a driver operation.
type Op string

// Driver operations.
const (
	OpProvision   Op = "provision"
	OpDeprovision Op = "deprovision"
)

// Call is one recorded call of a Driver.
type Call struct {
	Op          Op
	ResourceID  int64
	Service     string
	Name        string
	Team        string
	Environment string
	Parameters  map[string]any
	Settings    map[string]any
	// Old are the parameters before the change, for an OpUpdate.
	Old map[string]any
}

// Driver is a configurable fake platform.Driver. It records every call,
// reports steps, and returns outputs and secrets derived from the job; tests
// make it fail (permanently with a platform.Error, or transiently with any
// other error), block until released, or report itself unavailable.
type Driver struct {
	// Steps are reported through Job.Step on every call; nil reports
	// "creating role <team>_<env>_<name>" and "creating database …" (or
	// "dropping …" when deprovisioning).
	Steps []string
	// Result, when set, computes what Provision returns; nil returns
	// postgres-like outputs and a password and url as secrets.
	Result func(job platform.Job) platform.Result
	// AttemptTimeout is what Timeout returns.
	AttemptTimeout time.Duration

	mu          sync.Mutex
	calls       []Call
	failures    map[Op][]failure
	unavailable string
	gate        chan struct{}
	changed     chan struct{}
	live        map[int64]liveAnswer
	liveAll     *liveAnswer
	liveReads   int
}

// liveAnswer is what Status answers for a resource.
type liveAnswer struct {
	status platform.LiveStatus
	err    error
	hold   bool
}

type failure struct {
	err error
	n   int // remaining calls; < 0 for every call
}

var (
	_ platform.Driver       = (*Driver)(nil)
	_ platform.StatusReader = (*Driver)(nil)
)

// NewDriver returns a Driver that succeeds.
func NewDriver() *Driver {
	return &Driver{AttemptTimeout: time.Minute, failures: map[Op][]failure{}, changed: make(chan struct{})}
}

// Permanent returns an error the engine treats as permanent: it fails the
// request with msg as the reason.
func Permanent(msg string) error { return platform.Errorf(platform.Invalid, "%s", msg) }

// Transient returns an error the engine retries.
func Transient(msg string) error { return errors.New(msg) }

// Fail makes the next n calls of op return err (n < 0: every call until
// Reset). Failures queue: a second Fail applies after the first is used up.
func (d *Driver) Fail(op Op, err error, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures[op] = append(d.failures[op], failure{err: err, n: n})
}

// SetUnavailable makes Check return an Unavailable error with msg ("" makes
// the driver available again).
func (d *Driver) SetUnavailable(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unavailable = msg
}

// Hold makes every call from now on block, after recording itself, until
// release is called or the call's context ends. release is idempotent.
func (d *Driver) Hold() (release func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	gate := make(chan struct{})
	d.gate = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			if d.gate == gate {
				d.gate = nil
			}
			d.mu.Unlock()
			close(gate)
		})
	}
}

// SetStatus makes Status answer st and err for the resource with id
// (id 0: for every resource without an answer of its own). Until then
// Status answers platform.ErrNoStatus, as a binding that configures no way
// to read the live state.
func (d *Driver) SetStatus(id int64, st platform.LiveStatus, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := liveAnswer{status: st, err: err}
	if id == 0 {
		d.liveAll = &a
		return
	}
	if d.live == nil {
		d.live = map[int64]liveAnswer{}
	}
	d.live[id] = a
}

// HoldStatus makes Status for the resource with id (0: every resource)
// block until its context ends, like a target that does not answer.
func (d *Driver) HoldStatus(id int64) {
	d.SetStatus(id, platform.LiveStatus{}, nil)
	d.mu.Lock()
	defer d.mu.Unlock()
	if id == 0 {
		d.liveAll.hold = true
		return
	}
	a := d.live[id]
	a.hold = true
	d.live[id] = a
}

// StatusReads returns how many times Status was called.
func (d *Driver) StatusReads() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.liveReads
}

// Status implements platform.StatusReader with the answer SetStatus set.
// ReadAt is left for the engine to set.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	d.mu.Lock()
	d.liveReads++
	a, ok := d.live[job.Resource.ID]
	if !ok && d.liveAll != nil {
		a, ok = *d.liveAll, true
	}
	d.mu.Unlock()
	if !ok {
		return platform.LiveStatus{}, platform.ErrNoStatus
	}
	if a.hold {
		<-ctx.Done()
		return platform.LiveStatus{}, fmt.Errorf("status %s: %w", job.Resource.Name, ctx.Err())
	}
	st := a.status
	st.Checks = append([]platform.LiveCheck(nil), st.Checks...)
	return st, a.err
}

// Reset forgets recorded calls, queued failures and live answers, and
// releases holds.
func (d *Driver) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = nil
	d.live, d.liveAll, d.liveReads = nil, nil, 0
	d.failures = map[Op][]failure{}
	d.unavailable = ""
	if d.gate != nil {
		close(d.gate)
		d.gate = nil
	}
}

// Calls returns the calls recorded so far.
func (d *Driver) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Call(nil), d.calls...)
}

// Count returns how many calls of op were recorded.
func (d *Driver) Count(op Op) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// WaitCalls blocks until at least n calls of op were recorded, failing t
// after timeout.
func (d *Driver) WaitCalls(t testing.TB, op Op, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		changed := d.changed
		d.mu.Unlock()
		if d.Count(op) >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("driver: %d %s calls after %v, want %d", d.Count(op), op, timeout, n)
		}
	}
}

// Check implements platform.Driver.
func (d *Driver) Check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unavailable != "" {
		return platform.Errorf(platform.Unavailable, "%s", d.unavailable)
	}
	return nil
}

// Timeout implements platform.Driver.
func (d *Driver) Timeout() time.Duration { return d.AttemptTimeout }

// Provision implements platform.Driver.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	if err := d.call(ctx, OpProvision, job); err != nil {
		return platform.Result{}, err
	}
	if d.Result != nil {
		return d.Result(job), nil
	}
	return DefaultResult(job), nil
}

// Deprovision implements platform.Driver.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	return d.call(ctx, OpDeprovision, job)
}

func (d *Driver) call(ctx context.Context, op Op, job platform.Job) error {
	r := job.Resource
	d.mu.Lock()
	d.calls = append(d.calls, Call{Op: op, ResourceID: r.ID, Service: r.Service, Name: r.Name, Team: r.Team,
		Environment: r.Environment, Parameters: maps.Clone(r.Parameters), Settings: maps.Clone(job.Settings)})
	close(d.changed)
	d.changed = make(chan struct{})
	gate := d.gate
	var err error
	if fs := d.failures[op]; len(fs) > 0 {
		err = fs[0].err
		if fs[0].n > 0 {
			fs[0].n--
			if fs[0].n == 0 {
				fs = fs[1:]
			}
		}
		d.failures[op] = fs
	}
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", op, r.Name, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, r.Name, err)
	}
	steps := d.Steps
	if steps == nil {
		ident := Identifier(r)
		switch op {
		case OpProvision:
			steps = []string{"creating role " + ident, "creating database " + ident}
		case OpUpdate:
			steps = []string{"applying the change to " + ident}
		default:
			steps = []string{"dropping database " + ident, "dropping role " + ident}
		}
	}
	if err != nil && len(steps) > 1 {
		steps = steps[:1] // a failing driver gets as far as its first step
	}
	if job.Step != nil {
		for _, s := range steps {
			job.Step(s)
		}
	}
	return err
}

// Identifier returns the name the default driver derives for a resource:
// "<team>_<env>_<name>" with hyphens as underscores.
func Identifier(r *platform.Resource) string {
	return strings.ReplaceAll(r.Team+"_"+r.Environment+"_"+r.Name, "-", "_")
}

// DefaultResult is what a Driver without a Result func returns: outputs host,
// port, database and username, and secrets password and url.
func DefaultResult(job platform.Job) platform.Result {
	id := Identifier(job.Resource)
	pw := fmt.Sprintf("pw-%d-%s", job.Resource.ID, job.Resource.Name)
	return platform.Result{
		Outputs: map[string]string{"host": "127.0.0.1", "port": "5432", "database": id, "username": id},
		Secrets: map[string]string{
			"password": pw,
			"url":      fmt.Sprintf("postgres://%s:%s@127.0.0.1:5432/%s?sslmode=disable", id, pw, id),
		},
	}
}
