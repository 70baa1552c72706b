package survey

import (
	"context"
	"strconv"
	"time"

	"github.com/idpbot/idpbot/internal/commands"
)

// chatPoster posts surveys, their results and comments through a chat
// platform's commands.Poster, so that every platform that can post runs
// surveys.
type chatPoster struct {
	p   commands.Poster
	loc *time.Location
}

// ChatPoster returns the Poster of surveys through p, with times shown in
// loc.
func ChatPoster(p commands.Poster, loc *time.Location) Poster { return chatPoster{p: p, loc: loc} }

// scoreActions are the survey's 0–10 buttons: each answers for the
// clicker in the survey's channel, like typing /idp nps <score>.
func scoreActions() []commands.Action {
	out := make([]commands.Action, 11)
	for i := range out {
		out[i] = commands.Action{Label: strconv.Itoa(i), Command: "nps " + strconv.Itoa(i)}
	}
	return out
}

func (c chatPoster) PostSurvey(ctx context.Context, channel string, s Survey) (string, error) {
	r := SurveyReply(s, c.loc)
	r.Actions = scoreActions()
	return c.p.Post(ctx, channel, r)
}

func (c chatPoster) PostSurveyResult(ctx context.Context, channel, ref string, s Survey, prev *Result) error {
	return c.p.PostInThread(ctx, channel, ref, ResultReply(s, prev, c.loc))
}

func (c chatPoster) PostComments(ctx context.Context, channel string, s Survey, comments []Comment) error {
	_, err := c.p.Post(ctx, channel, CommentsReply(s, comments))
	return err
}

// ChannelMembers asks the platform when it can count a channel's members
// (Slack; Discord for channels everyone on the server sees); 0 means
// unknown, and the response rate is left out.
func (c chatPoster) ChannelMembers(ctx context.Context, channel string) (int, error) {
	if m, ok := c.p.(interface {
		ChannelMembers(ctx context.Context, channel string) (int, error)
	}); ok {
		return m.ChannelMembers(ctx, channel)
	}
	return 0, nil
}
