package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"

	slackapi "github.com/slack-go/slack"
)

// Slack's chat.postMessage has no idempotency key: when its answer is lost
// (a timeout, a crash before the answer was recorded) the message may or
// may not exist. Every message idpbot posts from a durable job carries
// message metadata naming the delivery; a redelivery
// (platform.Redelivery) first looks in the channel or thread for a message
// with that name and, when it finds one, takes it instead of posting again.
// Looking needs the *:history scopes; without them the bot logs it and
// posts, at least once.

// deliveryEventType is the metadata event type of idpbot's messages.
const deliveryEventType = "idpbot_delivery"

// lookLimit is how many messages a redelivery reads, newest first: it is
// the retry right after the attempt that may have posted, so its message
// is among the channel's latest.
const lookLimit = 200

// Find implements thread.Transport: see posted.
func (a *Adapter) Find(ctx context.Context, channel, threadTS, key string) (string, error) {
	return a.posted(ctx, channel, threadTS, key)
}

// posted returns the ts of the message with metadata key in channel (in
// the thread of threadTS when set), or "" when there is none or Slack
// would not say (a missing scope, an outage): posting again is then better
// than not posting. A rate limit is returned, so that the delivery waits.
func (a *Adapter) posted(ctx context.Context, channel, threadTS, key string) (string, error) {
	var (
		msgs []slackapi.Message
		err  error
	)
	if threadTS != "" {
		msgs, _, _, err = a.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: threadTS, Limit: lookLimit, IncludeAllMetadata: true})
	} else {
		var h *slackapi.GetConversationHistoryResponse
		h, err = a.api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
			ChannelID: channel, Limit: lookLimit, IncludeAllMetadata: true})
		if h != nil {
			msgs = h.Messages
		}
	}
	var limited *slackapi.RateLimitedError
	if errors.As(err, &limited) {
		return "", err
	}
	if err != nil {
		level := "cannot look for a message an earlier attempt may have posted; posting it"
		if code := slackCode(err); slices.Contains([]string{"missing_scope", "not_allowed_token_type", "no_permission"}, code) {
			level += " (grant the channels:history, groups:history, im:history and mpim:history scopes)"
		}
		a.log.WarnContext(ctx, level, "channel", channel, "err", err)
		return "", nil
	}
	for _, msg := range msgs {
		if msg.Metadata.EventType == deliveryEventType && fmt.Sprint(msg.Metadata.EventPayload["key"]) == key {
			return msg.Timestamp, nil
		}
	}
	return "", nil
}
