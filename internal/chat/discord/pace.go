package discord

import (
	"time"

	"github.com/idpbot/idpbot/internal/chat/thread"
)

// Discord's documented rate limits, which the Notifier paces its calls by
// (thread.Limited): messages are created and edited, and threads started
// from a channel's messages, about 5 per 5 s per channel (a thread is a
// channel of its own), and all calls share a global 50 per second. discordgo's own limiter reads the headers of every
// answer and holds a call whose bucket is spent; pacing below the same
// limits leaves it little to hold, and lets the Notifier choose which
// call goes first (connection details and root messages) instead of
// whichever goroutine discordgo wakes.
const (
	channelEvery = time.Second
	channelBurst = 5
	globalEvery  = time.Second / 50
	globalBurst  = 50
)

// Limits implements thread.Limited.
func (a *Adapter) Limits(op thread.Op, channel, threadRef string) []thread.Limit {
	global := a.limit("global", globalEvery, globalBurst)
	switch op {
	case thread.OpPost:
		return []thread.Limit{a.limit("POST /channels/"+channel+"/messages", channelEvery, channelBurst), global}
	case thread.OpReply:
		if threadRef != "" {
			channel = threadRef // a reply is a message in the thread's own channel
		}
		return []thread.Limit{a.limit("POST /channels/"+channel+"/messages", channelEvery, channelBurst), global}
	case thread.OpEdit:
		return []thread.Limit{a.limit("PATCH /channels/"+channel+"/messages", channelEvery, channelBurst), global}
	case thread.OpThread:
		return []thread.Limit{a.limit("POST /channels/"+channel+"/threads", channelEvery, channelBurst), global}
	case thread.OpOpen:
		return []thread.Limit{global}
	}
	return nil // Find makes no call: a nonce makes a repeated post the same message
}

func (a *Adapter) limit(key string, every time.Duration, burst int) thread.Limit {
	return thread.Limit{Key: key, Every: time.Duration(float64(every) / a.rateScale), Burst: burst}
}
