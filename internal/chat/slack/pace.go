package slack

import (
	"time"

	"github.com/idpbot/idpbot/internal/chat/thread"
)

// Slack's documented rate limits, which the Notifier paces its calls by
// (thread.Limited): chat.postMessage about one message per second per
// channel, short bursts tolerated (a thread shares its channel's); the
// other methods by tier, per method and workspace — Tier 3 (chat.update,
// conversations.open, conversations.history and .replies) 50 calls a
// minute. The pacing allows a burst of one post: Slack does not say how
// long a burst it tolerates, and a post held back a moment costs less
// than a 429.
const (
	postEvery = time.Second
	postBurst = 1
	tier3     = time.Minute / 50
	// tier3Burst lets a quiet workspace's edits and lookups go at once,
	// within the minute's allowance (Slack tolerates bursts of a tier's
	// calls): 20 of the 50, so that a burst of first-time requesters has
	// their direct messages opened in seconds.
	tier3Burst = 20
)

// Limits implements thread.Limited.
func (a *Adapter) Limits(op thread.Op, channel, _ string) []thread.Limit {
	switch op {
	case thread.OpPost, thread.OpReply:
		return []thread.Limit{a.limit("chat.postMessage "+channel, postEvery, postBurst)}
	case thread.OpEdit:
		return []thread.Limit{a.limit("chat.update", tier3, tier3Burst)}
	case thread.OpOpen:
		return []thread.Limit{a.limit("conversations.open", tier3, tier3Burst)}
	case thread.OpFind:
		return []thread.Limit{a.limit("conversations.history", tier3, tier3Burst)}
	}
	return nil
}

func (a *Adapter) limit(key string, every time.Duration, burst int) thread.Limit {
	return thread.Limit{Key: key, Every: time.Duration(float64(every) / a.rateScale), Burst: burst}
}
