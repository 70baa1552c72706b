package platform

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EngineConfig is what an Engine is built from.
type EngineConfig struct {
	Store   Store
	Catalog *Catalog
	Org     *Org
	// Drivers by name, as the catalog's provisioner bindings refer to them.
	Drivers map[string]Driver
	// Policies run after validation, in order; a QuotaPolicy is always first.
	Policies []Policy
	// Sealer encrypts connection details waiting for delivery.
	Sealer *Sealer
	Now    func() time.Time
	Logger *slog.Logger
	// Observer is told about milestones (nil: nobody).
	Observer Observer
	// Tracer traces driver work (nil: none).
	Tracer Tracer
	// Deadlines are the approval and expiry timings (zero fields: the
	// defaults).
	Deadlines Deadlines
}

// Engine validates, authorizes and records requests, and drives resources
// through their lifecycle with the provisioner drivers.
type Engine struct {
	store    Store
	catalog  *Catalog
	org      *Org
	drivers  map[string]Driver
	policies []Policy
	sealer   *Sealer
	now      func() time.Time
	log      *slog.Logger
	observer Observer
	tracer   Tracer
	deadline Deadlines
}

// NewEngine returns an Engine. It does no I/O.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{
		store:    cfg.Store,
		catalog:  cfg.Catalog,
		org:      cfg.Org,
		drivers:  cfg.Drivers,
		policies: append([]Policy{QuotaPolicy{}}, cfg.Policies...),
		sealer:   cfg.Sealer,
		now:      cfg.Now,
		log:      cfg.Logger,
		observer: cfg.Observer,
		tracer:   cfg.Tracer,
		deadline: cfg.Deadlines.withDefaults(),
	}
	if e.observer == nil {
		e.observer = nopObserver{}
	}
	if e.tracer == nil {
		e.tracer = nopTracer{}
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.org == nil {
		e.org = &Org{}
	}
	return e
}

// Catalog returns the service catalog.
func (e *Engine) Catalog() *Catalog { return e.catalog }

// Org returns the teams, environments and roles.
func (e *Engine) Org() *Org { return e.org }

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Driver returns the driver that provisions svc in env, or an Unavailable
// error saying why there is none that can.
func (e *Engine) Driver(svc *ServiceDefinition, env string) (Driver, Binding, error) {
	b, ok := svc.Binding(env)
	if !ok {
		return nil, b, Errorf(Unavailable, "%s is unavailable in %s: no provisioner is bound to that environment", svc.Name, env)
	}
	d, ok := e.drivers[b.Driver]
	if !ok {
		return nil, b, Errorf(Unavailable, "%s is unavailable: no %s target configured", svc.Name, b.Driver)
	}
	if err := d.Check(); err != nil {
		return nil, b, &Error{Code: Unavailable, Message: fmt.Sprintf("%s is unavailable: %s", svc.Name, ErrorMessage(err)), Err: err}
	}
	if ec, ok := d.(EnvironmentChecker); ok && env != "" {
		if err := ec.CheckEnvironment(env); err != nil {
			return nil, b, &Error{Code: Unavailable, Message: fmt.Sprintf("%s is unavailable in %s: %s", svc.Name, env, ErrorMessage(err)), Err: err}
		}
	}
	if bc, ok := d.(BindingChecker); ok && env != "" {
		if err := bc.CheckBinding(env, b); err != nil {
			return nil, b, &Error{Code: Unavailable, Message: fmt.Sprintf("%s is unavailable in %s: %s", svc.Name, env, ErrorMessage(err)), Err: err}
		}
	}
	return d, b, nil
}

// Availability returns nil when svc can be provisioned in at least one
// environment, or the reason it cannot.
func (e *Engine) Availability(svc *ServiceDefinition) error {
	var first error
	for _, env := range e.org.EnvironmentNames() {
		_, _, err := e.Driver(svc, env)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		_, _, first = e.Driver(svc, "")
	}
	return first
}

// Plan is what a request would do: validation errors, policy verdicts, quota
// and approvals, and the resource that would be created.
type Plan struct {
	Service  *ServiceDefinition
	Resource Resource
	// Errors are validation problems, each naming its field.
	Errors   []FieldError
	Verdicts []Verdict
	Usage    int
	Quota    int
	HasQuota bool
	// Approvals is how many approvals the request needs before provisioning.
	Approvals int
	Driver    string
	// Upstream is the resource the request depends on (its upstream
	// parameter), when its service has dependencies.
	Upstream *Resource
	// Unavailable says why the service cannot be provisioned, if it cannot.
	Unavailable error
}

// Denials returns the verdicts that deny the request.
func (p *Plan) Denials() []Verdict {
	var out []Verdict
	for _, v := range p.Verdicts {
		if v.Outcome == Deny {
			out = append(out, v)
		}
	}
	return out
}

// Warnings returns the verdicts that allow the request with a warning.
func (p *Plan) Warnings() []Verdict {
	var out []Verdict
	for _, v := range p.Verdicts {
		if v.Outcome == Warn {
			out = append(out, v)
		}
	}
	return out
}

// Err returns why the request cannot be submitted, or nil: validation errors
// (Invalid), denials (Forbidden) or an unavailable service (Unavailable).
func (p *Plan) Err() error {
	if p.Unavailable != nil {
		return p.Unavailable
	}
	if len(p.Errors) > 0 {
		return &Error{Code: Invalid, Message: "The request has invalid fields.", Fields: p.Errors}
	}
	if d := p.Denials(); len(d) > 0 {
		fields := make([]FieldError, len(d))
		for i, v := range d {
			fields[i] = FieldError{Field: v.Field, Message: v.Message, Rule: v.Rule}
		}
		return &Error{Code: Forbidden, Message: "The request was denied by policy.", Fields: fields}
	}
	return nil
}

// Plan validates req for actor and evaluates the policies, without creating
// anything. The returned error is for failures to evaluate (unknown service,
// store down); a request that is invalid or denied yields a Plan whose Err
// says why.
func (e *Engine) Plan(ctx context.Context, actor Actor, req Request) (*Plan, error) {
	svc, err := e.catalog.Lookup(req.Service)
	if err != nil {
		return nil, err
	}
	p := &Plan{Service: svc}
	teams := e.org.TeamsOf(actor)
	if req.Team == "" && len(teams) == 1 {
		req.Team = teams[0]
	}
	if req.Environment == "" && len(e.org.Environments) > 0 {
		req.Environment = e.org.Environments[0].Name
	}
	params := svc.Defaults(req.Parameters)
	p.Resource = Resource{
		Service:     svc.Name,
		ServiceType: svc.Type,
		Name:        req.Name,
		Team:        req.Team,
		Environment: req.Environment,
		Parameters:  params,
		State:       Pending,
		Requester:   actor,
		SelfService: true,
		Origin:      req.Origin,

		IdempotencyKey: req.IdempotencyKey,
	}
	if err := ValidateName(req.Name); err != nil {
		p.Errors = append(p.Errors, FieldError{Field: "name", Message: err.Error()})
	}
	switch {
	case req.Team == "" && len(teams) == 0:
		p.Errors = append(p.Errors, FieldError{Field: "team", Message: "you are not a member of any team; ask the platform team to add you"})
	case req.Team == "":
		p.Errors = append(p.Errors, FieldError{Field: "team", Message: "is required (one of " + strings.Join(teams, ", ") + ")"})
	default:
		if _, ok := e.org.Team(req.Team); !ok {
			msg := fmt.Sprintf("there is no team %q", truncate(req.Team, 64))
			if c := Closest(req.Team, e.org.TeamNames()); c != "" {
				msg += " (did you mean " + c + "?)"
			}
			p.Errors = append(p.Errors, FieldError{Field: "team", Message: msg})
		} else if !slices.Contains(teams, req.Team) {
			if e.org.IsAdmin(actor) {
				p.Resource.SelfService = false
			} else {
				p.Errors = append(p.Errors, FieldError{Field: "team", Message: fmt.Sprintf("you are not in team %s", req.Team)})
			}
		}
	}
	if req.OnBehalf {
		if !e.org.IsAdmin(actor) {
			p.Errors = append(p.Errors, FieldError{Field: "team", Message: "only platform admins may act on behalf of a team"})
		}
		p.Resource.SelfService = false
	}
	env, envOK := e.org.Environment(req.Environment)
	if !envOK {
		msg := fmt.Sprintf("there is no environment %q", truncate(req.Environment, 64))
		if c := Closest(req.Environment, e.org.EnvironmentNames()); c != "" {
			msg += " (did you mean " + c + "?)"
		} else {
			msg += " (one of " + strings.Join(e.org.EnvironmentNames(), ", ") + ")"
		}
		p.Errors = append(p.Errors, FieldError{Field: "environment", Message: msg})
	}
	teamOK := req.Team != "" && !slices.ContainsFunc(p.Errors, func(fe FieldError) bool { return fe.Field == "team" })
	var depErrs []FieldError
	if teamOK && envOK {
		if depErrs, p.Upstream, err = e.checkDependencies(ctx, svc, req.Team, env.Name, params); err != nil {
			return nil, fmt.Errorf("plan %s: %w", req.Name, err)
		}
	}
	for _, fe := range svc.Validate(params) {
		if !slices.ContainsFunc(depErrs, func(d FieldError) bool { return d.Field == fe.Field }) {
			p.Errors = append(p.Errors, fe)
		}
	}
	p.Errors = append(p.Errors, depErrs...)
	if envOK {
		p.Approvals = max(env.Approvals, svc.Approvals)
		if ttl := cmp.Or(svc.TTL, env.TTL); ttl > 0 {
			p.Resource.ExpiresAt = e.now().Add(ttl)
		}
		if _, b, err := e.Driver(svc, env.Name); err != nil {
			p.Unavailable = err
		} else {
			p.Driver = b.Driver
		}
	}
	if len(p.Errors) > 0 || p.Unavailable != nil {
		return p, nil
	}
	p.Quota, p.HasQuota = e.org.Quota(req.Team, svc.Name)
	usage, err := e.store.Usage(ctx, req.Team, svc.Name)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", req.Name, err)
	}
	p.Usage = usage
	p.Verdicts, err = e.evaluate(ctx, p, usage)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Engine) evaluate(ctx context.Context, p *Plan, usage int) ([]Verdict, error) {
	in := PolicyInput{
		Service:     p.Service,
		Name:        p.Resource.Name,
		Team:        p.Resource.Team,
		Environment: p.Resource.Environment,
		Parameters:  p.Resource.Parameters,
		Requester:   p.Resource.Requester,
		Usage:       usage,
		Quota:       p.Quota,
		HasQuota:    p.HasQuota,
	}
	var out []Verdict
	for _, pol := range e.policies {
		vs, err := pol.Evaluate(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("evaluate policies: %w", err)
		}
		out = append(out, vs...)
	}
	return out, nil
}

// Submit validates req, runs the policies and records the resource; the
// provisioning job is enqueued by the store in the same transaction. The
// Plan is returned with any error it explains. A request whose
// IdempotencyKey was already submitted returns the resource it created and a
// nil Plan.
func (e *Engine) Submit(ctx context.Context, actor Actor, req Request) (*Resource, *Plan, error) {
	if r, err := e.submitted(ctx, req.IdempotencyKey); r != nil || err != nil {
		return r, nil, err
	}
	p, err := e.Plan(ctx, actor, req)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Err(); err != nil {
		return nil, p, err
	}
	r := p.Resource
	msg := "requested by " + actor.Display()
	if p.Approvals > 0 {
		r.State = AwaitingApproval
		msg += fmt.Sprintf("; needs %d approval(s)", p.Approvals)
	}
	ev := Event{Actor: actor, Kind: EventTransition, To: r.State, Message: msg}
	err = e.store.CreateResource(ctx, &r, ev, func(usage int) error {
		vs, err := e.evaluate(ctx, p, usage)
		if err != nil {
			return err
		}
		fresh := *p
		fresh.Verdicts = vs
		if err := fresh.Err(); err != nil {
			*p = fresh
			return err
		}
		return nil
	})
	if err != nil {
		if r, _ := e.submitted(ctx, req.IdempotencyKey); r != nil {
			return r, nil, nil // a concurrent delivery of the same request won
		}
		return nil, p, err
	}
	e.observer.Created(&r)
	for _, v := range p.Verdicts {
		if v.Outcome == Warn || v.Outcome == Audit {
			if _, err := e.store.AddEvent(ctx, Event{ResourceID: r.ID, Actor: System, Kind: EventVerdict, Message: fmt.Sprintf("%s (%s): %s", v.Rule, v.Outcome, v.Message)}); err != nil {
				e.log.WarnContext(ctx, "record verdict", "request_id", r.ID, "err", err)
			}
		}
	}
	return &r, p, nil
}

// submitted returns the resource a request with this idempotency key
// already created, if any.
func (e *Engine) submitted(ctx context.Context, key string) (*Resource, error) {
	if key == "" {
		return nil, nil
	}
	rs, err := e.store.Resources(ctx, ResourceFilter{IdempotencyKey: key, Limit: 1})
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// ListOptions selects what List returns.
type ListOptions struct {
	Team        string
	Environment string
	Service     string
	Mine        bool
	// All includes deleted, rejected and expired resources.
	All   bool
	Limit int
}

// visibleTeams returns the teams whose resources actor may see (nil: all).
func (e *Engine) visibleTeams(actor Actor) []string {
	if e.org.IsAdmin(actor) || e.org.IsApprover(actor) {
		return nil
	}
	teams := e.org.TeamsOf(actor)
	if teams == nil {
		teams = []string{}
	}
	return teams
}

// List returns the resources actor may see that match opts, newest first.
func (e *Engine) List(ctx context.Context, actor Actor, opts ListOptions) ([]*Resource, error) {
	f, err := e.listFilter(actor, opts)
	if err != nil || f.Teams != nil && len(f.Teams) == 0 {
		return nil, err
	}
	return e.store.Resources(ctx, f)
}

// Find returns the resource actor refers to by "#42", "42" or its name. A
// name shared by several visible resources is a Conflict listing them;
// resources of other teams are NotFound, as if they did not exist.
func (e *Engine) Find(ctx context.Context, actor Actor, ref string) (*Resource, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, &Error{Code: Invalid, Message: "Which resource? Give its name or #id.", Fields: []FieldError{{Field: "name", Message: "is required"}}}
	}
	teams := e.visibleTeams(actor)
	notFound := Errorf(NotFound, "There is no resource %q that you can see. Try /idp list.", truncate(ref, 64))
	if id, err := strconv.ParseInt(strings.TrimPrefix(ref, "#"), 10, 64); err == nil {
		r, err := e.store.Resource(ctx, id)
		if ErrorCode(err) == NotFound || err == nil && teams != nil && !slices.Contains(teams, r.Team) {
			return nil, notFound
		}
		return r, err
	}
	if ValidateName(ref) != nil {
		return nil, notFound
	}
	if teams != nil && len(teams) == 0 {
		return nil, notFound
	}
	rs, err := e.store.Resources(ctx, ResourceFilter{Name: ref, Teams: teams, States: ActiveStates()})
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		rs, err = e.store.Resources(ctx, ResourceFilter{Name: ref, Teams: teams, Limit: 1})
		if err != nil {
			return nil, err
		}
	}
	switch len(rs) {
	case 0:
		return nil, notFound
	case 1:
		return rs[0], nil
	}
	refs := make([]string, len(rs))
	for i, r := range rs {
		refs[i] = fmt.Sprintf("%s (%s, %s/%s)", r.Ref(), r.Service, r.Team, r.Environment)
	}
	return nil, Errorf(Conflict, "Several resources are called %s: %s. Use the #id.", ref, strings.Join(refs, ", "))
}

// Events returns the history of a resource actor may see.
func (e *Engine) Events(ctx context.Context, actor Actor, r *Resource) ([]Event, error) {
	if teams := e.visibleTeams(actor); teams != nil && !slices.Contains(teams, r.Team) {
		return nil, Errorf(NotFound, "There is no resource %s that you can see.", r.Ref())
	}
	return e.store.Events(ctx, r.ID)
}

// Delete starts deprovisioning the resource ref refers to. Only members of
// the owning team and admins may delete, and only a resource that nothing
// active depends on.
func (e *Engine) Delete(ctx context.Context, actor Actor, ref string) (*Resource, error) {
	r, err := e.Find(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	if err := e.Deletable(ctx, actor, r); err != nil {
		return nil, err
	}
	return e.store.Transition(ctx, r.ID, Deleting, Event{Actor: actor, Kind: EventTransition, Message: "deletion requested by " + actor.Display()}, nil)
}

// Deletable returns nil when actor may delete r now, or why not: not in
// the owning team (Forbidden), not ready or failed, or depended on by other
// active resources, which it names (Conflict).
func (e *Engine) Deletable(ctx context.Context, actor Actor, r *Resource) error {
	if !e.org.MayManage(actor, r.Team) {
		return Errorf(Forbidden, "You are not in team %s, which owns %s.", r.Team, r.Name)
	}
	switch r.State {
	case Deleting:
		return Errorf(Conflict, "%s %s is already being deleted.", r.Name, r.Ref())
	case Deleted, Rejected, Expired:
		return Errorf(Conflict, "%s %s is already %s.", r.Name, r.Ref(), r.State)
	case Pending, Provisioning, AwaitingApproval:
		return Errorf(Conflict, "%s %s is %s; delete it once it is ready or failed.", r.Name, r.Ref(), r.State)
	}
	deps, err := e.Dependents(ctx, r)
	if err != nil {
		return err
	}
	if len(deps) > 0 {
		names := make([]string, len(deps))
		for i, d := range deps {
			names[i] = fmt.Sprintf("%s %s (%s)", d.Name, d.Ref(), d.Service)
		}
		verb, them := "depend", "them"
		if len(deps) == 1 {
			verb, them = "depends", "it"
		}
		return Errorf(Conflict, "%s %s cannot be deleted: %s %s on it. Delete %s first.", r.Name, r.Ref(), strings.Join(names, ", "), verb, them)
	}
	return nil
}

// Provision runs the driver for resource id: pending → provisioning → ready.
// It is what the provisioning job calls, and it is safe to call again after a
// crash: a resource already provisioning is resumed, one in any other state
// is left alone. A permanent driver error fails the resource and returns
// nil; any other error is returned for the job to retry.
func (e *Engine) Provision(ctx context.Context, id int64) error {
	r, err := e.store.Resource(ctx, id)
	if err != nil {
		return err
	}
	switch r.State {
	case Pending:
		r, err = e.store.Transition(ctx, id, Provisioning, Event{Actor: System, Kind: EventTransition, Message: "provisioning started"}, nil)
		if err != nil {
			return err
		}
	case Provisioning:
		resumed, err := e.resumed(ctx, id)
		if err != nil {
			return err
		}
		if resumed {
			if _, err := e.store.AddEvent(ctx, Event{ResourceID: id, Actor: System, Kind: EventStep, Message: "resuming provisioning"}); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	job, d, err := e.job(ctx, r)
	if err != nil {
		if IsPermanent(err) || ErrorCode(err) == Unavailable {
			return e.Fail(ctx, id, ErrorMessage(err))
		}
		return err
	}
	dctx, span := e.tracer.Start(ctx, "driver.provision", r)
	res, err := d.Provision(dctx, traced(job, span))
	span.End(err)
	if err != nil {
		if IsPermanent(err) {
			return e.Fail(ctx, id, ErrorMessage(err))
		}
		return fmt.Errorf("provision %s: %w", r.Name, err)
	}
	var sealed []byte
	if len(res.Secrets) > 0 {
		if e.sealer == nil {
			return e.Fail(ctx, id, "connection details could not be delivered: no secret key configured")
		}
		if sealed, err = e.sealer.Seal(id, res.Secrets); err != nil {
			return fmt.Errorf("seal secrets of %s: %w", r.Name, err)
		}
	}
	// The connection details commit with the transition: a crash in
	// between must not leave a ready resource whose requester never gets
	// them.
	var extra []Event
	if sealed != nil {
		extra = append(extra, Event{Actor: System, Kind: EventSecret, Sealed: sealed})
	}
	now := e.now()
	r, err = e.store.Transition(ctx, id, Ready, Event{Actor: System, Kind: EventTransition, Message: "ready"}, func(r *Resource) error {
		r.Outputs = res.Outputs
		r.ReadyAt = now
		return nil
	}, extra...)
	if err != nil {
		return err
	}
	e.observer.Provisioned(r, true, r.ProvisionDuration())
	return nil
}

// resumed reports whether provisioning of resource id already began
// before: false when the last event is its entry into provisioning (an
// approved or retried request whose job starts now).
func (e *Engine) resumed(ctx context.Context, id int64) (bool, error) {
	evs, err := e.store.Events(ctx, id)
	if err != nil {
		return false, err
	}
	// An approved request, or a retried one, starts afresh.
	if n := len(evs); n > 0 && evs[n-1].Kind == EventTransition && evs[n-1].To == Provisioning &&
		(evs[n-1].From == AwaitingApproval || evs[n-1].From == Failed) {
		return false, nil
	}
	return true, nil
}

// Deprovision runs the driver's Deprovision for a resource in deleting and
// marks it deleted. Like Provision it may be called again after a crash.
func (e *Engine) Deprovision(ctx context.Context, id int64) error {
	r, err := e.store.Resource(ctx, id)
	if err != nil {
		return err
	}
	if r.State != Deleting {
		return nil
	}
	job, d, err := e.job(ctx, r)
	if err != nil {
		if IsPermanent(err) || ErrorCode(err) == Unavailable {
			return e.Fail(ctx, id, "deprovisioning failed: "+ErrorMessage(err))
		}
		return err
	}
	dctx, span := e.tracer.Start(ctx, "driver.deprovision", r)
	err = d.Deprovision(dctx, traced(job, span))
	span.End(err)
	if err != nil {
		if IsPermanent(err) {
			return e.Fail(ctx, id, "deprovisioning failed: "+ErrorMessage(err))
		}
		return fmt.Errorf("deprovision %s: %w", r.Name, err)
	}
	_, err = e.store.Transition(ctx, id, Deleted, Event{Actor: System, Kind: EventTransition, Message: "deleted"}, nil)
	return err
}

// Fail moves a provisioning, updating or deleting resource to failed with a reason the
// requester can read. A resource already settled is left alone.
func (e *Engine) Fail(ctx context.Context, id int64, reason string) error {
	var from State
	r, err := e.store.Transition(ctx, id, Failed, Event{Actor: System, Kind: EventTransition, Message: reason}, func(r *Resource) error {
		from = r.State
		r.Reason = reason
		return nil
	})
	if ErrorCode(err) == Conflict {
		return nil
	}
	switch {
	case err != nil || from == Deleting:
	case from == Updating:
		e.updated(r, UpdateFailed)
	default:
		e.observer.Provisioned(r, false, e.now().Sub(r.CreatedAt))
	}
	return err
}

func (e *Engine) job(ctx context.Context, r *Resource) (Job, Driver, error) {
	svc, err := e.catalog.Lookup(r.Service)
	if err != nil {
		return Job{}, nil, Wrap(Invalid, err, fmt.Sprintf("service %s is no longer in the catalog", r.Service))
	}
	d, b, err := e.Driver(svc, r.Environment)
	if err != nil {
		return Job{}, nil, err
	}
	step := func(msg string) {
		if _, err := e.store.AddEvent(context.WithoutCancel(ctx), Event{ResourceID: r.ID, Actor: System, Kind: EventStep, Message: msg}); err != nil {
			e.log.WarnContext(ctx, "record progress step", "request_id", r.ID, "err", err)
		}
	}
	return Job{Resource: r, Service: svc, Settings: maps.Clone(b.Settings), Step: step}, d, nil
}

// DriverTimeout returns the attempt timeout of the driver of resource id's
// service, or fallback when it cannot be told.
func (e *Engine) DriverTimeout(ctx context.Context, id int64, fallback time.Duration) time.Duration {
	r, err := e.store.Resource(ctx, id)
	if err != nil {
		return fallback
	}
	svc, err := e.catalog.Lookup(r.Service)
	if err != nil {
		return fallback
	}
	d, _, err := e.Driver(svc, r.Environment)
	if err != nil || d.Timeout() <= 0 {
		return fallback
	}
	return d.Timeout()
}

// Secrets opens the sealed connection details of a secret event.
func (e *Engine) Secrets(ev Event) (map[string]string, error) {
	if e.sealer == nil {
		return nil, errors.New("no secret key configured")
	}
	return e.sealer.Open(ev.ResourceID, ev.Sealed)
}
