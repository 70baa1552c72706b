package survey_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/survey"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// post is one thing a recorder was asked to post.
type post struct {
	Kind     string // survey, result, comments
	Channel  string
	Ref      string
	SurveyID int64
	Slot     time.Time
	Result   survey.Result
	Prev     *survey.Result
	Comments []survey.Comment
}

// recorder is a Poster that records what it posts, like a chat platform
// would show it. fail, when set, makes a call fail.
type recorder struct {
	mu      sync.Mutex
	posts   []post
	members map[string]int
	fail    func(kind, channel string) error
	n       int
}

var _ survey.Poster = (*recorder)(nil)

func (r *recorder) add(p post) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(p.Kind, p.Channel); err != nil {
			return "", err
		}
	}
	r.n++
	ref := fmt.Sprintf("msg-%d", r.n)
	if p.Ref == "" {
		p.Ref = ref
	}
	r.posts = append(r.posts, p)
	return ref, nil
}

func (r *recorder) PostSurvey(_ context.Context, channel string, s survey.Survey) (string, error) {
	if s.ID == 0 || s.ClosesAt.IsZero() {
		return "", errors.New("survey posted without an id or closing date")
	}
	return r.add(post{Kind: "survey", Channel: channel, SurveyID: s.ID, Slot: s.Slot})
}

func (r *recorder) PostSurveyResult(_ context.Context, channel, ref string, s survey.Survey, prev *survey.Result) error {
	_, err := r.add(post{Kind: "result", Channel: channel, Ref: ref, SurveyID: s.ID, Slot: s.Slot, Result: s.Result, Prev: prev})
	return err
}

func (r *recorder) PostComments(_ context.Context, channel string, s survey.Survey, comments []survey.Comment) error {
	_, err := r.add(post{Kind: "comments", Channel: channel, SurveyID: s.ID, Comments: comments})
	return err
}

func (r *recorder) ChannelMembers(_ context.Context, channel string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[channel], nil
}

// of returns the posts of one kind.
func (r *recorder) of(kind string) []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []post
	for _, p := range r.posts {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

// inserter returns an insert-only River client on pool.
func inserter(t testing.TB, pool *pgxpool.Pool) *river.Client[pgx.Tx] {
	t.Helper()
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a survey service on a fresh schema, with a test clock and a
// recording poster for platform "slack".
type fixture struct {
	pool  *pgxpool.Pool
	clock *platformtest.Clock
	rec   *recorder
	svc   *survey.Service
	ins   *river.Client[pgx.Tx]
}

// jan5 is a Monday.
var jan5 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, edit func(*survey.Config)) *fixture {
	t.Helper()
	pool := postgrestest.Pool(t)
	f := &fixture{pool: pool, clock: platformtest.NewClock(jan5, 0), rec: &recorder{members: map[string]int{"C1": 40, "C2": 10}}}
	cfg := survey.Config{
		Store:        postgres.NewSurveys(pool, f.clock.Now),
		Posters:      map[string]survey.Poster{"slack": f.rec},
		Channels:     map[string][]string{"slack": {"C1", "C2"}},
		TeamChannels: map[string]string{"slack": "CPLATFORM"},
		Now:          f.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := survey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.ins = inserter(t, pool)
	return f
}

// start opens a survey in channel by command.
func (f *fixture) start(t *testing.T, channel string) survey.Survey {
	t.Helper()
	sv, err := f.svc.Start(context.Background(), f.ins, "slack", channel, "slack:UADMIN")
	if err != nil {
		t.Fatalf("Start(%s): %v", channel, err)
	}
	return sv
}

func (f *fixture) record(t *testing.T, id int64, user string, score int, comment string) survey.Answer {
	t.Helper()
	a, err := f.svc.Record(context.Background(), id, user, score, comment)
	if err != nil {
		t.Fatalf("Record(%d, %s, %d): %v", id, user, score, err)
	}
	return a
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
