package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/survey"
)

// Surveys keeps NPS surveys and their answers (tables surveys and
// survey_responses). It implements survey.Store and is safe for concurrent
// use.
type Surveys struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewSurveys returns Surveys on pool; now is the clock (time.Now when
// nil). It does no I/O.
func NewSurveys(pool *pgxpool.Pool, now func() time.Time) *Surveys {
	if now == nil {
		now = time.Now
	}
	return &Surveys{pool: pool, now: now}
}

// timestamp returns the current time at the precision PostgreSQL keeps.
func (s *Surveys) timestamp() time.Time { return s.now().Truncate(time.Microsecond) }

const surveyColumns = `id, platform, channel, message_ref, slot, opened_at, closes_at, closed_at, opened_by,
	promoters, passives, detractors, members`

func scanSurvey(row pgx.Row) (survey.Survey, error) {
	var (
		sv                survey.Survey
		closed            *time.Time
		p, pa, d, members int
	)
	err := row.Scan(&sv.ID, &sv.Platform, &sv.Channel, &sv.MessageRef, &sv.Slot, &sv.OpenedAt, &sv.ClosesAt, &closed,
		&sv.OpenedBy, &p, &pa, &d, &members)
	if err != nil {
		return survey.Survey{}, err
	}
	if closed != nil {
		sv.ClosedAt = *closed
	}
	sv.Result = survey.FromCounts(p, pa, d)
	sv.Result.Members = members
	return sv, nil
}

func surveyNotFound(id int64) error {
	return platform.Errorf(platform.NotFound, "There is no survey #%d.", id)
}

// errClosed is what answering a closed survey says.
func errClosed() error { return platform.Errorf(platform.Conflict, "Sorry, this survey is closed.") }

// Get implements survey.Store.
func (s *Surveys) Get(ctx context.Context, id int64) (survey.Survey, error) {
	sv, err := scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return survey.Survey{}, surveyNotFound(id)
	}
	if err != nil {
		return survey.Survey{}, fmt.Errorf("get survey %d: %w", id, err)
	}
	if sv.ClosedAt.IsZero() {
		members := sv.Result.Members
		if sv.Result, err = tally(ctx, s.pool, id); err != nil {
			return survey.Survey{}, err
		}
		sv.Result.Members = members
	}
	return sv, nil
}

// tally counts a survey's answers by group.
func tally(ctx context.Context, q queryRower, id int64) (survey.Result, error) {
	var p, pa, d int
	err := q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score BETWEEN 7 AND 8),
			count(*) FILTER (WHERE score <= 6)
		FROM survey_responses WHERE survey_id = $1`, id).Scan(&p, &pa, &d)
	if err != nil {
		return survey.Result{}, fmt.Errorf("count answers of survey %d: %w", id, err)
	}
	return survey.FromCounts(p, pa, d), nil
}

// Latest implements survey.Store.
func (s *Surveys) Latest(ctx context.Context, platformName string) (survey.Survey, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM surveys WHERE platform = $1 ORDER BY opened_at DESC, id DESC LIMIT 1`,
		platformName).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return survey.Survey{}, platform.Errorf(platform.NotFound, "There has been no survey on %s yet. Start one with /idp survey start.", platformName)
	}
	if err != nil {
		return survey.Survey{}, fmt.Errorf("latest survey on %s: %w", platformName, err)
	}
	return s.Get(ctx, id)
}

// OpenFor implements survey.Store.
func (s *Surveys) OpenFor(ctx context.Context, platformName, channel string) (survey.Survey, error) {
	sv, err := scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys
		WHERE platform = $1 AND closed_at IS NULL AND closes_at > $3
		ORDER BY channel = $2 DESC, opened_at DESC, id DESC LIMIT 1`, platformName, channel, s.timestamp()))
	if errors.Is(err, pgx.ErrNoRows) {
		return survey.Survey{}, platform.Errorf(platform.NotFound, "There is no open survey right now.")
	}
	if err != nil {
		return survey.Survey{}, fmt.Errorf("open survey on %s: %w", platformName, err)
	}
	return sv, nil
}

// lockOpen locks survey id against closing until the transaction ends and
// returns it, or the error answering it gets: NotFound, or Conflict when it
// is closed.
func (s *Surveys) lockOpen(ctx context.Context, tx pgx.Tx, id int64, now time.Time) (survey.Survey, error) {
	sv, err := scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE id = $1 FOR SHARE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return survey.Survey{}, surveyNotFound(id)
	}
	if err != nil {
		return survey.Survey{}, fmt.Errorf("lock survey %d: %w", id, err)
	}
	if sv.Closed(now) {
		return survey.Survey{}, errClosed()
	}
	return sv, nil
}

// Open implements survey.Store. It claims the slot's row, calls post and
// records the posted message in one transaction that also holds a
// per-channel lock, so that however many replicas or retries open the
// same survey it is posted once.
func (s *Surveys) Open(ctx context.Context, o survey.Opening, post func(context.Context, pgx.Tx, survey.Survey) (string, error)) (sv survey.Survey, status survey.OpenStatus, err error) {
	now := s.timestamp()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('idpbot-survey/' || $1 || '/' || $2, 0))`,
			o.Platform, o.Channel); err != nil {
			return fmt.Errorf("lock channel: %w", err)
		}
		existing, err := scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys
			WHERE platform = $1 AND channel = $2 AND slot = $3`, o.Platform, o.Channel, o.Slot))
		switch {
		case err == nil:
			sv, status = existing, survey.SlotTaken
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find survey of slot: %w", err)
		}
		open, err := scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys
			WHERE platform = $1 AND channel = $2 AND closed_at IS NULL AND closes_at > $3
			ORDER BY id DESC LIMIT 1`, o.Platform, o.Channel, now))
		switch {
		case err == nil:
			sv, status = open, survey.ChannelBusy
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find open survey: %w", err)
		}
		if !o.SkipTo.IsZero() {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM surveys WHERE platform = $1 AND channel = $2
				AND slot >= $3 AND slot < $4)`, o.Platform, o.Channel, o.SkipFrom, o.SkipTo).Scan(&done); err != nil {
				return fmt.Errorf("find survey of the period: %w", err)
			}
			if done {
				status = survey.PeriodDone
				return nil
			}
		}
		sv = survey.Survey{Platform: o.Platform, Channel: o.Channel, Slot: o.Slot, OpenedAt: now, ClosesAt: now.Add(o.Window), OpenedBy: o.OpenedBy}
		err = tx.QueryRow(ctx, `INSERT INTO surveys (platform, channel, slot, opened_at, closes_at, opened_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			sv.Platform, sv.Channel, sv.Slot, sv.OpenedAt, sv.ClosesAt, sv.OpenedBy).Scan(&sv.ID)
		if err != nil {
			return fmt.Errorf("insert survey: %w", err)
		}
		ref, err := post(ctx, tx, sv)
		if err != nil {
			return err
		}
		sv.MessageRef = ref
		if _, err := tx.Exec(ctx, `UPDATE surveys SET message_ref = $2 WHERE id = $1`, sv.ID, ref); err != nil {
			return fmt.Errorf("record survey message: %w", err)
		}
		status = survey.Opened
		return nil
	})
	if err != nil {
		return survey.Survey{}, 0, wrapSurvey(fmt.Sprintf("open survey in %s %s", o.Platform, o.Channel), err)
	}
	return sv, status, nil
}

// Record implements survey.Store.
func (s *Surveys) Record(ctx context.Context, id int64, user string, score int, comment string) (survey.Answer, error) {
	now := s.timestamp()
	a := survey.Answer{Score: score}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
		return survey.Answer{}, wrapSurvey(fmt.Sprintf("record answer to survey %d", id), err)
	}
	return a, nil
}

// Comment implements survey.Store.
func (s *Surveys) Comment(ctx context.Context, id int64, user, text string) error {
	now := s.timestamp()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
	return wrapSurvey(fmt.Sprintf("comment on survey %d", id), err)
}

// Close implements survey.Store.
func (s *Surveys) Close(ctx context.Context, id int64, members int) (sv survey.Survey, closed bool, err error) {
	now := s.timestamp()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sv, err = scanSurvey(tx.QueryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return surveyNotFound(id)
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
		return survey.Survey{}, false, wrapSurvey(fmt.Sprintf("close survey %d", id), err)
	}
	return sv, closed, nil
}

// Previous implements survey.Store.
func (s *Surveys) Previous(ctx context.Context, sv survey.Survey) (*survey.Result, error) {
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
	r := survey.FromCounts(p, pa, d)
	r.Members = members
	return &r, nil
}

// Comments implements survey.Store.
func (s *Surveys) Comments(ctx context.Context, id int64) ([]survey.Comment, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, score, comment, updated_at FROM survey_responses
		WHERE survey_id = $1 AND comment <> '' ORDER BY updated_at, user_id`, id)
	if err != nil {
		return nil, fmt.Errorf("comments of survey %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Comment, error) {
		var c survey.Comment
		err := row.Scan(&c.UserID, &c.Score, &c.Text, &c.At)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("comments of survey %d: %w", id, err)
	}
	return out, nil
}

// MarkResultPosted implements survey.Store.
func (s *Surveys) MarkResultPosted(ctx context.Context, id int64) error {
	return s.markPosted(ctx, id, "result")
}

// MarkCommentsPosted implements survey.Store.
func (s *Surveys) MarkCommentsPosted(ctx context.Context, id int64) error {
	return s.markPosted(ctx, id, "comments")
}

// markPosted records that a closed survey's result ("result") or comments
// ("comments") were posted.
func (s *Surveys) markPosted(ctx context.Context, id int64, what string) error {
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

// Posted implements survey.Store.
func (s *Surveys) Posted(ctx context.Context, id int64) (result, comments bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT result_posted_at IS NOT NULL, comments_posted_at IS NOT NULL FROM surveys WHERE id = $1`,
		id).Scan(&result, &comments)
	if err != nil {
		return false, false, fmt.Errorf("survey %d posted: %w", id, err)
	}
	return result, comments, nil
}

// LatestResult implements survey.Store: the latest round's result with no
// time bound, the score the idp_net_promoter_score gauge shows.
func (s *Surveys) LatestResult(ctx context.Context) (survey.Result, bool, error) {
	r, _, ok, err := latestSurveyResult(ctx, s.pool, time.Time{})
	return r, ok, err
}

// queryRower runs a query that returns one row: a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// latestSurveyResult returns the result of the latest survey round with
// answers that closed before before (any time when before is zero): the
// surveys of one slot, on every platform and channel, counted together. ok
// is false when no survey with answers has closed. closedAt is when the
// round's last survey closed. It is the score of idp_net_promoter_score
// and the digest.
func latestSurveyResult(ctx context.Context, q queryRower, before time.Time) (r survey.Result, closedAt time.Time, ok bool, err error) {
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
		return survey.Result{}, time.Time{}, false, fmt.Errorf("latest survey result: %w", err)
	}
	if n == 0 || at == nil {
		return survey.Result{}, time.Time{}, false, nil
	}
	r = survey.FromCounts(p, pa, d)
	r.Members = mem
	return r, *at, true, nil
}

// wrapSurvey adds context to err unless it is a platform Error meant for the
// user or nil.
func wrapSurvey(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Code != platform.Internal {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
