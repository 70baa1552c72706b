package platform

// Thread is where a chat platform tells a resource's story: the channel,
// the root message edited as the state changes, and the thread replies go
// in. The references are opaque outside the platform's adapter (a Slack
// ts, a Discord message or thread id, …).
type Thread struct {
	Channel   string
	ThreadRef string
	RootRef   string
}
