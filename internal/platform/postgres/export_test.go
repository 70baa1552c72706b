package postgres

// The queries of Digests.Load, for the digest benchmark's query plans.
const (
	QueryRequests    = queryRequests
	QueryReadyNow    = queryReadyNow
	QueryTransitions = queryTransitions
	QueryReasons     = queryReasons
	QueryProvision   = queryProvision
	QueryApprovals   = queryApprovals
)
