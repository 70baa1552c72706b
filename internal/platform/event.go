package platform

import "time"

// EventKind says what an audit event records.
type EventKind string

// Event kinds.
const (
	// EventTransition is a state change; From and To are set.
	EventTransition EventKind = "transition"
	// EventStep is a provisioner's progress step.
	EventStep EventKind = "step"
	// EventVerdict records a policy verdict that did not deny (warn, audit).
	EventVerdict EventKind = "verdict"
	// EventSecret carries sealed connection details for the requester only.
	// Its Sealed payload is erased once delivered; Message stays empty.
	EventSecret EventKind = "secret"
	// EventNote is any other remark in the resource's history.
	EventNote EventKind = "note"
	// EventApproval is one approver's approval of a request that needs
	// more approvals than this one; the approval that completes the count
	// is the transition out of awaiting_approval itself.
	EventApproval EventKind = "approval"
	// EventReminder tells approvers that a request still awaits their
	// decision.
	EventReminder EventKind = "reminder"
	// EventExpiring warns a resource's owners that its TTL ends soon.
	EventExpiring EventKind = "expiring"
)

// Event is one line of a resource's history: the audit log and the source of
// every message in its progress thread.
type Event struct {
	ID         int64
	ResourceID int64
	At         time.Time
	Actor      Actor
	Kind       EventKind
	From       State
	To         State
	Message    string
	// Sealed is the encrypted payload of an EventSecret.
	Sealed []byte
}
