package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

var (
	bob      = platform.Actor{ID: "console:bob", Name: "bob"}
	approver = platform.Actor{ID: "console:approver", Name: "approver"}
)

// poster records what it was asked to post, after answering its first
// `limited` calls with a rate limit.
type poster struct {
	mu      sync.Mutex
	limited int
	posts   []string
	replies []commands.Reply
	edits   []string
	// entered, when set, is closed as Post starts, which then waits for
	// release.
	entered, release chan struct{}
	// lose makes the next posts post and then fail, as when the answer
	// is lost.
	lose int
	// limitWait is the Retry-After of a rate limit (at least 10 ms; the
	// worker waits at least a second).
	limitWait time.Duration
}

var (
	_ commands.Poster = (*poster)(nil)
	_ commands.Editor = (*poster)(nil)
)

// Edit records "channel › ref: title [buttons]".
func (p *poster) Edit(_ context.Context, channel, ref string, reply commands.Reply) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.edits = append(p.edits, fmt.Sprintf("%s › %s: %s [%d buttons]", channel, ref, reply.Title, len(reply.Actions)))
	return nil
}

func (p *poster) editsSnapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.edits...)
}

func (p *poster) Post(ctx context.Context, channel string, reply commands.Reply) (string, error) {
	p.mu.Lock()
	if p.entered != nil {
		close(p.entered)
		p.entered = nil
		p.mu.Unlock()
		<-p.release
		p.mu.Lock()
	}
	defer p.mu.Unlock()
	if p.limited > 0 {
		p.limited--
		return "", rateLimited(max(p.limitWait, 10*time.Millisecond))
	}
	post := channel + ": " + reply.Title
	if i := slices.Index(p.posts, post); i >= 0 && platform.Redelivery(ctx) {
		// As the Slack adapter does: a retry finds what the attempt
		// whose answer was lost posted.
		return fmt.Sprintf("ref-%d", i+1), nil
	}
	p.posts = append(p.posts, post)
	p.replies = append(p.replies, reply)
	if p.lose > 0 {
		p.lose--
		return "", errors.New("the answer was lost")
	}
	return fmt.Sprintf("ref-%d", len(p.posts)), nil
}

func (p *poster) PostInThread(_ context.Context, channel, ref string, reply commands.Reply) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, channel+" › "+ref+": "+reply.Title)
	return nil
}

// limit makes the next n posts meet a rate limit.
func (p *poster) limit(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limited = n
}

func (p *poster) snapshot() ([]string, []commands.Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.posts...), append([]commands.Reply(nil), p.replies...)
}

// govHarness is a real store, engine and runner with the governance
// workers, posting to a recording poster on platform "console".
type govHarness struct {
	*harness
	tickets *Tickets
	poster  *poster
	clock   *platformtest.WallClock
}

func newGovHarness(t *testing.T) *govHarness {
	t.Helper()
	pool := postgrestest.Pool(t)
	g := &govHarness{harness: &harness{pool: pool, driver: &testDriver{timeout: 5 * time.Second}, notifier: &recorder{}}, poster: &poster{}, clock: &platformtest.WallClock{}}
	cat, err := platform.NewCatalog(&platform.ServiceDefinition{Name: "test-db", Title: "Test database", Type: "database",
		Fields: []platform.Field{{Name: "size", Kind: platform.KindEnum, Options: []string{"small", "large"}, Default: "small"}}, Provisioners: []platform.Binding{{Driver: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	org := &platform.Org{
		Teams:        []platform.Team{{Name: "payments", Members: []string{bob.ID}}},
		Environments: []platform.Environment{{Name: "staging"}, {Name: "production", Approvals: 1}},
		Approvers:    []string{approver.ID},
	}
	enq, err := NewEnqueuer(EnqueuerConfig{Pool: pool, Schema: postgrestest.Schema(pool), Org: org, Catalog: cat,
		ApprovalChannels: map[string]string{"console": "approvals"}})
	if err != nil {
		t.Fatal(err)
	}
	g.store = postgres.NewStore(pool, postgres.StoreOptions{Now: g.clock.Now, RiverSchema: postgrestest.Schema(pool), OnEvent: enq.OnEvent})
	sealer := platformtest.Sealer(t)
	g.engine = platform.NewEngine(platform.EngineConfig{
		Store: g.store, Catalog: cat, Drivers: map[string]platform.Driver{"test": g.driver}, Sealer: sealer, Now: g.clock.Now,
		Org: org,
	})
	g.tickets, err = NewTickets(g.store, enq, map[string]string{"console": "support"})
	if err != nil {
		t.Fatal(err)
	}
	g.runner, err = New(Config{
		Pool: pool, Engine: g.engine, Store: g.store,
		Notifiers:         map[string]Notifier{"console": g.notifier},
		Schema:            postgrestest.Schema(pool),
		DefaultTimeout:    5 * time.Second,
		RescueAfter:       10 * time.Second,
		RetryPolicy:       fixedRetry(10 * time.Millisecond),
		FetchPollInterval: 20 * time.Millisecond,
		Register: func(w *river.Workers) {
			AddGovernanceWorkers(w, g.engine, g.store, map[string]commands.Poster{"console": g.poster}, nil)
		},
		testOnly:               true,
		leaderElectionDisabled: true,
		stopTimeout:            2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	g.start(t)
	return g
}

// production submits bob's production request orders-db, which waits for
// an approval.
func (g *govHarness) production(t *testing.T) *platform.Resource {
	t.Helper()
	r, _, err := g.engine.Submit(context.Background(), bob, platform.Request{Service: "test-db", Name: "orders-db", Team: "payments", Environment: "production",
		Origin: platform.Origin{Platform: "console", Channel: "tty"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitPosts waits until the poster has n posts and returns them.
func (g *govHarness) waitPosts(t *testing.T, n int) ([]string, []commands.Reply) {
	t.Helper()
	var (
		posts   []string
		replies []commands.Reply
	)
	waitFor(t, 10*time.Second, fmt.Sprintf("%d posts", n), func() (bool, string) {
		posts, replies = g.poster.snapshot()
		return len(posts) >= n, strings.Join(posts, "\n")
	})
	return posts, replies
}

func TestApprovalCardThenApprovedProvisioning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	r := g.production(t)
	posts, replies := g.waitPosts(t, 1)
	if diff := cmp.Diff([]string{"approvals: Approval needed: orders-db #1, test-db for payments in production"}, posts); diff != "" {
		t.Fatalf("posts mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(commands.ApprovalActions(r), replies[0].Actions); diff != "" {
		t.Errorf("card actions mismatch (-want +got):\n%s", diff)
	}
	if _, _, err := g.engine.Approve(ctx, approver, r.Ref()); err != nil {
		t.Fatal(err)
	}
	got, evs := g.waitSettled(t, r.ID, platform.Ready)
	want := []step{
		{platform.EventTransition, "", platform.AwaitingApproval, "requested by bob; needs 1 approval(s)"},
		{platform.EventTransition, platform.AwaitingApproval, platform.Provisioning, "approved by approver (1 of 1); provisioning starts"},
		{platform.EventStep, "", "", "creating database"},
		{platform.EventTransition, platform.Provisioning, platform.Ready, "ready"},
		{platform.EventSecret, "", "", ""},
	}
	waitFor(t, 5*time.Second, "the secret event", func() (bool, string) {
		evs, _ = g.store.Events(ctx, r.ID)
		return len(evs) == len(want), fmt.Sprint(len(evs))
	})
	if diff := cmp.Diff(want, steps(evs)); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if calls, creations := g.driver.counts(); calls != 1 || creations != 1 || got.State != platform.Ready {
		t.Errorf("driver calls %d, creations %d, state %s", calls, creations, got.State)
	}
	if posts, _ := g.poster.snapshot(); len(posts) != 1 {
		t.Errorf("approving posted again: %q", posts)
	}
	g.waitDecided(t, r.ID)
	if diff := cmp.Diff([]string{"approvals › ref-1: Approved: orders-db #1, test-db for payments in production [0 buttons]"}, g.poster.editsSnapshot()); diff != "" {
		t.Errorf("card edits mismatch (-want +got):\n%s", diff)
	}
}

// waitDecided waits until the job that shows the decision of request id
// on its approval cards has finished.
func (g *govHarness) waitDecided(t *testing.T, id int64) {
	t.Helper()
	waitFor(t, 20*time.Second, "the decided cards job", func() (bool, string) {
		var state string
		err := g.pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = $1 AND (args->>'resource_id')::bigint = $2`,
			CardsDecidedArgs{}.Kind(), id).Scan(&state)
		if err != nil {
			return false, err.Error()
		}
		return state == "completed", state
	})
}

// TestDecisionWaitsForCardBeingPosted: a request decided while its card
// is being posted still gets its card edited: the edit waits for the post.
func TestDecisionWaitsForCardBeingPosted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	entered, release := make(chan struct{}), make(chan struct{})
	g.poster.mu.Lock()
	g.poster.entered, g.poster.release = entered, release
	g.poster.mu.Unlock()
	r := g.production(t)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the card was not posted")
	}
	if _, err := g.engine.Reject(ctx, approver, r.Ref(), "not this quarter"); err != nil {
		close(release)
		t.Fatal(err)
	}
	// The decision's job ran while the card was being posted: it finished
	// (the fault this test catches) or it waits, snoozed (a snooze leaves
	// its attempt as it was and moves it later).
	waitFor(t, 10*time.Second, "the decided cards job to run once", func() (bool, string) {
		var state string
		var snoozed bool
		_ = g.pool.QueryRow(ctx, `SELECT state, scheduled_at > created_at + interval '1 second' FROM river_job WHERE kind = $1`,
			CardsDecidedArgs{}.Kind()).Scan(&state, &snoozed)
		return state == "completed" || snoozed, state
	})
	close(release)
	g.waitDecided(t, r.ID)
	if diff := cmp.Diff([]string{"approvals › ref-1: Rejected: orders-db #1, test-db for payments in production [0 buttons]"}, g.poster.editsSnapshot()); diff != "" {
		t.Errorf("card edits mismatch (-want +got):\n%s", diff)
	}
}

// TestCardPostedByALostAttemptShowsTheDecision: the card was posted but
// the answer lost, and the request was decided before the retry: the
// retry still finds the card (it does not skip it as a card of a decided
// request), records it, and the decision edits it.
func TestCardPostedByALostAttemptShowsTheDecision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	entered, release := make(chan struct{}), make(chan struct{})
	g.poster.mu.Lock()
	g.poster.entered, g.poster.release, g.poster.lose = entered, release, 1
	g.poster.mu.Unlock()
	r := g.production(t)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the card was not posted")
	}
	if _, _, err := g.engine.Approve(ctx, approver, r.Ref()); err != nil {
		close(release)
		t.Fatal(err)
	}
	close(release)
	g.waitDecided(t, r.ID)
	posts, _ := g.poster.snapshot()
	if diff := cmp.Diff([]string{"approvals: Approval needed: orders-db #1, test-db for payments in production"}, posts); diff != "" {
		t.Errorf("posts mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"approvals › ref-1: Approved: orders-db #1, test-db for payments in production [0 buttons]"}, g.poster.editsSnapshot()); diff != "" {
		t.Errorf("card edits mismatch (-want +got):\n%s", diff)
	}
}

// TestCardRefsNeedNotBeUnique: the console numbers its posts per process,
// so a restarted console posts the next request's card under a ref an
// earlier card already had. Both are recorded, each with its request,
// and the later decision edits its own card.
func TestCardRefsNeedNotBeUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	first := g.production(t)
	g.waitPosts(t, 1)
	g.poster.mu.Lock()
	g.poster.posts, g.poster.replies = nil, nil // a new console process
	g.poster.mu.Unlock()
	second, _, err := g.engine.Submit(ctx, bob, platform.Request{Service: "test-db", Name: "billing-db", Team: "payments", Environment: "production",
		Origin: platform.Origin{Platform: "console", Channel: "tty"}})
	if err != nil {
		t.Fatal(err)
	}
	if posts, _ := g.waitPosts(t, 1); !strings.HasPrefix(posts[0], "approvals: Approval needed: billing-db") {
		t.Fatalf("posts = %q", posts)
	}
	if _, err := g.engine.Reject(ctx, approver, second.Ref(), "one is enough"); err != nil {
		t.Fatal(err)
	}
	g.waitDecided(t, second.ID)
	want := []string{"approvals › ref-1: Rejected: billing-db #2, test-db for payments in production [0 buttons]"}
	if diff := cmp.Diff(want, g.poster.editsSnapshot()); diff != "" {
		t.Errorf("card edits mismatch (-want +got):\n%s", diff)
	}
	var n int
	if err := g.pool.QueryRow(ctx, `SELECT count(*) FROM approval_cards WHERE ref = 'ref-1' AND resource_id IN ($1, $2)`, first.ID, second.ID).Scan(&n); err != nil || n != 2 {
		t.Errorf("cards recorded under ref-1: %d (%v), want one per request", n, err)
	}
}

// TestCardOfDecidedRequestIsNotPosted: a card still waiting to be posted
// (here behind a rate limit) when its request is decided is not posted at
// all, and the decision does not wait for ever for it.
func TestCardOfDecidedRequestIsNotPosted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	g.poster.limit(1) // the card meets a rate limit, long enough to decide first
	g.poster.mu.Lock()
	g.poster.limitWait = 5 * time.Second
	g.poster.mu.Unlock()
	r := g.production(t)
	waitFor(t, 10*time.Second, "the card's rate limit", func() (bool, string) {
		g.poster.mu.Lock()
		defer g.poster.mu.Unlock()
		return g.poster.limited == 0, ""
	})
	if _, err := g.engine.Reject(ctx, approver, r.Ref(), "not this quarter"); err != nil {
		t.Fatal(err)
	}
	g.waitDecided(t, r.ID)
	posts, _ := g.poster.snapshot()
	if len(posts) != 0 || len(g.poster.editsSnapshot()) != 0 {
		t.Errorf("a card of a rejected request: posts %q, edits %q", posts, g.poster.editsSnapshot())
	}
}

func TestSweepJobRemindsAndPostsReminder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	r := g.production(t)
	g.waitPosts(t, 1)
	g.clock.Advance(platform.DefaultRemindAfter + time.Minute)
	if _, err := g.runner.Client().Insert(ctx, SweepArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	posts, replies := g.waitPosts(t, 2)
	if !strings.HasPrefix(posts[1], "approvals: Reminder: orders-db #1 (test-db for payments in production) still awaiting approval after 1d") {
		t.Errorf("reminder post = %q", posts[1])
	}
	if len(replies[1].Actions) != 2 {
		t.Errorf("reminder card actions = %+v", replies[1].Actions)
	}
	g.clock.Advance(platform.DefaultExpireAfter)
	if sw, err := g.engine.Sweep(ctx); err != nil || len(sw.Expired) != 1 {
		t.Fatalf("Sweep = %+v, %v", sw, err)
	}
	got, _ := g.waitSettled(t, r.ID, platform.Expired)
	if got.Reason != "no approval decision within 3d" {
		t.Errorf("expired reason = %q", got.Reason)
	}
	g.waitDecided(t, r.ID)
	want := []string{
		"approvals › ref-1: Expired: orders-db #1, test-db for payments in production [0 buttons]",
		"approvals › ref-2: Expired: orders-db #1, test-db for payments in production [0 buttons]",
	}
	if diff := cmp.Diff(want, g.poster.editsSnapshot()); diff != "" {
		t.Errorf("card and reminder edits mismatch (-want +got):\n%s", diff)
	}
	if n := len(GovernancePeriodic()); n != 1 {
		t.Errorf("GovernancePeriodic = %d jobs", n)
	}
}

func TestSupportTicketRecordedAndPosted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGovHarness(t)
	g.poster.limit(1) // the first post meets a rate limit
	in := commands.Ticket{Category: "access", Text: "cannot log in; '); DROP TABLE support_tickets; --", Requester: bob,
		Platform: "console", Channel: "tty", Teams: []string{"payments"}, IdempotencyKey: "delivery-1"}
	t1, err := g.tickets.CreateTicket(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if t1.ID == 0 || t1.CreatedAt.IsZero() {
		t.Fatalf("CreateTicket = %+v", t1)
	}
	again, err := g.tickets.CreateTicket(ctx, in)
	if err != nil || again.ID != t1.ID {
		t.Fatalf("a redelivered ticket = %+v, %v; want #%d", again, err, t1.ID)
	}
	other, err := g.tickets.CreateTicket(ctx, commands.Ticket{Category: "bug", Text: "broken", Requester: bob})
	if err != nil || other.ID == t1.ID {
		t.Fatalf("another ticket = %+v, %v", other, err)
	}
	_, replies := g.waitPosts(t, 2)
	time.Sleep(50 * time.Millisecond) // a duplicate post would show by now
	posts, _ := g.poster.snapshot()
	if len(posts) != 2 {
		t.Errorf("posts = %q, want one per ticket", posts)
	}
	want := fmt.Sprintf("support: Support ticket #%d (access) from bob", t1.ID)
	if !slices.Contains(posts, want) {
		t.Errorf("posts %q lack %q", posts, want)
	}
	for _, rep := range replies {
		if strings.Contains(rep.Title, "(access)") && rep.Sections[0].Text != in.Text {
			t.Errorf("ticket body = %q", rep.Sections[0].Text)
		}
	}
	var n int
	var teams []string
	if err := g.pool.QueryRow(ctx, `SELECT count(*), (SELECT teams FROM support_tickets WHERE id = $1) FROM support_tickets`, t1.ID).Scan(&n, &teams); err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(teams) != 1 || teams[0] != "payments" {
		t.Errorf("support_tickets: %d rows, teams %v", n, teams)
	}
}

func TestPostWorkerCancelsUnknownPlatform(t *testing.T) {
	t.Parallel()
	w := NewPostWorker(map[string]commands.Poster{}, nil)
	err := w.Work(context.Background(), &river.Job[PostArgs]{Args: PostArgs{Platform: "irc", Channel: "#ops", Title: "x"}})
	var cancel *river.JobCancelError
	if !errors.As(err, &cancel) {
		t.Errorf("post to a platform without a poster = %v, want a cancel", err)
	}
	p := &poster{}
	w = NewPostWorker(map[string]commands.Poster{"console": p}, nil)
	reply := commands.Reply{Title: "hello", Sections: []commands.Section{{Text: "body", Fields: []commands.KV{{Key: "k", Value: "v"}}}}, Actions: []commands.Action{{Label: "Go", Command: "status 1"}}}
	if err := w.Work(context.Background(), &river.Job[PostArgs]{Args: NewPostArgs("console", "general", reply)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Work(context.Background(), &river.Job[PostArgs]{Args: PostArgs{Platform: "console", Channel: "general", ThreadRef: "ref-1", Title: "reply"}}); err != nil {
		t.Fatal(err)
	}
	posts, replies := p.snapshot()
	if diff := cmp.Diff([]string{"general: hello", "general › ref-1: reply"}, posts); diff != "" {
		t.Errorf("posts mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reply, replies[0]); diff != "" {
		t.Errorf("posted reply mismatch (-want +got):\n%s", diff)
	}
}
