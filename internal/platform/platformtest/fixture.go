package platformtest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// SealerKey is the 32-byte key of a fixture's Sealer.
var SealerKey = []byte("platformtest-secret-key-32-bytes")

// Sealer returns a Sealer with SealerKey, for tests that build an engine
// of their own.
func Sealer(t testing.TB) *platform.Sealer {
	t.Helper()
	s, err := platform.NewSealer(SealerKey)
	if err != nil {
		t.Fatalf("platformtest.Sealer: %v", err)
	}
	return s
}

// Fixture is an Engine wired to in-memory fakes, built by Engine.
type Fixture struct {
	Engine *platform.Engine
	// Store is the engine's store; its OnEvent hook belongs to the fixture
	// (use Listen to observe events).
	Store *Store
	// Driver is bound as "postgres" unless WithDriver replaced it.
	Driver *Driver
	Clock  *Clock
	Sealer *platform.Sealer
	Org    *platform.Org

	t           testing.TB
	ctx         context.Context
	wg          sync.WaitGroup
	jobs        bool
	maxAttempts int

	mu        sync.Mutex
	listeners []func(*platform.Resource, platform.Event)
	changed   chan struct{}
	queues    []*queue
}

// Option configures Engine.
type Option func(*options)

type options struct {
	catalog     *platform.Catalog
	org         *platform.Org
	drivers     map[string]platform.Driver
	policies    []platform.Policy
	clock       *Clock
	logger      *slog.Logger
	jobs        bool
	maxAttempts int
	noSealer    bool
	observer    platform.Observer
}

// WithObserver tells obs about lifecycle milestones (metrics).
func WithObserver(obs platform.Observer) Option { return func(o *options) { o.observer = obs } }

// WithCatalog replaces the Catalog fixture.
func WithCatalog(c *platform.Catalog) Option { return func(o *options) { o.catalog = c } }

// WithOrg replaces the Org fixture.
func WithOrg(org *platform.Org) Option { return func(o *options) { o.org = org } }

// WithDriver binds d under name (nil removes the binding, making the
// services bound to it unavailable).
func WithDriver(name string, d platform.Driver) Option {
	return func(o *options) {
		if d == nil {
			delete(o.drivers, name)
			return
		}
		o.drivers[name] = d
	}
}

// WithPolicies adds policies after the built-in quota policy.
func WithPolicies(p ...platform.Policy) Option {
	return func(o *options) { o.policies = append(o.policies, p...) }
}

// WithClock sets the clock of the engine and the store.
func WithClock(c *Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the engine's logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithoutSealer builds the engine with no Sealer, so secrets cannot be kept.
func WithoutSealer() Option { return func(o *options) { o.noSealer = true } }

// WithJobs runs provisioning in the background the way the River workers
// do: a request entering pending (or leaving awaiting_approval or failed
// for provisioning) is provisioned, one entering deleting is deprovisioned;
// errors that are not permanent are retried up to attempts times (3 when
// attempts < 1) and then fail the request. Jobs stop when the test ends.
func WithJobs(attempts int) Option {
	return func(o *options) {
		o.jobs = true
		o.maxAttempts = attempts
		if o.maxAttempts < 1 {
			o.maxAttempts = 3
		}
	}
}

// Engine returns a Fixture: a platform.Engine over a new Store, Catalog(t),
// Org(), a Driver bound as "postgres" (no "kubernetes" driver, so
// web-application and api-gateway are unavailable), a Sealer and a Clock
// starting at Start that ticks a second per reading.
func Engine(t testing.TB, opts ...Option) *Fixture {
	t.Helper()
	drv := NewDriver()
	o := &options{drivers: map[string]platform.Driver{"postgres": drv}}
	for _, opt := range opts {
		opt(o)
	}
	if o.catalog == nil {
		o.catalog = Catalog(t)
	}
	if o.org == nil {
		o.org = Org()
	}
	if o.clock == nil {
		o.clock = NewClock(Start, time.Second)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fixture{
		Store:       NewStore(o.clock.Now),
		Clock:       o.clock,
		Org:         o.org,
		t:           t,
		ctx:         ctx,
		jobs:        o.jobs,
		maxAttempts: o.maxAttempts,
		changed:     make(chan struct{}),
	}
	if d, ok := o.drivers["postgres"].(*Driver); ok {
		f.Driver = d
	}
	if !o.noSealer {
		f.Sealer = Sealer(t)
	}
	f.Engine = platform.NewEngine(platform.EngineConfig{
		Store:    f.Store,
		Catalog:  o.catalog,
		Org:      o.org,
		Drivers:  o.drivers,
		Policies: o.policies,
		Sealer:   f.Sealer,
		Now:      o.clock.Now,
		Logger:   o.logger,
		Observer: o.observer,
	})
	f.Store.OnEvent = f.onEvent
	t.Cleanup(func() {
		cancel()
		f.mu.Lock()
		for _, q := range f.queues {
			q.close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// Listen registers fn to be called for every event, like Store.OnEvent: in
// order, with the store locked, so fn must not call the store.
func (f *Fixture) Listen(fn func(r *platform.Resource, ev platform.Event)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listeners = append(f.listeners, fn)
}

func (f *Fixture) onEvent(r *platform.Resource, ev platform.Event) {
	f.mu.Lock()
	listeners := slices.Clone(f.listeners)
	queues := slices.Clone(f.queues)
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	for _, fn := range listeners {
		fn(r, ev)
	}
	for _, q := range queues {
		if q.platform == "" || q.platform == r.Origin.Platform {
			q.push(delivery{r: r, ev: ev})
		}
	}
	if f.jobs && ev.Kind == platform.EventTransition {
		switch {
		case ev.To == platform.Pending,
			ev.From == platform.AwaitingApproval && ev.To == platform.Provisioning,
			ev.From == platform.Failed && ev.To == platform.Provisioning:
			f.run(platform.Provisioning, ev.ResourceID)
		case ev.To == platform.Deleting:
			f.run(platform.Deleting, ev.ResourceID)
		case ev.To == platform.Updating:
			f.run(platform.Updating, ev.ResourceID)
		}
	}
}

// run starts a job for resource id: provisioning, deleting or updating.
func (f *Fixture) run(kind platform.State, id int64) {
	if f.ctx.Err() != nil {
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		work, what := f.Engine.Provision, "provisioning"
		switch kind {
		case platform.Deleting:
			work, what = f.Engine.Deprovision, "deprovisioning"
		case platform.Updating:
			work, what = f.Engine.ApplyUpdate, "updating"
		}
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(f.ctx, f.Engine.DriverTimeout(f.ctx, id, time.Minute))
			err := work(ctx, id)
			cancel()
			if err == nil || f.ctx.Err() != nil {
				return
			}
			if attempt >= f.maxAttempts {
				reason := fmt.Sprintf("%s failed after %d attempts: %s", what, attempt, platform.ErrorMessage(err))
				if err := f.Engine.Fail(f.ctx, id, reason); err != nil && f.ctx.Err() == nil {
					f.t.Errorf("platformtest: fail #%d: %v", id, err)
				}
				return
			}
		}
	}()
}

// WaitState waits until resource id exists and satisfies done, and returns
// it; it fails the test after timeout.
func (f *Fixture) WaitState(id int64, timeout time.Duration, done func(platform.State) bool) *platform.Resource {
	f.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		changed := f.changed
		f.mu.Unlock()
		r, err := f.Store.Resource(context.Background(), id)
		if err != nil && platform.ErrorCode(err) != platform.NotFound {
			f.t.Fatalf("WaitState(#%d): %v", id, err)
		}
		if r != nil && done(r.State) {
			return r
		}
		select {
		case <-changed:
		case <-deadline.C:
			state := platform.State("not created")
			if r != nil {
				state = r.State
			}
			f.t.Fatalf("WaitState(#%d): still %s after %v", id, state, timeout)
		}
	}
}

// Settle waits until resource id is in a settled state (or deleted) and
// returns it.
func (f *Fixture) Settle(id int64, timeout time.Duration) *platform.Resource {
	f.t.Helper()
	return f.WaitState(id, timeout, func(s platform.State) bool { return s.Settled() })
}

// Notifier receives a request's thread messages, the way chat adapters do
// from the notify jobs.
type Notifier interface {
	Notify(ctx context.Context, r *platform.Resource, ev platform.Event) error
	Private(ctx context.Context, r *platform.Resource, secrets map[string]string) error
}

// Deliver sends every event of resources whose origin is platformName (""
// for all) to n, in order, from a goroutine of its own, as the notify jobs
// do: secret events are opened and passed to Private, the others to
// Notify. Errors are logged to the test.
func (f *Fixture) Deliver(platformName string, n Notifier) {
	q := &queue{platform: platformName, wake: make(chan struct{}, 1), done: make(chan struct{})}
	f.mu.Lock()
	f.queues = append(f.queues, q)
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			d, ok := q.pop()
			if !ok {
				return
			}
			var err error
			if d.ev.Kind == platform.EventSecret {
				var secrets map[string]string
				if secrets, err = f.Engine.Secrets(d.ev); err == nil {
					if err = n.Private(f.ctx, d.r, secrets); err == nil {
						f.Store.EraseSealed(d.ev.ID)
					}
				}
			} else {
				err = n.Notify(f.ctx, d.r, d.ev)
			}
			if err != nil && f.ctx.Err() == nil {
				f.t.Logf("platformtest: deliver event %d of #%d: %v", d.ev.ID, d.r.ID, err)
			}
			q.delivered()
		}
	}()
}

// Flush waits until every event recorded so far was delivered to every
// Deliver notifier, failing the test after timeout.
func (f *Fixture) Flush(timeout time.Duration) {
	f.t.Helper()
	f.mu.Lock()
	queues := slices.Clone(f.queues)
	f.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for _, q := range queues {
		if !q.wait(time.Until(deadline)) {
			f.t.Fatalf("platformtest: events not delivered after %v", timeout)
		}
	}
}

type delivery struct {
	r  *platform.Resource
	ev platform.Event
}

// queue is an unbounded FIFO of deliveries with one consumer.
type queue struct {
	platform string
	mu       sync.Mutex
	items    []delivery
	inflight bool
	closed   bool
	idle     []chan struct{}
	wake     chan struct{}
	done     chan struct{}
}

func (q *queue) push(d delivery) {
	q.mu.Lock()
	q.items = append(q.items, d)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) pop() (delivery, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return delivery{}, false
		}
		if len(q.items) > 0 {
			d := q.items[0]
			q.items = q.items[1:]
			q.inflight = true
			q.mu.Unlock()
			return d, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-q.done:
		}
	}
}

func (q *queue) delivered() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = false
	if len(q.items) == 0 {
		for _, c := range q.idle {
			close(c)
		}
		q.idle = nil
	}
}

func (q *queue) wait(timeout time.Duration) bool {
	q.mu.Lock()
	if len(q.items) == 0 && !q.inflight {
		q.mu.Unlock()
		return true
	}
	c := make(chan struct{})
	q.idle = append(q.idle, c)
	q.mu.Unlock()
	select {
	case <-c:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}
