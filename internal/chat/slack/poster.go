package slack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

var (
	// channelID matches a Slack conversation id: a public (C) or private
	// (G) channel, a direct message (D), or a user (U, W) whose direct
	// message the bot posts in.
	channelID = regexp.MustCompile(`^[CDGUW][A-Z0-9]{2,40}$`)
	// messageTS matches a message timestamp, the ref of a posted message.
	messageTS = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,9}$`)
)

// ChannelMembers returns how many people are in channel, the bot not
// counted, for survey response rates. It returns 0 and no error when
// Slack cannot tell: a direct message, or a workspace that did not grant
// the channels:read and groups:read scopes conversations.info needs.
func (a *Adapter) ChannelMembers(ctx context.Context, channel string) (int, error) {
	if !channelID.MatchString(channel) {
		return 0, platform.Errorf(platform.Invalid, "%q is not a Slack channel id.", clip(channel, 40))
	}
	ch, err := a.api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: channel, IncludeNumMembers: true})
	switch slackCode(err) {
	case "":
	case "missing_scope", "not_allowed_token_type", "no_permission":
		a.log.WarnContext(ctx, "cannot count channel members: the app lacks the channels:read and groups:read scopes", "channel", channel, "err", err)
		return 0, nil
	}
	if err != nil {
		return 0, a.postErr("conversations.info", channel, err)
	}
	n := ch.NumMembers
	if ch.IsMember && n > 0 {
		n--
	}
	return n, nil
}

// postMessage renders a reply posted outside any command; actions that
// cannot be buttons are logged. A reply with nothing to show is Invalid.
func (a *Adapter) postMessage(ctx context.Context, reply commands.Reply) (Msg, error) {
	if strings.TrimSpace(reply.Title) == "" && len(reply.Sections) == 0 && len(reply.Actions) == 0 {
		return Msg{}, platform.Errorf(platform.Invalid, "There is nothing to post: the message has no title, text, sections or buttons.")
	}
	reply.Ephemeral = false
	return a.replyMessage(ctx, reply), nil
}

// Slack error codes of posting that retrying cannot fix.
var (
	// noChannel: the channel does not exist, or the bot cannot see it.
	noChannel = []string{"channel_not_found"}
	// mayNotPost: the bot may not post there.
	mayNotPost = []string{"not_in_channel", "is_archived", "restricted_action", "ekm_access_denied", "cannot_dm_bot",
		"team_access_not_granted", "messages_tab_disabled"}
	// cannotUpdate: the message to change is gone, or Slack will not let
	// it change.
	cannotUpdate = []string{"message_not_found", "cant_update_message", "edit_window_closed"}
	// refused: Slack refused the message itself.
	refused = []string{"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
		"invalid_arguments", "invalid_thread_ts", "thread_not_found", "cannot_reply_to_message"}
)

// postErr classifies an error of a call about channel: a *thread.RateLimitError
// for a 429, a platform error for what retrying cannot fix (NotFound: no
// such channel; Forbidden: the bot may not post there; Invalid: Slack
// refused the message), and otherwise the wrapped error, to retry.
func (a *Adapter) postErr(method, channel string, err error) (out error) {
	err = a.apiErr(method, err)
	var rl *thread.RateLimitError
	if errors.As(err, &rl) {
		return err
	}
	code := slackCode(err)
	if slices.Contains(unpostable, code) {
		defer func() { out = thread.Classify(thread.ErrLost, out) }()
	}
	switch {
	case slices.Contains(noChannel, code):
		return &platform.Error{Code: platform.NotFound, Message: fmt.Sprintf("The Slack channel %s does not exist any more, or idpbot cannot see it: invite it to the channel or configure another one.", channel), Err: err}
	case code == "is_archived":
		return &platform.Error{Code: platform.Forbidden, Message: fmt.Sprintf("The Slack channel %s is archived: unarchive it or configure another one.", channel), Err: err}
	case slices.Contains(mayNotPost, code):
		return &platform.Error{Code: platform.Forbidden, Message: fmt.Sprintf("idpbot may not post in the Slack channel %s (%s): invite it with /invite @idpbot or configure another channel.", channel, code), Err: err}
	case slices.Contains(refused, code):
		return &platform.Error{Code: platform.Invalid, Message: "Slack refused the message (" + code + ").", Err: err}
	}
	return err
}
