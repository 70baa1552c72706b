package console_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/console"
	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/chat/thread/threadtest"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// buffer is an io.Writer safe to read while the console writes.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type harness struct {
	f      *platformtest.Fixture
	c      *console.Console
	out    *buffer
	router *commands.Router
}

// newHarness returns a console for actor over an engine whose jobs run in
// the background and whose console-originated events reach the console.
func newHarness(t *testing.T, actor platform.Actor, in io.Reader, interactive bool, wait time.Duration, opts ...platformtest.Option) *harness {
	t.Helper()
	f := platformtest.Engine(t, append([]platformtest.Option{platformtest.WithJobs(3)}, opts...)...)
	out := &buffer{}
	c := console.New(console.Config{
		Engine:      f.Engine,
		In:          in,
		Out:         out,
		Actor:       actor,
		Interactive: interactive,
		Wait:        wait,
		Delivered:   true,
	})
	f.Deliver(console.Platform, notifier(c))
	return &harness{f: f, c: c, out: out, router: commands.NewRouter(f.Engine, commands.Options{Now: f.Clock.Peek})}
}

func (h *harness) run(t *testing.T) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.c.Run(context.Background(), h.router) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return; output so far:\n%s", h.out.String())
	}
	return h.out.String()
}

func (h *harness) resource(t *testing.T, id int64) *platform.Resource {
	t.Helper()
	r, err := h.f.Store.Resource(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// inOrder fails unless every pattern matches out, each after the previous.
func inOrder(t *testing.T, out string, patterns ...string) {
	t.Helper()
	rest := out
	for _, p := range patterns {
		loc := regexp.MustCompile(p).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("output lacks %q after the previous matches; output:\n%s", p, out)
		}
		rest = rest[loc[1]:]
	}
}

const clock = `\d\d:\d\d:\d\d`

func TestPipedCreateRunsToReady(t *testing.T) {
	t.Parallel()
	in := strings.NewReader("/idp create postgresql-database name=orders-db size=medium\n\n")
	h := newHarness(t, platformtest.Bob, in, false, 10*time.Second)
	out := h.run(t)
	inOrder(t, out,
		`Requested orders-db #1: postgresql-database for payments in development\.`,
		`(?m)^  `+clock+`  #1 orders-db  pending  requested by bob$`,
		`(?m)^  `+clock+`  #1 orders-db  provisioning  provisioning started$`,
		`(?m)^  `+clock+`  #1 orders-db  provisioning  creating role payments_development_orders_db$`,
		`(?m)^  `+clock+`  #1 orders-db  provisioning  creating database payments_development_orders_db$`,
		`(?m)^  `+clock+`  #1 orders-db  ready  ready$`,
		`(?m)^  🔒 only bob sees this \(#1 orders-db\): url=postgres://payments_development_orders_db:pw-1-orders-db@127\.0\.0\.1:5432/payments_development_orders_db\?sslmode=disable  password=pw-1-orders-db$`,
		`(?m)^#1 orders-db: ready \(provisioned in .+\)\.$`,
	)
	if strings.Contains(out, "idp> ") || strings.Contains(out, "[y/N]") {
		t.Errorf("a piped session prompted:\n%s", out)
	}
	if got := h.resource(t, 1); got.State != platform.Ready || got.Parameters["size"] != "medium" {
		t.Errorf("resource: %s %v", got.State, got.Parameters)
	}
}

func TestEmptyInputShowsShortHelp(t *testing.T) {
	t.Parallel()
	for _, interactive := range []bool{false, true} {
		in := strings.NewReader("/idp\n/idp   \n\n")
		out := newHarness(t, platformtest.Bob, in, interactive, time.Second).run(t)
		if n := strings.Count(out, "Start with /idp catalog."); n != 3 {
			t.Errorf("interactive %v: %d short helps for 3 empty commands; output:\n%s", interactive, n, out)
		}
	}
}

func TestCommandsWithoutTheSlash(t *testing.T) {
	t.Parallel()
	in := strings.NewReader("idp list\nIDP help delete\nidp\nidpx\n")
	out := newHarness(t, platformtest.Bob, in, false, time.Second).run(t)
	inOrder(t, out,
		`(?m)^No resources`,
		`(?m)^/idp delete <name\|#id>`,
		`Start with /idp catalog\.`,
		`Unknown command "idpx"`,
	)
	if strings.Contains(out, `Unknown command "idp"`) {
		t.Errorf("idp without the slash is an unknown command:\n%s", out)
	}
}

func TestPipedSessionReportsFailuresAndErrors(t *testing.T) {
	t.Parallel()
	in := strings.NewReader(strings.Join([]string{
		"crate postgresql-database",
		"create postgresql-database",
		"create postgresql-database name=broken",
		"create postgresql-database",
		"exit",
		"create postgresql-database name=never",
	}, "\n"))
	h := newHarness(t, platformtest.Bob, in, false, 10*time.Second)
	h.f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the postgres target refused: permission denied to create role"), -1)
	out := h.run(t)
	inOrder(t, out,
		`Unknown command "crate"\. Did you mean create\? See /idp help\.`,
		`The request for postgresql-database has 1 invalid field\.\n  • name: is required`,
		`Requested broken #1`,
		`(?m)^  `+clock+`  #1 broken  failed  the postgres target refused: permission denied to create role$`,
		`(?m)^#1 broken: failed: the postgres target refused: permission denied to create role$`,
	)
	if strings.Contains(out, "never") {
		t.Errorf("a command after exit ran:\n%s", out)
	}
}

func TestPipedDeleteNeedsYes(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe()
	h := newHarness(t, platformtest.Bob, r, false, 10*time.Second)
	done := make(chan string, 1)
	go func() { done <- h.run(t) }()
	fmt.Fprintln(w, "create postgresql-database name=orders-db")
	h.f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Ready })
	fmt.Fprintln(w, "delete orders-db")
	fmt.Fprintln(w, "delete orders-db --yes")
	w.Close()
	out := <-done
	inOrder(t, out,
		`Delete orders-db #1 \(postgresql-database of team payments in development\)\? What\nit provisioned is removed for good\.`,
		`Not confirmed: add --yes to run it without asking\.`,
		`Deleting orders-db #1`,
		`(?m)^  `+clock+`  #1 orders-db  deleting  deletion requested by bob$`,
		`(?m)^  `+clock+`  #1 orders-db  deleting  dropping database payments_development_orders_db$`,
		`(?m)^  `+clock+`  #1 orders-db  deleted  deleted$`,
		`(?m)^#1 orders-db: deleted\.$`,
	)
	if n := h.f.Driver.Count(platformtest.OpDeprovision); n != 1 {
		t.Errorf("%d deprovision calls, want 1", n)
	}
}

type denyWithoutHA struct{}

func (denyWithoutHA) Evaluate(_ context.Context, in platform.PolicyInput) ([]platform.Verdict, error) {
	if in.Environment != "production" || in.Parameters["high_availability"] == true {
		return nil, nil
	}
	return []platform.Verdict{{Rule: "production-high-availability", Outcome: platform.Deny, Field: "high_availability",
		Message: "Production resources must have high_availability enabled"}}, nil
}

func TestInteractiveFormReasksWrongAnswers(t *testing.T) {
	t.Parallel()
	in := strings.NewReader(strings.Join([]string{
		"/idp create postgresql-database",
		"Orders_DB",  // name: invalid, asked again
		"orders-db",  // name
		"",           // team: alice has two, no default: asked again
		"paymnts",    // team: typo, asked again
		"payments",   // team
		"prod",       // environment: asked again
		"production", // environment
		"huge",       // size: asked again
		"",           // size: default small
		"",           // high_availability: default true, as the policy requires in production
		"40",         // backup_retention_days: asked again
		"14",         // backup_retention_days
		"",
	}, "\n"))
	h := newHarness(t, platformtest.Alice, in, true, 10*time.Second, platformtest.WithPolicies(denyWithoutHA{}))
	out := h.run(t)
	inOrder(t, out,
		`idpbot console: you are alice \(team payments, platform\)\.`,
		`idp> New PostgreSQL Database\. Press Enter to take the \[default\]; Ctrl-D cancels\.`,
		`name \(Lowercase letters, digits and hyphens, like orders-db\): `,
		`  name must be lowercase letters, digits and hyphens`,
		`name \(Lowercase letters, digits and hyphens, like orders-db\): `,
		`team \(one of payments, platform\): `,
		`  team is required`,
		`team \(one of payments, platform\): `,
		`  team must be one of payments, platform \(did you mean payments\?\)`,
		`environment \(one of development, staging, production\) \[development\]: `,
		`  environment must be one of development, staging, production \(did you mean production\?\)`,
		`In production, high_availability defaults to true: Production resources must have high_availability enabled\.`,
		`size \(one of small, medium, large\) \[small\]: `,
		`  size must be one of small, medium, large`,
		`size \(one of small, medium, large\) \[small\]: `,
		`high_availability \(true or false\) \[true\]: `,
		`backup_retention_days \(integer 1–35\) \[7\]: `,
		`  backup_retention_days must be 1–35 \(got 40\)`,
		`backup_retention_days \(integer 1–35\) \[7\]: `,
		`Requested orders-db #1: postgresql-database for payments in production\.`,
		`awaiting_approval \(needs 1 approval before provisioning\)`,
		`(?m)^#1 orders-db: awaiting approval\.$`,
	)
	got := h.resource(t, 1)
	want := map[string]any{"size": "small", "high_availability": true, "backup_retention_days": int64(14)}
	if got.State != platform.AwaitingApproval || fmt.Sprint(got.Parameters) != fmt.Sprint(want) {
		t.Errorf("resource %s %v, want awaiting approval with %v", got.State, got.Parameters, want)
	}
}

func TestInteractiveDryRunAndCancel(t *testing.T) {
	t.Parallel()
	in := strings.NewReader(strings.Join([]string{
		"create postgresql-database --dry-run",
		"orders-db", "", "", "large", "", "",
		"create postgresql-database",
		"half-done",
	}, "\n"))
	h := newHarness(t, platformtest.Bob, in, true, 10*time.Second)
	out := h.run(t)
	inOrder(t, out,
		`Dry run: New PostgreSQL Database\.`,
		`team \(one of payments\) \[payments\]: `,
		`Dry run: orders-db would be created\. Nothing was created\.`,
		`Parameters   size=large high_availability=false backup_retention_days=7`,
		`Cancelled; nothing was requested\.`,
	)
	if rs, _ := h.f.Store.Resources(context.Background(), platform.ResourceFilter{}); len(rs) != 0 {
		t.Errorf("%d resources created by a dry run and a cancelled form", len(rs))
	}
}

func TestInteractiveDeleteConfirm(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe()
	h := newHarness(t, platformtest.Bob, r, true, 10*time.Second)
	done := make(chan string, 1)
	go func() { done <- h.run(t) }()
	fmt.Fprintln(w, "create postgresql-database name=orders-db")
	h.f.WaitState(1, 5*time.Second, func(s platform.State) bool { return s == platform.Ready })
	fmt.Fprintln(w, "delete orders-db")
	fmt.Fprintln(w, "n")
	fmt.Fprintln(w, "delete #1")
	fmt.Fprintln(w, "yes")
	w.Close()
	out := <-done
	inOrder(t, out,
		`Delete orders-db #1 \(postgresql-database of team payments in development\)\? What it provisioned is removed for good\. \[y/N\] `,
		`Cancelled; nothing was changed\.`,
		`\[y/N\] `,
		`Deleting orders-db #1`,
		`(?m)^#1 orders-db: deleted\.$`,
	)
	if got := h.resource(t, 1); got.State != platform.Deleted {
		t.Errorf("state = %s", got.State)
	}
}

func TestEOFWaitsForTheDriver(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe()
	h := newHarness(t, platformtest.Bob, r, false, 10*time.Second)
	release := h.f.Driver.Hold()
	defer release()
	done := make(chan error, 1)
	go func() { done <- h.c.Run(context.Background(), h.router) }()
	fmt.Fprintln(w, "create postgresql-database name=slow-db")
	w.Close()
	h.f.Driver.WaitCalls(t, platformtest.OpProvision, 1, 5*time.Second)
	// The driver is held: Run reaches its wait and stays there.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.out.String(), "Input ended") {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v while the request was provisioning:\n%s", err, h.out.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run is not waiting:\n%s", h.out.String())
		}
	}
	if got := h.resource(t, 1); got.State != platform.Provisioning {
		t.Fatalf("state while held = %s", got.State)
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after the driver finished:\n%s", h.out.String())
	}
	// The thread comes under the reply; delivery is asynchronous, so where
	// "Input ended" falls among its first lines is not fixed.
	inOrder(t, h.out.String(),
		`Requested slow-db #1`,
		`(?m)^  `+clock+`  #1 slow-db  pending  requested by bob$`,
	)
	inOrder(t, h.out.String(),
		`Input ended; waiting up to 10s for 1 request to finish…`,
		`(?m)^  `+clock+`  #1 slow-db  ready  ready$`,
		`(?m)^#1 slow-db: ready`,
	)
}

func TestEOFWaitIsBounded(t *testing.T) {
	t.Parallel()
	in := strings.NewReader("create postgresql-database name=stuck-db\n")
	h := newHarness(t, platformtest.Bob, in, false, 300*time.Millisecond)
	release := h.f.Driver.Hold()
	defer release()
	out := h.run(t)
	inOrder(t, out,
		`Input ended; waiting up to 300ms for 1 request to finish…`,
		`(?m)^#1 stuck-db: still provisioning after .*; it continues in the background\. Check with /idp status #1\.$`,
	)
}

func TestNotifyAndPrivateFormat(t *testing.T) {
	t.Parallel()
	out := &buffer{}
	c := notifier(console.New(console.Config{Out: out, Actor: platformtest.Bob}))
	at := time.Date(2026, 3, 2, 13, 2, 11, 0, time.Local)
	r := &platform.Resource{ID: 12, Name: "orders-db", State: platform.Provisioning, Requester: platformtest.Bob}
	ctx := context.Background()
	step := platform.Event{ID: 5, ResourceID: 12, At: at, Kind: platform.EventStep, Message: "creating role payments_dev_orders_db"}
	_ = c.Notify(ctx, r, step)
	_ = c.Notify(ctx, r, step) // redelivered: printed once
	_ = c.Notify(ctx, r, platform.Event{ID: 6, ResourceID: 12, At: at, Kind: platform.EventVerdict, Message: "size-advice (warn): large\nis expensive"})
	failed := *r
	failed.State, failed.Reason = platform.Failed, "boom"
	_ = c.Notify(ctx, &failed, platform.Event{ID: 7, ResourceID: 12, At: at, Kind: platform.EventTransition, From: platform.Provisioning, To: platform.Failed, Message: "boom"})
	_ = c.Private(ctx, r, map[string]string{"password": "s3cret", "url": "postgres://u:s3cret@h/db"})
	_ = c.Private(ctx, r, map[string]string{"password": "s3cret", "url": "postgres://u:s3cret@h/db"})
	// Rotated credentials (/idp credentials --rotate) are shown again.
	_ = c.Private(ctx, r, map[string]string{"password": "rotated", "url": "postgres://u:rotated@h/db"})
	other := &platform.Resource{ID: 13, Name: "x", Requester: platformtest.Alice}
	// Someone else's details are not shown here: the job defers them to a
	// console of theirs, and says so once.
	for range 2 {
		err := c.Private(ctx, other, map[string]string{"password": "alices"})
		var d interface{ DeferFor() time.Duration }
		if !errors.As(err, &d) || d.DeferFor() <= 0 {
			t.Errorf("Private(another user's resource) = %v, want a deferral", err)
		}
	}
	want := "  13:02:11  #12 orders-db  provisioning  creating role payments_dev_orders_db\n" +
		"  13:02:11  #12 orders-db  policy  size-advice (warn): large is expensive\n" +
		"  13:02:11  #12 orders-db  failed  boom\n" +
		"    [Retry] /idp retry 12\n" +
		"  🔒 only bob sees this (#12 orders-db): url=postgres://u:s3cret@h/db  password=s3cret\n" +
		"  🔒 only bob sees this (#12 orders-db): url=postgres://u:rotated@h/db  password=rotated\n" +
		"  🔒 connection details of #13 x wait for alice (they appear at alice's console).\n"
	if got := out.String(); got != want {
		t.Errorf("output mismatch:\n got: %q\nwant: %q", got, want)
	}
}

func TestConcurrentNotificationsNeverInterleave(t *testing.T) {
	t.Parallel()
	out := &buffer{}
	c := notifier(console.New(console.Config{Out: out, Actor: platformtest.Bob}))
	var wg sync.WaitGroup
	const n = 40
	for i := range n {
		wg.Go(func() {
			r := &platform.Resource{ID: int64(i + 1), Name: fmt.Sprintf("db-%02d", i), State: platform.Provisioning, Requester: platformtest.Bob}
			for j := range 5 {
				_ = c.Notify(context.Background(), r, platform.Event{ID: int64(j + 1), At: time.Now(), Kind: platform.EventStep, Message: strings.Repeat("x", 200)})
			}
		})
	}
	wg.Wait()
	line := regexp.MustCompile(`^  ` + clock + `  #\d+ db-\d\d  provisioning  x{200}$`)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != n*5 {
		t.Errorf("%d lines, want %d", len(lines), n*5)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("mangled line %q", l)
		}
	}
}

func TestLongLinesAndPrompts(t *testing.T) {
	t.Parallel()
	in := strings.NewReader(strings.Repeat("x", 2<<20) + "\nhelp\nquit\n")
	h := newHarness(t, platformtest.Bob, in, true, time.Second)
	out := h.run(t)
	inOrder(t, out,
		`idp> That line is longer than 1048576 bytes; it was ignored\.`,
		`idp> idpbot: request infrastructure from chat\. Commands:`,
		`idp> $`,
	)
}

// notifier tells stories at console c, as the bot does.
func notifier(c *console.Console) *thread.Notifier {
	return thread.New(thread.Config{Transport: c, Threads: &threadtest.Threads{}})
}

// A step is labelled with the operation it belongs to, even when it is
// delivered after the resource moved on (an update's steps arrive once it
// is ready again).
func TestStepsCarryTheirOperation(t *testing.T) {
	t.Parallel()
	out := &buffer{}
	c := notifier(console.New(console.Config{Out: out, Actor: platformtest.Bob}))
	at := time.Date(2026, 3, 2, 13, 2, 11, 0, time.Local)
	r := &platform.Resource{ID: 12, Name: "orders-db", State: platform.Ready, Requester: platformtest.Bob}
	ctx := context.Background()
	evs := []platform.Event{
		{ID: 1, Kind: platform.EventStep, Message: "joined midway"},
		{ID: 2, Kind: platform.EventTransition, From: platform.Ready, To: platform.Updating, Message: "size: small → medium"},
		{ID: 3, Kind: platform.EventStep, Message: "setting the connection limit"},
		{ID: 4, Kind: platform.EventTransition, From: platform.Updating, To: platform.Ready, Message: "updated"},
		{ID: 5, Kind: platform.EventTransition, From: platform.Ready, To: platform.Deleting, Message: "deleting"},
		{ID: 6, Kind: platform.EventStep, Message: "dropping database"},
	}
	for _, ev := range evs {
		ev.ResourceID, ev.At = 12, at
		_ = c.Notify(ctx, r, ev)
	}
	want := "  13:02:11  #12 orders-db  provisioning  joined midway\n" +
		"  13:02:11  #12 orders-db  updating  size: small → medium\n" +
		"  13:02:11  #12 orders-db  updating  setting the connection limit\n" +
		"  13:02:11  #12 orders-db  ready  updated\n" +
		"  13:02:11  #12 orders-db  deleting  deleting\n" +
		"  13:02:11  #12 orders-db  deleting  dropping database\n"
	if got := out.String(); got != want {
		t.Errorf("output mismatch:\n got: %q\nwant: %q", got, want)
	}
}
