package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/idpbot/idpbot/internal/platform"
)

// CostLimit bounds the work of one rule evaluation, in CEL cost units
// (roughly one per operation or list element visited). The built-in rules
// cost under 20.
const CostLimit = 100_000

// interruptEvery is how many comprehension iterations pass between checks
// for a cancelled context.
const interruptEvery = 100

// Set is a compiled set of rules. It is safe for concurrent use.
type Set struct {
	rules []compiled
}

type compiled struct {
	Rule
	outcome platform.Outcome
	prg     cel.Program
}

var _ platform.Policy = (*Set)(nil)

// newEnv declares the variables rules may use.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("service", cel.StringType),
		cel.Variable("service_type", cel.StringType),
		cel.Variable("name", cel.StringType),
		cel.Variable("team", cel.StringType),
		cel.Variable("environment", cel.StringType),
		cel.Variable("params", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("requester", cel.StringType),
		cel.Variable("usage", cel.IntType),
		cel.Variable("quota", cel.IntType),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	)
}

// Compile checks and compiles rules. Every invalid rule (no name, a
// duplicate name, an unknown mode, or an expression that does not compile
// or does not return bool) is reported in the error, each naming its rule.
func Compile(rules []Rule) (*Set, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("policy environment: %w", err)
	}
	s := &Set{}
	var errs []error
	seen := map[string]bool{}
	for i, r := range rules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
			errs = append(errs, fmt.Errorf("policy %s: has no name", name))
		} else if seen[name] {
			errs = append(errs, fmt.Errorf("policy %q: the name is used by another rule", name))
		}
		seen[name] = true
		c := compiled{Rule: r}
		switch r.Mode {
		case "", ModeEnforce:
			c.Mode, c.outcome = ModeEnforce, platform.Deny
		case ModeWarn:
			c.outcome = platform.Warn
		case ModeAudit:
			c.outcome = platform.Audit
		default:
			errs = append(errs, fmt.Errorf("policy %q: mode %q is not one of enforce, warn, audit", name, r.Mode))
		}
		if c.Message == "" {
			c.Message = cmp.Or(r.Description, "The request does not satisfy policy "+name)
		}
		if strings.TrimSpace(r.Expr) == "" {
			errs = append(errs, fmt.Errorf("policy %q: expr is empty", name))
			continue
		}
		ast, iss := env.Compile(r.Expr)
		if iss.Err() != nil {
			errs = append(errs, fmt.Errorf("policy %q: %s", name, iss.Err()))
			continue
		}
		if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
			errs = append(errs, fmt.Errorf("policy %q: expr returns %s, want bool", name, t))
			continue
		}
		c.prg, err = env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(interruptEvery))
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %q: %w", name, err))
			continue
		}
		s.rules = append(s.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// MustCompile is Compile for rules known to be valid, such as DefaultRules;
// it panics on an invalid rule.
func MustCompile(rules []Rule) *Set {
	s, err := Compile(rules)
	if err != nil {
		panic(err)
	}
	return s
}

// Rules returns the compiled rules, with defaults (mode, message) filled in.
func (s *Set) Rules() []Rule {
	out := make([]Rule, len(s.rules))
	for i, c := range s.rules {
		out[i] = c.Rule
	}
	return out
}

// Evaluate implements platform.Policy: one verdict per rule that matches the
// request, in rule order. A rule whose expression is true allows; a false
// one denies, warns or audits according to its mode. A rule that cannot be
// evaluated (cost limit exceeded, a missing parameter, a non-bool result)
// fails closed: enforce rules deny, warn and audit rules warn and audit,
// each saying the rule could not be evaluated. The error is only for a
// cancelled context.
func (s *Set) Evaluate(ctx context.Context, in platform.PolicyInput) ([]platform.Verdict, error) {
	var service, serviceType string
	if in.Service != nil {
		service, serviceType = in.Service.Name, in.Service.Type
	}
	vars := &activation{in: &in, service: service, serviceType: serviceType}
	var out []platform.Verdict
	for _, r := range s.rules {
		if len(r.Services) > 0 && !slices.Contains(r.Services, service) ||
			len(r.Environments) > 0 && !slices.Contains(r.Environments, in.Environment) {
			continue
		}
		v := platform.Verdict{Rule: r.Name, Outcome: platform.Allow, Message: r.Description, Field: r.Field}
		val, _, err := r.prg.ContextEval(ctx, vars)
		if err == nil {
			if b, ok := val.Value().(bool); ok {
				if !b {
					v.Outcome, v.Message = r.outcome, r.Message
				}
				out = append(out, v)
				continue
			}
			err = fmt.Errorf("it returned %s, not a bool", val.Type().TypeName())
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evaluate policy %s: %w", r.Name, context.Cause(ctx))
		}
		v.Outcome = r.outcome
		v.Message = fmt.Sprintf("Policy %s could not be evaluated (%s); ask the platform team to fix the rule.", r.Name, reason(err))
		out = append(out, v)
	}
	return out, nil
}

// activation is what expressions see of a request. Values are converted
// when a rule first reads them.
type activation struct {
	in                   *platform.PolicyInput
	service, serviceType string
	params               ref.Val
}

var _ interpreter.Activation = (*activation)(nil)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "service":
		return types.String(a.service), true
	case "service_type":
		return types.String(a.serviceType), true
	case "name":
		return types.String(a.in.Name), true
	case "team":
		return types.String(a.in.Team), true
	case "environment":
		return types.String(a.in.Environment), true
	case "requester":
		return types.String(a.in.Requester.ID), true
	case "usage":
		return types.Int(a.in.Usage), true
	case "quota":
		if !a.in.HasQuota {
			return types.Int(-1), true
		}
		return types.Int(a.in.Quota), true
	case "params":
		if a.params == nil {
			a.params = types.NewStringInterfaceMap(types.DefaultTypeAdapter, celParams(a.in.Parameters))
		}
		return a.params, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// celParams returns the parameters with integers as int64, copying only
// when a value needs converting.
func celParams(params map[string]any) map[string]any {
	if params == nil {
		return map[string]any{}
	}
	for _, v := range params {
		if needsConversion(v) {
			out := make(map[string]any, len(params))
			for k, v := range params {
				out[k] = celValue(v)
			}
			return out
		}
	}
	return params
}

// celValue makes parameter integers CEL ints: whole float64s (from JSON)
// become int64, so params.replicas >= 2 works whatever decoded them.
func celValue(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
	}
	return v
}

// needsConversion reports whether celValue changes v.
func needsConversion(v any) bool {
	switch v := v.(type) {
	case int, int32:
		return true
	case float64:
		return v == math.Trunc(v) && math.Abs(v) < 1<<53
	}
	return false
}

// reason says in a few words why an evaluation failed.
func reason(err error) string {
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return fmt.Sprintf("it exceeded the cost limit of %d", CostLimit)
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}
