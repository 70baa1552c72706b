package survey

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// MaxComment is the longest comment kept, in characters.
const MaxComment = 1000

// Store keeps surveys and their answers; the postgres package implements
// it. Its errors for people (a survey that does not exist or is closed)
// are platform Errors.
type Store interface {
	// Get returns survey id. An open survey's Result holds the answers so
	// far.
	Get(ctx context.Context, id int64) (Survey, error)
	// Latest returns the most recently opened survey of a platform, or a
	// NotFound error when there is none.
	Latest(ctx context.Context, platformName string) (Survey, error)
	// OpenFor returns the survey a person typing in a channel answers: the
	// open survey of that channel, or else the most recent open survey of
	// the platform. It is a NotFound error when no survey is open.
	OpenFor(ctx context.Context, platformName, channel string) (Survey, error)
	// Open opens the survey o describes unless the status says why not:
	// it claims the slot, calls post with the new survey in the
	// transaction that claims it, and records the returned message
	// reference, all while holding a per-channel lock, so that however
	// many replicas or retries open a survey it is posted once. An error
	// of post rolls everything back. sv is the survey opened, or the one
	// that prevented it (SlotTaken, ChannelBusy).
	Open(ctx context.Context, o Opening, post func(ctx context.Context, tx pgx.Tx, sv Survey) (ref string, err error)) (sv Survey, status OpenStatus, err error)
	// Record stores user's answer to survey id, replacing an earlier one.
	// A non-empty comment is stored with it (an empty one keeps the
	// earlier comment). Answering a closed survey is a Conflict: "this
	// survey is closed".
	Record(ctx context.Context, id int64, user string, score int, comment string) (Answer, error)
	// Comment stores user's comment on their answer to survey id. It is an
	// Invalid error before they answered, and a Conflict once the survey
	// is closed.
	Comment(ctx context.Context, id int64, user, text string) error
	// Close closes survey id and stores its result, with members as the
	// number of people who could have answered (0: unknown). It is
	// idempotent: closing a closed survey returns it unchanged, with
	// closed false.
	Close(ctx context.Context, id int64, members int) (sv Survey, closed bool, err error)
	// Previous returns the result of the last survey with answers that
	// closed in the same channel before sv's slot, or nil when there is
	// none.
	Previous(ctx context.Context, sv Survey) (*Result, error)
	// Comments returns the comments left on survey id, oldest first.
	Comments(ctx context.Context, id int64) ([]Comment, error)
	// Posted reports whether the result and the comments of survey id
	// were posted.
	Posted(ctx context.Context, id int64) (result, comments bool, err error)
	// MarkResultPosted records that survey id's result was posted.
	MarkResultPosted(ctx context.Context, id int64) error
	// MarkCommentsPosted records that survey id's comments were posted.
	MarkCommentsPosted(ctx context.Context, id int64) error
	// LatestResult returns the result of the latest survey round with
	// answers (the surveys of one slot, on every platform and channel,
	// counted together); ok is false before one closes. It is the score
	// of idp_net_promoter_score.
	LatestResult(ctx context.Context) (r Result, ok bool, err error)
}

// Opening is a survey to open.
type Opening struct {
	Platform, Channel string
	// Slot is the scheduled time the survey is for; one survey per
	// platform, channel and slot.
	Slot time.Time
	// OpenedBy is the admin who started it ("" when scheduled).
	OpenedBy string
	// Window is how long it stays open.
	Window time.Duration
	// SkipFrom and SkipTo, when SkipTo is set, are a period in which the
	// channel gets one survey: none is opened when one has a slot in
	// [SkipFrom, SkipTo).
	SkipFrom, SkipTo time.Time
}

// OpenStatus is what Store.Open did.
type OpenStatus int

// The outcomes of Store.Open.
const (
	// Opened: the survey was opened and posted.
	Opened OpenStatus = iota + 1
	// SlotTaken: the channel has a survey of this slot already.
	SlotTaken
	// ChannelBusy: another survey is still open in the channel.
	ChannelBusy
	// PeriodDone: the channel has a survey in the skip period.
	PeriodDone
)

// Answer is what Record did: the survey answered and the person's previous
// score, if they had answered before.
type Answer struct {
	Survey   Survey
	Score    int
	Previous int
	Changed  bool
}

// checkScore is the error of a score outside 0–10.
func checkScore(score int) error {
	if score < 0 || score > 10 {
		return &platform.Error{Code: platform.Invalid, Message: "Give a score from 0 to 10.",
			Fields: []platform.FieldError{{Field: "score", Message: "must be a whole number from 0 to 10"}}}
	}
	return nil
}

// cleanComment trims a comment and drops control characters (keeping line
// breaks); it is an Invalid error when longer than MaxComment.
func cleanComment(text string) (string, error) {
	text = strings.ToValidUTF8(text, "")
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, text)
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n > MaxComment {
		return "", &platform.Error{Code: platform.Invalid,
			Message: fmt.Sprintf("The comment is too long (%d characters; at most %d).", n, MaxComment),
			Fields:  []platform.FieldError{{Field: "comment", Message: fmt.Sprintf("at most %d characters", MaxComment)}}}
	}
	return text, nil
}
