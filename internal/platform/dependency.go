package platform

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// UpstreamField is the parameter of a service with dependencies that names
// the resource it depends on: a resource of the service's first
// dependency, of the same team and environment (an api-gateway's upstream
// is the web-application it fronts).
const UpstreamField = "upstream"

// UpstreamService returns the service whose resources svc's upstream
// parameter names, and whether svc has such a parameter.
func (s *ServiceDefinition) UpstreamService() (string, bool) {
	if len(s.Dependencies) == 0 {
		return "", false
	}
	if _, ok := s.Field(UpstreamField); !ok {
		return "", false
	}
	return s.Dependencies[0], true
}

// Upstreams returns the ready resources of the service svc's upstream
// parameter refers to that teams own (nil teams: every team), in env (""
// : every environment), newest first.
func (e *Engine) Upstreams(ctx context.Context, svc *ServiceDefinition, teams []string, env string) ([]*Resource, error) {
	dep, ok := svc.UpstreamService()
	if !ok || teams != nil && len(teams) == 0 {
		return nil, nil
	}
	rs, err := e.store.Resources(ctx, ResourceFilter{Service: dep, Teams: teams, Environment: env, States: []State{Ready}})
	if err != nil {
		return nil, fmt.Errorf("find upstream %s resources: %w", dep, err)
	}
	return rs, nil
}

// checkDependencies checks that team has a ready resource of every service
// svc depends on in env, and that the upstream parameter names one. It
// returns the problems as field errors, and the upstream resource.
func (e *Engine) checkDependencies(ctx context.Context, svc *ServiceDefinition, team, env string, params map[string]any) ([]FieldError, *Resource, error) {
	if len(svc.Dependencies) == 0 {
		return nil, nil, nil
	}
	upstreamDep, hasUpstream := svc.UpstreamService()
	field := "dependencies"
	if hasUpstream {
		field = UpstreamField
	}
	var (
		errs     []FieldError
		upstream *Resource
	)
	for _, dep := range svc.Dependencies {
		active, err := e.store.Resources(ctx, ResourceFilter{Service: dep, Teams: []string{team}, Environment: env, States: ActiveStates()})
		if err != nil {
			return nil, nil, fmt.Errorf("find %s resources of %s in %s: %w", dep, team, env, err)
		}
		var ready []string
		for _, r := range active {
			if r.State == Ready {
				ready = append(ready, r.Name)
			}
		}
		if len(ready) == 0 {
			errs = append(errs, FieldError{Field: field, Rule: "dependencies",
				Message: fmt.Sprintf("%s depends on %s, and team %s has no ready %s in %s: create a %s in %s/%s first",
					svc.Name, dep, team, dep, env, dep, team, env)})
			continue
		}
		if !hasUpstream || dep != upstreamDep {
			continue
		}
		name, _ := params[UpstreamField].(string)
		name = strings.TrimSpace(name)
		if name == "" {
			errs = append(errs, FieldError{Field: field, Rule: "dependencies",
				Message: fmt.Sprintf("is required: the %s of team %s in %s this %s fronts (one of %s)", dep, team, env, svc.Name, strings.Join(ready, ", "))})
			continue
		}
		i := slices.IndexFunc(active, func(r *Resource) bool { return r.Name == name })
		switch {
		case i < 0:
			msg := fmt.Sprintf("team %s has no %s %q in %s (ready: %s)", team, dep, truncate(name, 64), env, strings.Join(ready, ", "))
			if c := Closest(name, ready); c != "" {
				msg += "; did you mean " + c + "?"
			}
			errs = append(errs, FieldError{Field: field, Rule: "dependencies", Message: msg})
		case active[i].State != Ready:
			errs = append(errs, FieldError{Field: field, Rule: "dependencies",
				Message: fmt.Sprintf("%s %s %s is %s; wait until it is ready", dep, name, active[i].Ref(), active[i].State)})
		default:
			upstream = active[i]
		}
	}
	return errs, upstream, nil
}

// Dependents returns the active resources that depend on r: those of a
// service whose upstream parameter names r, in r's team and environment.
func (e *Engine) Dependents(ctx context.Context, r *Resource) ([]*Resource, error) {
	var out []*Resource
	for _, svc := range e.catalog.Services() {
		if dep, ok := svc.UpstreamService(); !ok || dep != r.Service {
			continue
		}
		rs, err := e.store.Resources(ctx, ResourceFilter{Service: svc.Name, Teams: []string{r.Team}, Environment: r.Environment, States: ActiveStates()})
		if err != nil {
			return nil, fmt.Errorf("find resources depending on %s: %w", r.Name, err)
		}
		for _, d := range rs {
			if up, _ := d.Parameters[UpstreamField].(string); up == r.Name {
				out = append(out, d)
			}
		}
	}
	slices.SortFunc(out, func(a, b *Resource) int { return int(a.ID - b.ID) })
	return out, nil
}
