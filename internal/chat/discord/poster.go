package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

var (
	_ commands.Poster = (*Adapter)(nil)
	_ commands.Editor = (*Adapter)(nil)
)

// Post posts reply in channel (a channel id) as a message of its own —
// title, sections as embeds, actions as buttons — and returns the
// message's id, the ref PostInThread answers under. It is called from
// durable jobs: a message carries a nonce derived from its channel and
// content, so a retry after a lost response does not post it twice (an
// identical message posted again in the same channel within a few minutes
// is the same message). A 429 is returned as a *RateLimitError; a channel
// that does not exist (any more) as a platform NotFound error and one the
// bot may not post in as Forbidden, so that the job stops retrying; other
// failures (5xx, network) as plain errors to retry.
func (a *Adapter) Post(ctx context.Context, channel string, reply commands.Reply) (string, error) {
	if !isDigits(channel) {
		return "", platform.Errorf(platform.Invalid, "%q is not a Discord channel id.", clip(channel, 40))
	}
	m, err := a.postMessage(ctx, reply)
	if err != nil {
		return "", err
	}
	msg, err := a.send(ctx, channel, m, postNonce(channel, m), "")
	if err != nil {
		return "", a.postErr("post message", channel, err)
	}
	return msg.ID, nil
}

// PostInThread posts reply in the thread of the message ref in channel,
// starting the thread (named after that message) when there is none yet.
// Where threads cannot be (direct messages, no permission to start one)
// it answers the message ref in channel instead, and when the message was
// deleted it posts in channel. Errors are classified as Post's.
func (a *Adapter) PostInThread(ctx context.Context, channel, ref string, reply commands.Reply) error {
	if !isDigits(channel) || !isDigits(ref) {
		return platform.Errorf(platform.Invalid, "%q in %q is not a Discord message.", clip(ref, 40), clip(channel, 40))
	}
	m, err := a.postMessage(ctx, reply)
	if err != nil {
		return err
	}
	// A thread started from a message has the message's id.
	_, err = a.send(ctx, ref, m, postNonce(ref, m), "")
	if err == nil {
		return nil
	}
	if apiCode(err) != codeUnknownChannel {
		return a.postErr("post thread message", ref, err)
	}
	thread, err := a.startThread(ctx, channel, ref, reply.Title)
	if err != nil {
		return err
	}
	answer := ""
	if thread == channel {
		answer = ref
	}
	if _, err := a.send(ctx, thread, m, postNonce(thread, m), answer); err != nil {
		return a.postErr("post thread message", thread, err)
	}
	return nil
}

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

// Edit replaces the message ref in channel with reply; a reply without
// Actions leaves it without buttons. A message that was deleted is a
// platform NotFound error; other errors are classified as Post's.
func (a *Adapter) Edit(ctx context.Context, channel, ref string, reply commands.Reply) error {
	if !isDigits(channel) || !isDigits(ref) {
		return platform.Errorf(platform.Invalid, "%q in %q is not a Discord message.", clip(ref, 40), clip(channel, 40))
	}
	m, err := a.postMessage(ctx, reply)
	if err != nil {
		return err
	}
	components := m.Components
	if components == nil {
		components = []discordgo.MessageComponent{}
	}
	content := m.Content
	_, err = a.s.ChannelMessageEditComplex(&discordgo.MessageEdit{ID: ref, Channel: channel, Content: &content, Embeds: &m.Embeds,
		Components: &components, AllowedMentions: noMentions()}, discordgo.WithContext(ctx))
	if apiCode(err) == codeUnknownMessage {
		return &platform.Error{Code: platform.NotFound, Message: "The Discord message was deleted.", Err: err}
	}
	if err != nil {
		return a.postErr("edit message", channel, err)
	}
	return nil
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

// postNonce identifies message m posted in channel, so that Discord
// returns the message posted already instead of repeating it.
func postNonce(channel string, m Message) string {
	data, _ := json.Marshal(m)
	sum := sha256.Sum256(append([]byte(channel+"\x00"), data...))
	return "idp" + hex.EncodeToString(sum[:])[:21]
}

// postErr classifies an error of posting in channel: a *RateLimitError
// for a 429, a platform error for what retrying cannot fix (NotFound: no
// such channel; Forbidden: the bot may not post there; Invalid: Discord
// refused the message), and otherwise the wrapped error, to retry.
func (a *Adapter) postErr(route, channel string, err error) error {
	err = a.apiErr(route, err)
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return err
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
