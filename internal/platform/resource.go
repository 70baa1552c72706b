package platform

import (
	"fmt"
	"regexp"
	"time"
)

// Origin is where a request was made: the chat platform and channel the
// progress thread belongs to.
type Origin struct {
	Platform string `json:"platform"`
	Channel  string `json:"channel,omitempty"`
}

// Request is what a person submits: a service to provision, with its name,
// owning team, environment and parameters.
type Request struct {
	Service     string
	Name        string
	Team        string
	Environment string
	Parameters  map[string]any
	Origin      Origin
	// OnBehalf marks a request an admin makes for a team they may not be a
	// member of; such a request is not self-service.
	OnBehalf bool
	// IdempotencyKey identifies the delivery the request came from and the
	// person who made it, as built by the IdempotencyKey function (a Slack
	// view id, a Discord interaction id, with the actor). Submitting a key
	// already used returns the resource it created instead of creating
	// another; "" means no idempotency (the console).
	IdempotencyKey string
}

// Resource is a recorded request and the thing it provisions.
type Resource struct {
	ID          int64
	Service     string
	ServiceType string
	Name        string
	Team        string
	Environment string
	Parameters  map[string]any
	State       State
	// Reason explains a failed, rejected or expired state.
	Reason      string
	Requester   Actor
	SelfService bool
	Origin      Origin
	// IdempotencyKey is the Request's, if it had one.
	IdempotencyKey string
	// Outputs are non-secret results of provisioning (host, database name, URL).
	Outputs   map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
	// ReadyAt is when the resource became ready (zero until then).
	ReadyAt time.Time
	// ExpiresAt is when a resource with a TTL is deprovisioned (zero: never).
	ExpiresAt time.Time
	// RemindedAt is when approvers were reminded of the request (zero: not
	// yet); WarnedFor is the expiry the owner was last warned about.
	RemindedAt time.Time
	WarnedFor  time.Time
}

// Ref returns the short reference users type, "#42".
func (r *Resource) Ref() string { return fmt.Sprintf("#%d", r.ID) }

// ProvisionDuration is how long the resource took from request to ready.
func (r *Resource) ProvisionDuration() time.Duration {
	if r.ReadyAt.IsZero() {
		return 0
	}
	return r.ReadyAt.Sub(r.CreatedAt)
}

// MaxNameLength is the longest resource name: a DNS-1123 label.
const MaxNameLength = 63

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidateName checks that name is a DNS-1123 label: at most 63 lowercase
// letters, digits and hyphens, starting and ending with a letter or digit.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is required")
	case len(name) > MaxNameLength:
		return fmt.Errorf("must be at most %d characters (got %d)", MaxNameLength, len(name))
	case !dnsLabel.MatchString(name):
		return fmt.Errorf("must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (like orders-db)")
	}
	return nil
}
