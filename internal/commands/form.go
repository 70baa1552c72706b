package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/tracing"
)

// Form is what a request for a service asks: name, team and environment,
// then the service's parameters in catalog order. Adapters render it (a
// Slack modal, Discord options, console prompts) and pass the answers to
// Router.Submit.
type Form struct {
	Service *platform.ServiceDefinition
	// Fields are name, team (options: the actor's teams, or every team for
	// admins), environment (options: the environments, default the first),
	// then the service's fields in order.
	Fields []platform.Field
	// Unavailable says why the service cannot be provisioned now, if so.
	Unavailable error
	// DryRun asks for the submission to be checked only.
	DryRun bool
	// OnBehalf marks a request an admin makes for a team (--for-team);
	// the adapter copies it into the Submission.
	OnBehalf bool
}

// Submission is a filled-in Form: the path every adapter's form submission
// takes.
type Submission struct {
	Actor    platform.Actor
	Platform string
	Channel  string
	Service  string
	// Values are the answers as typed, by field name; an empty or missing
	// value takes the field's default.
	Values map[string]string
	DryRun bool
	// OnBehalf marks a request an admin makes for a team they act for,
	// which is not self-service.
	OnBehalf bool
	// IdempotencyKey identifies the delivery and its actor (see
	// platform.IdempotencyKey) so a retried submission does not create twice.
	IdempotencyKey string
}

// Form returns the form for requesting service as actor.
func (r *Router) Form(ctx context.Context, actor platform.Actor, service string) (*Form, error) {
	svc, err := r.engine.Catalog().Lookup(service)
	if err != nil {
		return nil, err
	}
	org := r.engine.Org()
	teams := org.TeamsOf(actor)
	if org.IsAdmin(actor) {
		teams = org.TeamNames()
	}
	if len(teams) == 0 {
		return nil, platform.Errorf(platform.Forbidden, "You are not a member of any team, so you cannot request resources yet. Ask the platform team to add you to one.")
	}
	team := platform.Field{Name: "team", Title: "Team", Description: "The team that owns the resource", Kind: platform.KindEnum, Options: teams, Required: true}
	if len(teams) == 1 {
		team.Default = teams[0]
	}
	envs := org.EnvironmentNames()
	env := platform.Field{Name: "environment", Title: "Environment", Kind: platform.KindEnum, Options: envs, Required: true}
	if len(envs) > 0 {
		env.Default = envs[0]
	}
	params := slices.Clone(svc.Fields)
	if dep, ok := svc.UpstreamService(); ok {
		var scope []string // nil: every team, for admins
		if !org.IsAdmin(actor) {
			scope = teams
		}
		ups, err := r.engine.Upstreams(ctx, svc, scope, "")
		if err != nil {
			return nil, err
		}
		for i, fd := range params {
			if fd.Name == platform.UpstreamField {
				params[i] = upstreamField(fd, dep, ups)
			}
		}
	}
	f := &Form{
		Service: svc,
		Fields: append([]platform.Field{
			{Name: "name", Title: "Name", Description: "Lowercase letters, digits and hyphens, like orders-db", Kind: platform.KindString,
				MinLength: 1, MaxLength: platform.MaxNameLength, Pattern: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, Required: true},
			team, env,
		}, params...),
		Unavailable: r.engine.Availability(svc),
	}
	return f, nil
}

// maxUpstreamOptions is the most upstream choices a form offers, a Slack
// static select's limit; beyond it the field is free text.
const maxUpstreamOptions = 100

// upstreamField turns the upstream parameter into a choice of the ready
// resources of dep the person's teams have (any environment: the request
// is checked against its own team and environment). With none, it stays
// text and says what to create first.
func upstreamField(fd platform.Field, dep string, ups []*platform.Resource) platform.Field {
	var names []string
	for _, u := range ups {
		if !slices.Contains(names, u.Name) {
			names = append(names, u.Name)
		}
	}
	slices.Sort(names)
	fd.Required = true
	switch {
	case len(names) == 0:
		fd.Description = fmt.Sprintf("Your teams have no ready %s yet: create one first (/idp create %s)", dep, dep)
	case len(names) <= maxUpstreamOptions:
		fd.Kind, fd.Options = platform.KindEnum, names
		fd.MinLength, fd.MaxLength, fd.Pattern = 0, 0, ""
		fd.Description = fmt.Sprintf("A ready %s of the team, in the same environment", dep)
		if len(names) == 1 {
			fd.Default = names[0]
		}
	}
	return fd
}

// Field returns the form field called name.
func (f *Form) Field(name string) (platform.Field, bool) {
	for _, fd := range f.Fields {
		if fd.Name == name {
			return fd, true
		}
	}
	return platform.Field{}, false
}

// Check checks one answer as it is typed. An empty answer is fine when the
// field has a default. The error says what is wrong, without the field's
// name ("must be one of small, medium, large").
func (f *Form) Check(field, value string) error {
	fd, ok := f.Field(field)
	if !ok {
		return fmt.Errorf("is not a field of %s", f.Service.Name)
	}
	if strings.TrimSpace(value) == "" {
		if fd.Default != nil || !fd.Required {
			return nil
		}
		return errors.New("is required")
	}
	if field == "name" {
		return platform.ValidateName(strings.TrimSpace(value))
	}
	_, err := fd.Parse(value)
	return err
}

// PolicyDefaults returns the form's fields with defaults the policies allow
// for the answers given so far (name, team, environment), and a note for
// each default it changed: a parameter whose default a policy denies
// there takes the first other value that it allows ("In production,
// high_availability defaults to true: Production resources must have
// high_availability enabled."). Without answers enough to plan, the
// fields are returned as they are.
func (r *Router) PolicyDefaults(ctx context.Context, actor platform.Actor, form *Form, values map[string]string) ([]platform.Field, []string) {
	fields := slices.Clone(form.Fields)
	req := platform.Request{Service: form.Service.Name, Name: values["name"], Team: values["team"], Environment: values["environment"], Parameters: map[string]any{}}
	denied := func(field string) (platform.Verdict, bool) {
		p, err := r.engine.Plan(ctx, actor, req)
		if err != nil || len(p.Errors) > 0 {
			return platform.Verdict{}, false
		}
		for _, v := range p.Denials() {
			if v.Field == field {
				return v, true
			}
		}
		return platform.Verdict{}, false
	}
	var notes []string
	for i, f := range fields {
		if f.Default == nil || f.Name == "name" || f.Name == "team" || f.Name == "environment" {
			continue
		}
		verdict, ok := denied(f.Name)
		if !ok {
			continue
		}
		var alternatives []any
		switch f.Kind {
		case platform.KindBoolean:
			alternatives = []any{f.Default != true}
		case platform.KindEnum:
			for _, o := range f.Options {
				if o != f.Default {
					alternatives = append(alternatives, o)
				}
			}
		}
		for _, alt := range alternatives {
			req.Parameters[f.Name] = alt
			if _, still := denied(f.Name); !still {
				fields[i].Default = alt
				notes = append(notes, fmt.Sprintf("In %s, %s defaults to %s: %s.", req.Environment, f.Name, platform.FormatValue(alt), strings.TrimSuffix(verdict.Message, ".")))
				break
			}
			delete(req.Parameters, f.Name)
		}
		if _, changed := req.Parameters[f.Name]; !changed {
			notes = append(notes, fmt.Sprintf("In %s, %s: %s.", req.Environment, f.Name, strings.TrimSuffix(verdict.Message, ".")))
		}
	}
	return fields, notes
}

// fieldAliases are other spellings of the common fields.
var fieldAliases = map[string]string{"env": "environment"}

// Submit checks and submits a filled-in form (or a dry run of it) and
// returns the reply: the request created, the plan, or what is wrong with
// each field.
func (r *Router) Submit(ctx context.Context, sub Submission) (reply Reply) {
	defer func() {
		if p := recover(); p != nil {
			reply = r.fail(ctx, fmt.Errorf("panic submitting %s: %v", truncate(sub.Service, 64), p))
		}
	}()
	form, err := r.Form(ctx, sub.Actor, sub.Service)
	if err != nil {
		return r.fail(ctx, err)
	}
	if form.Unavailable != nil {
		return r.fail(ctx, form.Unavailable)
	}
	svc := form.Service
	req := platform.Request{
		Service:        svc.Name,
		Parameters:     map[string]any{},
		Origin:         platform.Origin{Platform: sub.Platform, Channel: sub.Channel},
		OnBehalf:       sub.OnBehalf,
		IdempotencyKey: sub.IdempotencyKey,
	}
	var (
		errs []platform.FieldError
		// read are the values typed in another spelling than the one
		// recorded (size=Small as small, high_availability=yes as true):
		// accepted on purpose, and shown so that nobody is surprised.
		read []platform.FieldError
	)
	keys := slices.Sorted(maps.Keys(sub.Values))
	for _, key := range keys {
		value := strings.TrimSpace(sub.Values[key])
		name := strings.ToLower(strings.TrimSpace(key))
		if a, ok := fieldAliases[name]; ok {
			name = a
		}
		fd, ok := form.Field(name)
		if !ok {
			msg := "is not a field of " + svc.Name
			names := make([]string, len(form.Fields))
			for i, f := range form.Fields {
				names[i] = f.Name
			}
			if c := platform.Closest(name, names); c != "" {
				msg += " (did you mean " + c + "?)"
			} else {
				msg += " (fields: " + strings.Join(names, ", ") + ")"
			}
			errs = append(errs, platform.FieldError{Field: truncate(key, 32), Message: msg})
			continue
		}
		if value == "" {
			continue // takes the default
		}
		switch name {
		case "name":
			req.Name = value
		case "team":
			req.Team = value
		case "environment":
			req.Environment = value
		default:
			v, err := fd.Parse(value)
			if err != nil {
				errs = append(errs, platform.FieldError{Field: name, Message: err.Error()})
				continue
			}
			req.Parameters[name] = v
			if got := platform.FormatValue(v); got != value {
				read = append(read, platform.FieldError{Field: name, Message: fmt.Sprintf("%s=%s (typed %s)", name, got, quoteInput(value, 20))})
			}
		}
	}
	for _, fd := range form.Fields {
		if fd.Name == "name" || fd.Name == "team" || fd.Name == "environment" {
			continue
		}
		if fd.Name == platform.UpstreamField {
			continue // the engine says which upstream it needs, or to create one first
		}
		if _, given := req.Parameters[fd.Name]; !given && fd.Required && fd.Default == nil && !hasError(errs, fd.Name) {
			errs = append(errs, platform.FieldError{Field: fd.Name, Message: "is required"})
		}
	}
	if len(errs) > 0 {
		// Ask the engine too, so that every problem is reported at once.
		if p, err := r.engine.Plan(ctx, sub.Actor, req); err == nil {
			for _, e := range p.Errors {
				if !hasError(errs, e.Field) {
					errs = append(errs, e)
				}
			}
		}
		errs = sortByForm(errs, form)
		return r.fail(ctx, &platform.Error{Code: platform.Invalid, Message: fmt.Sprintf("The request for %s has %s.", svc.Name, plural(len(errs), "invalid field")), Fields: errs})
	}
	if sub.DryRun {
		p, err := r.engine.Plan(ctx, sub.Actor, req)
		if err != nil {
			return r.fail(ctx, err)
		}
		return readAs(r.planReply(p, form), sortByForm(read, form))
	}
	sctx, span := tracing.Start(ctx, "commands.submit")
	if span.IsRecording() {
		span.SetAttributes(attribute.String("idpbot.service", req.Service),
			attribute.String("idpbot.team", req.Team), attribute.String("idpbot.environment", req.Environment))
	}
	res, p, err := r.engine.Submit(sctx, sub.Actor, req)
	tracing.End(span, err)
	if err != nil {
		reply := r.fail(ctx, err)
		reply.Plan = p
		if p != nil {
			reply.Errors = sortByForm(reply.Errors, form)
		}
		if platform.ErrorCode(err) == platform.Invalid && len(reply.Errors) > 0 {
			reply.Title = fmt.Sprintf("The request for %s has %s.", svc.Name, plural(len(reply.Errors), "invalid field"))
		}
		return reply
	}
	r.log.InfoContext(ctx, "request submitted", "request_id", res.ID, "service", res.Service, "team", res.Team, "env", res.Environment, "actor", sub.Actor.ID)
	return readAs(r.createdReply(res, p), sortByForm(read, form))
}

// readAs puts a note of the values read in another spelling at the top of
// reply: "Taken as size=small (typed "Small")."
func readAs(reply Reply, read []platform.FieldError) Reply {
	if len(read) == 0 {
		return reply
	}
	notes := make([]string, len(read))
	for i, e := range read {
		notes[i] = e.Message
	}
	note := Section{Text: "Taken as " + strings.Join(notes, ", ") + "."}
	reply.Sections = append([]Section{note}, reply.Sections...)
	return reply
}

func hasError(errs []platform.FieldError, field string) bool {
	return slices.ContainsFunc(errs, func(e platform.FieldError) bool { return e.Field == field })
}

// sortByForm orders field errors as the form's fields, unknown ones last.
func sortByForm(errs []platform.FieldError, form *Form) []platform.FieldError {
	pos := func(field string) int {
		for i, f := range form.Fields {
			if f.Name == field {
				return i
			}
		}
		return len(form.Fields)
	}
	slices.SortStableFunc(errs, func(a, b platform.FieldError) int { return pos(a.Field) - pos(b.Field) })
	return errs
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
