package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// postMessage renders a reply posted outside any command; actions that
// cannot be buttons are logged. A reply with nothing to show is Invalid.
func (a *Adapter) postMessage(ctx context.Context, reply commands.Reply) (Message, error) {
	m, problems := replyMessage(reply)
	a.logActionProblems(ctx, problems)
	if strings.TrimSpace(m.Content) == "" && len(m.Embeds) == 0 {
		return Message{}, platform.Errorf(platform.Invalid, "There is nothing to post: the message has no title, text or sections.")
	}
	return m, nil
}

// ChannelMembers returns about how many people can read channel, the bot
// not counted, for survey response rates. Discord lists a channel's
// members only to bots with the privileged server members intent, so it
// counts only a text channel everyone on the server can see: the
// server's approximate member count. For a channel hidden from @everyone,
// a direct message or a thread it returns 0 (unknown) and no error; the
// response rate is then left out.
func (a *Adapter) ChannelMembers(ctx context.Context, channel string) (int, error) {
	if !isDigits(channel) {
		return 0, platform.Errorf(platform.Invalid, "%q is not a Discord channel id.", clip(channel, 40))
	}
	ch, err := a.s.Channel(channel, discordgo.WithContext(ctx))
	if err != nil {
		return 0, a.postErr("get channel", channel, err)
	}
	if ch.GuildID == "" || (ch.Type != discordgo.ChannelTypeGuildText && ch.Type != discordgo.ChannelTypeGuildNews) {
		return 0, nil
	}
	g, err := a.s.GuildWithCounts(ch.GuildID, discordgo.WithContext(ctx))
	if err != nil {
		return 0, a.apiErr("get guild", err)
	}
	// The @everyone role has the server's id; its permissions, then the
	// channel's overwrite for it, say whether everyone sees the channel.
	visible := false
	for _, r := range g.Roles {
		if r.ID == g.ID {
			visible = r.Permissions&discordgo.PermissionViewChannel != 0
		}
	}
	for _, o := range ch.PermissionOverwrites {
		if o.Type == discordgo.PermissionOverwriteTypeRole && o.ID == g.ID {
			if o.Deny&discordgo.PermissionViewChannel != 0 {
				visible = false
			}
			if o.Allow&discordgo.PermissionViewChannel != 0 {
				visible = true
			}
		}
	}
	if !visible || g.ApproximateMemberCount < 2 {
		return 0, nil
	}
	return g.ApproximateMemberCount - 1, nil
}

// startThread starts the thread of message ref in channel and returns
// the channel to post in: the thread, or channel itself where there can
// be no thread.
func (a *Adapter) startThread(ctx context.Context, channel, ref, title string) (string, error) {
	name := clip(strings.TrimSpace(title), maxThreadName)
	if root, err := a.s.ChannelMessage(channel, ref, discordgo.WithContext(ctx)); err == nil {
		if t := threadTitle(root); t != "" {
			name = t
		}
	} else {
		a.log.DebugContext(ctx, "read the message a thread starts from", "channel", channel, "message", ref, "err", err)
	}
	if name == "" {
		name = "idpbot"
	}
	ch, err := a.s.MessageThreadStartComplex(channel, ref, &discordgo.ThreadStart{Name: name, AutoArchiveDuration: threadArchive},
		discordgo.WithContext(ctx))
	switch code := apiCode(err); {
	case err == nil:
		return ch.ID, nil
	case code == codeThreadExists:
		return ref, nil
	case code == codeWrongChannelType || code == codeMissingPermission:
		a.log.WarnContext(ctx, "cannot start a thread; answering the message instead", "channel", channel, "message", ref, "err", err)
		return channel, nil
	case code == codeUnknownMessage:
		a.log.WarnContext(ctx, "the message a thread should start from is gone; posting in its channel", "channel", channel, "message", ref)
		return channel, nil
	}
	return "", a.postErr("start thread", channel, err)
}

// markup is what threadTitle removes from a message's first line.
var markup = regexp.MustCompile("\\*\\*|__|\\\\([\\\\*_~`|<>\\[\\]#-])")

// threadTitle names a thread after the message it starts from: the first
// line of its content without markup, or else its first embed's title.
func threadTitle(m *discordgo.Message) string {
	for _, l := range strings.Split(m.Content, "\n") {
		l = strings.TrimSpace(markup.ReplaceAllStringFunc(l, func(s string) string {
			if strings.HasPrefix(s, `\`) {
				return s[1:]
			}
			return ""
		}))
		if l != "" {
			return clip(l, maxThreadName)
		}
	}
	for _, e := range m.Embeds {
		if t := strings.TrimSpace(e.Title); t != "" {
			return clip(t, maxThreadName)
		}
	}
	return ""
}

// postErr classifies an error of posting in channel: a *thread.RateLimitError
// for a 429, a platform error for what retrying cannot fix (NotFound: no
// such channel; Forbidden: the bot may not post there; Invalid: Discord
// refused the message), and otherwise the wrapped error, to retry.
func (a *Adapter) postErr(route, channel string, err error) (out error) {
	err = a.apiErr(route, err)
	var rl *thread.RateLimitError
	if errors.As(err, &rl) {
		return err
	}
	switch code := apiCode(err); {
	case lost(code):
		defer func() { out = thread.Classify(thread.ErrLost, out) }()
	case code == codeCannotDM:
		defer func() { out = thread.Classify(thread.ErrCannotDM, out) }()
	}
	switch apiCode(err) {
	case codeUnknownChannel:
		return &platform.Error{Code: platform.NotFound, Message: fmt.Sprintf("The Discord channel %s does not exist any more, or idpbot cannot see it.", channel), Err: err}
	case codeMissingAccess, codeMissingPermission, codeCannotDM:
		return &platform.Error{Code: platform.Forbidden, Message: fmt.Sprintf("idpbot may not post in the Discord channel %s: give it access and the Send Messages permission there.", channel), Err: err}
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		switch re.Response.StatusCode {
		case http.StatusNotFound:
			return &platform.Error{Code: platform.NotFound, Message: fmt.Sprintf("The Discord channel %s does not exist any more, or idpbot cannot see it.", channel), Err: err}
		case http.StatusForbidden:
			return &platform.Error{Code: platform.Forbidden, Message: fmt.Sprintf("idpbot may not post in the Discord channel %s.", channel), Err: err}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			return &platform.Error{Code: platform.Invalid, Message: "Discord refused the message.", Err: err}
		}
	}
	return err
}
