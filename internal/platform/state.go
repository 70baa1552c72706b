package platform

import "fmt"

// State is where a resource is in its lifecycle.
type State string

// The lifecycle of DESIGN.md §5.
const (
	Pending          State = "pending"
	AwaitingApproval State = "awaiting_approval"
	Provisioning     State = "provisioning"
	Ready            State = "ready"
	Failed           State = "failed"
	Deleting         State = "deleting"
	Deleted          State = "deleted"
	Rejected         State = "rejected"
	Expired          State = "expired"
	// Updating: a change of parameters is being applied to a ready
	// resource.
	Updating State = "updating"
	// Forgotten: an admin removed the record of a resource that could not
	// be deprovisioned; its name is free and something may be left behind.
	Forgotten State = "forgotten"
)

// States lists every state in lifecycle order.
var States = []State{Pending, AwaitingApproval, Provisioning, Ready, Updating, Failed, Deleting, Deleted, Rejected, Expired, Forgotten}

var transitions = map[State][]State{
	Pending:          {AwaitingApproval, Provisioning, Failed},
	AwaitingApproval: {Provisioning, Rejected, Expired},
	Provisioning:     {Ready, Failed},
	Ready:            {Deleting, Updating},
	Updating:         {Ready, Failed},
	// A failed resource is retried (the operation that failed runs again),
	// deleted, or forgotten by an admin.
	Failed:   {Deleting, Provisioning, Updating, Forgotten},
	Deleting: {Deleted, Failed, Forgotten},
}

// Transition returns nil when a resource may move from one state to another,
// and an Internal error otherwise: an illegal transition is a bug.
func Transition(from, to State) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return &Error{Code: Internal, Message: "illegal state transition", Err: fmt.Errorf("illegal transition %s → %s", from, to)}
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// Final reports whether no further transition happens without a person
// acting (ready and failed resources may still be deleted).
func (s State) Final() bool {
	switch s {
	case Ready, Failed, Deleted, Rejected, Expired, Forgotten:
		return true
	}
	return false
}

// Settled reports whether the bot has nothing more to do on its own: a final
// state, or waiting for a person's approval.
func (s State) Settled() bool { return s.Final() || s == AwaitingApproval }

// Active reports whether a resource in this state holds its name (Counted
// says which of them count towards the quota). A failed resource holds its
// name: what it stands for may exist in part, and it is retried, deleted or
// forgotten under that name.
func (s State) Active() bool {
	switch s {
	case Pending, AwaitingApproval, Provisioning, Ready, Updating, Failed, Deleting:
		return true
	}
	return false
}

// Counted reports whether a resource in this state counts towards its
// team's quota: an active one that is not failed.
func (s State) Counted() bool { return s.Active() && s != Failed }

// CountedStates lists the states for which Counted is true.
func CountedStates() []State {
	var out []State
	for _, s := range States {
		if s.Counted() {
			out = append(out, s)
		}
	}
	return out
}

// ActiveStates lists the states for which Active is true.
func ActiveStates() []State {
	var out []State
	for _, s := range States {
		if s.Active() {
			out = append(out, s)
		}
	}
	return out
}
