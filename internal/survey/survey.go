// Package survey runs idpbot's Net Promoter Score surveys: it opens a
// survey in each configured channel on a cron schedule (River periodic
// jobs), records one answer per person (changeable until the survey
// closes), closes it when its window ends, posts the result in the survey's
// thread and the comments to the platform team's channel. Chat adapters
// post through the Poster interface and render with SurveyReply,
// ResultReply and CommentsReply; the admin and answer commands are in
// Commands.
package survey

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Question is what every survey asks.
const Question = "How likely are you to recommend the platform to a colleague?"

// Survey is one survey posted in one chat channel.
type Survey struct {
	ID       int64
	Platform string
	Channel  string
	// MessageRef is the chat message the survey was posted as (a Slack
	// timestamp, a Discord message id): the thread its result goes to.
	MessageRef string
	// Slot is the scheduled time the survey was opened for; one survey per
	// platform, channel and slot.
	Slot     time.Time
	OpenedAt time.Time
	ClosesAt time.Time
	// ClosedAt is when the survey was closed; zero while it is open.
	ClosedAt time.Time
	// OpenedBy is the admin who started it by command ("" when scheduled).
	OpenedBy string
	// Result is the final result once closed, the answers so far before.
	Result Result
}

// Ref returns the short reference people type: "#12".
func (s Survey) Ref() string { return fmt.Sprintf("#%d", s.ID) }

// Closed reports whether the survey takes no more answers at now: it was
// closed, or its closing time has passed.
func (s Survey) Closed(now time.Time) bool {
	return !s.ClosedAt.IsZero() || !now.Before(s.ClosesAt)
}

// Comment is the optional remark a person left with their answer.
type Comment struct {
	// UserID is the platform-qualified ID of who wrote it ("slack:U012AB3CD").
	UserID string
	Score  int
	Text   string
	At     time.Time
}

// actionPrefix starts the custom id of every survey button.
const actionPrefix = "nps:"

// ActionID returns the custom id of the button that answers score to
// survey id (Slack action_id / value, Discord custom_id): "nps:12:9".
func ActionID(id int64, score int) string {
	return actionPrefix + strconv.FormatInt(id, 10) + ":" + strconv.Itoa(score)
}

// ParseActionID reverses ActionID. ok is false for ids that are not survey
// buttons or whose score is outside 0–10.
func ParseActionID(s string) (id int64, score int, ok bool) {
	rest, found := strings.CutPrefix(s, actionPrefix)
	if !found {
		return 0, 0, false
	}
	ids, scores, found := strings.Cut(rest, ":")
	if !found {
		return 0, 0, false
	}
	id, err := strconv.ParseInt(ids, 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, false
	}
	score, err = strconv.Atoi(scores)
	if err != nil || score < 0 || score > 10 || scores != strconv.Itoa(score) {
		return 0, 0, false
	}
	return id, score, true
}
