package platform

import "time"

// Stats is the platform's health over a window, as the original design
// measures it: self-service rate, time to provision, availability, active
// resources and developer satisfaction.
type Stats struct {
	Since time.Time
	// Requests is how many requests were made in the window; SelfService
	// how many of them by the team itself (not an admin on its behalf).
	Requests, SelfService int
	// Ready and Failed count the window's requests that finished
	// provisioning, by outcome.
	Ready, Failed int
	// AvgProvision and P90Provision are request-to-ready times of the
	// window's ready requests.
	AvgProvision, P90Provision time.Duration
	// Active is how many resources exist now (pending to ready).
	Active int
	// NPS is the latest closed survey round's score; HasNPS is false before
	// one closes.
	NPS    float64
	HasNPS bool
}

// SelfServiceRate is the percent of requests made self-service (ok is
// false without requests).
func (s Stats) SelfServiceRate() (pct float64, ok bool) {
	if s.Requests == 0 {
		return 0, false
	}
	return 100 * float64(s.SelfService) / float64(s.Requests), true
}

// Availability is the percent of finished requests that became ready
// rather than failed (ok is false when none finished).
func (s Stats) Availability() (pct float64, ok bool) {
	if s.Ready+s.Failed == 0 {
		return 0, false
	}
	return 100 * float64(s.Ready) / float64(s.Ready+s.Failed), true
}

// Snapshot is the state of the platform as the database tells it: the same
// on every replica and right after a restart.
type Snapshot struct {
	ResourcesByState map[State]int
	// OldestInState is the age of the oldest resource in each state that has
	// one (provisioning, awaiting_approval are the ones alerts watch).
	OldestInState map[State]time.Duration
	// SelfServiceRate is the percent of the last 30 days' resources created
	// self-service; HasSelfServiceRate is false when there were none.
	SelfServiceRate    float64
	HasSelfServiceRate bool
	// NPS is the latest closed survey's score; HasNPS is false before the
	// first survey closes.
	NPS    float64
	HasNPS bool
	// NPSResponses is how many people answered that survey (0 before one
	// closes with answers).
	NPSResponses int
	Queues       []QueueStat
}

// QueueStat describes one job queue.
type QueueStat struct {
	Queue         string
	Depth         int
	OldestPending time.Duration
}
