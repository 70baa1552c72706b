package survey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
)

// MaxComment is the longest comment kept, in characters.
const MaxComment = 1000

// Querier runs SQL: a pool, a connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store keeps surveys and their answers in PostgreSQL (tables surveys and
// survey_responses). It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewStore returns a Store on pool; now is the clock (time.Now when nil).
// It does no I/O.
func NewStore(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}
}

// timestamp returns the current time at the precision PostgreSQL keeps.
func (s *Store) timestamp() time.Time { return s.now().Truncate(time.Microsecond) }

const surveyColumns = `id, platform, channel, message_ref, slot, opened_at, closes_at, closed_at, opened_by,
	promoters, passives, detractors, members`

func scanSurvey(row pgx.Row) (Survey, error) {
	var (
		sv                Survey
		closed            *time.Time
		p, pa, d, members int
	)
	err := row.Scan(&sv.ID, &sv.Platform, &sv.Channel, &sv.MessageRef, &sv.Slot, &sv.OpenedAt, &sv.ClosesAt, &closed,
		&sv.OpenedBy, &p, &pa, &d, &members)
	if err != nil {
		return Survey{}, err
	}
	if closed != nil {
		sv.ClosedAt = *closed
	}
	sv.Result = FromCounts(p, pa, d)
	sv.Result.Members = members
	return sv, nil
}

func notFound(id int64) error {
	return platform.Errorf(platform.NotFound, "There is no survey #%d.", id)
}

// errClosed is what answering a closed survey says.
func errClosed() error { return platform.Errorf(platform.Conflict, "Sorry, this survey is closed.") }

// Get returns survey id. An open survey's Result holds the answers so far.
func (s *Store) Get(ctx context.Context, id int64) (Survey, error) {
	sv, err := scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Survey{}, notFound(id)
	}
	if err != nil {
		return Survey{}, fmt.Errorf("get survey %d: %w", id, err)
	}
	if sv.ClosedAt.IsZero() {
		members := sv.Result.Members
		if sv.Result, err = tally(ctx, s.pool, id); err != nil {
			return Survey{}, err
		}
		sv.Result.Members = members
	}
	return sv, nil
}

// tally counts a survey's answers by group.
func tally(ctx context.Context, q Querier, id int64) (Result, error) {
	var p, pa, d int
	err := q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score BETWEEN 7 AND 8),
			count(*) FILTER (WHERE score <= 6)
		FROM survey_responses WHERE survey_id = $1`, id).Scan(&p, &pa, &d)
	if err != nil {
		return Result{}, fmt.Errorf("count answers of survey %d: %w", id, err)
	}
	return FromCounts(p, pa, d), nil
}

// Latest returns the most recently opened survey of a platform, or a
// NotFound error when there is none.
func (s *Store) Latest(ctx context.Context, platformName string) (Survey, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM surveys WHERE platform = $1 ORDER BY opened_at DESC, id DESC LIMIT 1`,
		platformName).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Survey{}, platform.Errorf(platform.NotFound, "There has been no survey on %s yet. Start one with /idp survey start.", platformName)
	}
	if err != nil {
		return Survey{}, fmt.Errorf("latest survey on %s: %w", platformName, err)
	}
	return s.Get(ctx, id)
}

// OpenFor returns the survey a person typing in a channel answers: the
// open survey of that channel, or else the most recent open survey of the
// platform. It is a NotFound error when no survey is open.
func (s *Store) OpenFor(ctx context.Context, platformName, channel string) (Survey, error) {
	sv, err := scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys
		WHERE platform = $1 AND closed_at IS NULL AND closes_at > $3
		ORDER BY channel = $2 DESC, opened_at DESC, id DESC LIMIT 1`, platformName, channel, s.timestamp()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Survey{}, platform.Errorf(platform.NotFound, "There is no open survey right now.")
	}
	if err != nil {
		return Survey{}, fmt.Errorf("open survey on %s: %w", platformName, err)
	}
	return sv, nil
}

// lockOpen locks survey id against closing until the transaction ends and
// returns it, or the error answering it gets: NotFound, or Conflict when it
// is closed.
func (s *Store) lockOpen(ctx context.Context, tx pgx.Tx, id int64, now time.Time) (Survey, error) {
	sv, err := scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE id = $1 FOR SHARE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Survey{}, notFound(id)
	}
	if err != nil {
		return Survey{}, fmt.Errorf("lock survey %d: %w", id, err)
	}
	if sv.Closed(now) {
		return Survey{}, errClosed()
	}
	return sv, nil
}

// Answer is what Record did: the survey answered and the person's previous
// score, if they had answered before.
type Answer struct {
	Survey   Survey
	Score    int
	Previous int
	Changed  bool
}

// Record stores user's answer to survey id, replacing an earlier one. A
// non-empty comment is stored with it (an empty one keeps the earlier
// comment). Answering a closed survey is a Conflict: "this survey is
// closed".
func (s *Store) Record(ctx context.Context, id int64, user string, score int, comment string) (Answer, error) {
	if score < 0 || score > 10 {
		return Answer{}, &platform.Error{Code: platform.Invalid, Message: "Give a score from 0 to 10.",
			Fields: []platform.FieldError{{Field: "score", Message: "must be a whole number from 0 to 10"}}}
	}
	comment, err := cleanComment(comment)
	if err != nil {
		return Answer{}, err
	}
	now := s.timestamp()
	a := Answer{Score: score}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sv, err := s.lockOpen(ctx, tx, id, now)
		if err != nil {
			return err
		}
		a.Survey = sv
		err = tx.QueryRow(ctx, `SELECT score FROM survey_responses WHERE survey_id = $1 AND user_id = $2`, id, user).Scan(&a.Previous)
		switch {
		case err == nil:
			a.Changed = true
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read earlier answer: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO survey_responses (survey_id, user_id, score, comment, answered_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)
			ON CONFLICT (survey_id, user_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at,
				comment = CASE WHEN excluded.comment = '' THEN survey_responses.comment ELSE excluded.comment END`,
			id, user, score, comment, now)
		if err != nil {
			return fmt.Errorf("store answer: %w", err)
		}
		return nil
	})
	if err != nil {
		return Answer{}, wrap(fmt.Sprintf("record answer to survey %d", id), err)
	}
	return a, nil
}

// Comment stores user's comment on their answer to survey id. It is an
// Invalid error before they answered, and a Conflict once the survey is
// closed.
func (s *Store) Comment(ctx context.Context, id int64, user, text string) error {
	text, err := cleanComment(text)
	if err != nil {
		return err
	}
	if text == "" {
		return platform.Errorf(platform.Invalid, "The comment is empty.")
	}
	now := s.timestamp()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.lockOpen(ctx, tx, id, now); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE survey_responses SET comment = $3, updated_at = $4 WHERE survey_id = $1 AND user_id = $2`,
			id, user, text, now)
		if err != nil {
			return fmt.Errorf("store comment: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return platform.Errorf(platform.Invalid, "Answer the survey first: pick a score from 0 to 10.")
		}
		return nil
	})
	return wrap(fmt.Sprintf("comment on survey %d", id), err)
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

// Close closes survey id and stores its result, with members as the number
// of people who could have answered (0: unknown). It is idempotent: closing
// a closed survey returns it unchanged, with closed false.
func (s *Store) Close(ctx context.Context, id int64, members int) (sv Survey, closed bool, err error) {
	now := s.timestamp()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sv, err = scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		if !sv.ClosedAt.IsZero() {
			return nil
		}
		r, err := tally(ctx, tx, id)
		if err != nil {
			return err
		}
		r.Members = max(members, 0)
		var score *float64
		if r.HasScore() {
			score = &r.NPS
		}
		_, err = tx.Exec(ctx, `UPDATE surveys SET closed_at = $2, score = $3, promoters = $4, passives = $5,
				detractors = $6, responses = $7, members = $8
			WHERE id = $1`, id, now, score, r.Promoters, r.Passives, r.Detractors, r.Responses, r.Members)
		if err != nil {
			return err
		}
		sv.ClosedAt, sv.Result, closed = now, r, true
		return nil
	})
	if err != nil {
		return Survey{}, false, wrap(fmt.Sprintf("close survey %d", id), err)
	}
	return sv, closed, nil
}

// Previous returns the result of the last survey with answers that closed
// in the same channel before sv's slot, or nil when there is none.
func (s *Store) Previous(ctx context.Context, sv Survey) (*Result, error) {
	var p, pa, d, members int
	err := s.pool.QueryRow(ctx, `SELECT promoters, passives, detractors, members FROM surveys
		WHERE platform = $1 AND channel = $2 AND slot < $3 AND closed_at IS NOT NULL AND responses > 0
		ORDER BY slot DESC LIMIT 1`, sv.Platform, sv.Channel, sv.Slot).Scan(&p, &pa, &d, &members)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("previous survey of %d: %w", sv.ID, err)
	}
	r := FromCounts(p, pa, d)
	r.Members = members
	return &r, nil
}

// Comments returns the comments left on survey id, oldest first.
func (s *Store) Comments(ctx context.Context, id int64) ([]Comment, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, score, comment, updated_at FROM survey_responses
		WHERE survey_id = $1 AND comment <> '' ORDER BY updated_at, user_id`, id)
	if err != nil {
		return nil, fmt.Errorf("comments of survey %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Comment, error) {
		var c Comment
		err := row.Scan(&c.UserID, &c.Score, &c.Text, &c.At)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("comments of survey %d: %w", id, err)
	}
	return out, nil
}

// markPosted records that a closed survey's result ("result") or comments
// ("comments") were posted.
func (s *Store) markPosted(ctx context.Context, id int64, what string) error {
	column := "result_posted_at"
	if what == "comments" {
		column = "comments_posted_at"
	}
	_, err := s.pool.Exec(ctx, `UPDATE surveys SET `+column+` = $2 WHERE id = $1`, id, s.timestamp())
	if err != nil {
		return fmt.Errorf("mark %s of survey %d posted: %w", what, id, err)
	}
	return nil
}

// posted reports whether the result and the comments of survey id were
// posted.
func (s *Store) posted(ctx context.Context, id int64) (result, comments bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT result_posted_at IS NOT NULL, comments_posted_at IS NOT NULL FROM surveys WHERE id = $1`,
		id).Scan(&result, &comments)
	if err != nil {
		return false, false, fmt.Errorf("survey %d posted: %w", id, err)
	}
	return result, comments, nil
}

// LatestResult returns the result of the latest survey round with answers
// that closed before before (any time when before is zero): the surveys of
// one slot, on every platform and channel, counted together. ok is false
// when no survey with answers has closed. closedAt is when the round's last
// survey closed. It is the score of idp_net_promoter_score and the digest.
func LatestResult(ctx context.Context, q Querier, before time.Time) (r Result, closedAt time.Time, ok bool, err error) {
	if before.IsZero() {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var (
		n             int
		p, pa, d, mem int
		at            *time.Time
	)
	err = q.QueryRow(ctx, `WITH latest AS (
			SELECT slot FROM surveys WHERE closed_at IS NOT NULL AND responses > 0 AND closed_at < $1
			ORDER BY closed_at DESC, id DESC LIMIT 1)
		SELECT count(*), coalesce(sum(promoters), 0), coalesce(sum(passives), 0), coalesce(sum(detractors), 0),
			CASE WHEN bool_and(members > 0) THEN coalesce(sum(members), 0) ELSE 0 END, max(closed_at)
		FROM surveys s JOIN latest USING (slot)
		WHERE s.closed_at IS NOT NULL AND s.closed_at < $1 AND s.responses > 0`, before).Scan(&n, &p, &pa, &d, &mem, &at)
	if err != nil {
		return Result{}, time.Time{}, false, fmt.Errorf("latest survey result: %w", err)
	}
	if n == 0 || at == nil {
		return Result{}, time.Time{}, false, nil
	}
	r = FromCounts(p, pa, d)
	r.Members = mem
	return r, *at, true, nil
}

// LatestResult is LatestResult on the store's pool with no time bound: the
// score the idp_net_promoter_score gauge shows.
func (s *Store) LatestResult(ctx context.Context) (Result, bool, error) {
	r, _, ok, err := LatestResult(ctx, s.pool, time.Time{})
	return r, ok, err
}

// wrap adds context to err unless it is a platform Error meant for the
// user or nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Code != platform.Internal {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
