package platform

import (
	"context"
	"time"
)

// Job is one piece of provisioning work handed to a driver.
type Job struct {
	Resource *Resource
	Service  *ServiceDefinition
	// Settings are the driver settings of the service's binding for the
	// resource's environment.
	Settings map[string]any
	// Step reports a progress step; it is shown in the request's thread.
	Step func(message string)
}

// Result is what provisioning produced. Outputs are shown in the thread;
// Secrets (passwords, connection URLs with credentials) go only to the
// requester, privately, and are never stored in plain text.
type Result struct {
	Outputs map[string]string
	Secrets map[string]string
}

// Provisioner creates and removes the thing a resource stands for. Both
// methods are idempotent: a retried job finds what a previous attempt made.
// An error for which IsPermanent is true fails the request; any other error
// is retried.
type Provisioner interface {
	Provision(ctx context.Context, job Job) (Result, error)
	Deprovision(ctx context.Context, job Job) error
}

// Driver is a named provisioner as configured for this deployment.
type Driver interface {
	Provisioner
	// Check returns nil when the driver can work, or an Unavailable error
	// that says why not ("no kubernetes target configured").
	Check() error
	// Timeout bounds one provisioning or deprovisioning attempt.
	Timeout() time.Duration
}

// EnvironmentChecker is implemented by a driver whose targets differ per
// environment (a cluster per environment): CheckEnvironment returns nil when
// it can work in env, or an Unavailable error saying why not. A request for
// an environment without a target is refused at once instead of failing in
// its job.
type EnvironmentChecker interface {
	CheckEnvironment(env string) error
}

// BindingChecker is implemented by a driver that can tell before a request
// is recorded whether a binding can work in env (for example, whether the
// cluster has the custom resources the binding's manifests need):
// CheckBinding returns nil, or an Unavailable error saying why not. It is
// called while planning, so it must be quick and must not fail for a
// transient outage.
type BindingChecker interface {
	CheckBinding(env string, b Binding) error
}

// Binding is a provisioner binding of a catalog entry: a driver and its
// settings, for the environments it matches (none: every environment).
type Binding struct {
	Driver       string         `json:"driver"`
	Environments []string       `json:"environments,omitempty"`
	Settings     map[string]any `json:"settings,omitempty"`
}

// Binding returns the provisioner binding for env: the one naming env wins
// over a catch-all one.
func (s *ServiceDefinition) Binding(env string) (Binding, bool) {
	var fallback *Binding
	for i, b := range s.Provisioners {
		if len(b.Environments) == 0 {
			if fallback == nil {
				fallback = &s.Provisioners[i]
			}
			continue
		}
		for _, e := range b.Environments {
			if e == env {
				return b, true
			}
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return Binding{}, false
}
