package platform

import (
	"context"
	"fmt"
)

// Outcome is what a policy rule decided.
type Outcome string

// Outcomes. Deny blocks the request; Warn allows it with a warning shown to
// the requester; Audit only records the verdict.
const (
	Allow Outcome = "allow"
	Deny  Outcome = "deny"
	Warn  Outcome = "warn"
	Audit Outcome = "audit"
)

// Verdict is one rule's decision about a request.
type Verdict struct {
	Rule    string  `json:"rule"`
	Outcome Outcome `json:"outcome"`
	Message string  `json:"message,omitempty"`
	// Field is the form field the verdict is about ("" for the whole request).
	Field string `json:"field,omitempty"`
}

// PolicyInput is what a policy sees of a request.
type PolicyInput struct {
	Service     *ServiceDefinition
	Name        string
	Team        string
	Environment string
	// Parameters are complete: defaults applied.
	Parameters map[string]any
	Requester  Actor
	// Usage is how many active resources of this service the team has.
	Usage int
	// Quota is the team's limit for this service; HasQuota is false when
	// there is none.
	Quota    int
	HasQuota bool
}

// Policy decides about requests. Evaluate returns one verdict per rule that
// applies; an error means the policy could not be evaluated.
type Policy interface {
	Evaluate(ctx context.Context, in PolicyInput) ([]Verdict, error)
}

// QuotaPolicy denies a request that would take a team past its quota for a
// service.
type QuotaPolicy struct{}

var _ Policy = QuotaPolicy{}

// Evaluate implements Policy.
func (QuotaPolicy) Evaluate(_ context.Context, in PolicyInput) ([]Verdict, error) {
	if !in.HasQuota {
		return nil, nil
	}
	v := Verdict{Rule: "quota", Outcome: Allow, Field: "team",
		Message: fmt.Sprintf("%s: %d of %d %s", in.Team, in.Usage, in.Quota, in.Service.Name)}
	if in.Usage >= in.Quota {
		v.Outcome = Deny
		v.Message = fmt.Sprintf("team %s has %d of %d %s", in.Team, in.Usage, in.Quota, in.Service.Name)
	}
	return []Verdict{v}, nil
}
