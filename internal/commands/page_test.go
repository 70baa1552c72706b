package commands_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// seed records n ready resources of team in env, requested by actor, and
// returns their refs newest first.
func seed(t *testing.T, e *env, n int, team, env string, actor platform.Actor) []string {
	t.Helper()
	var refs []string
	for i := range n {
		r := &platform.Resource{Service: "postgresql-database", ServiceType: "database", Name: fmt.Sprintf("%s-db-%02d", team, i),
			Team: team, Environment: env, State: platform.Ready, Requester: actor, SelfService: true}
		if err := e.f.Store.CreateResource(context.Background(), r, platform.Event{Kind: platform.EventTransition, To: platform.Ready, Actor: actor}, nil); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r.Ref())
	}
	slices.Reverse(refs)
	return refs
}

// rowsOf returns the refs of a list reply's table rows.
func rowsOf(rep commands.Reply) []string {
	var rows []string
	for _, s := range rep.Sections {
		if !strings.HasPrefix(s.Text, "ID  ") {
			continue
		}
		for _, line := range strings.Split(s.Text, "\n")[1:] {
			rows = append(rows, strings.Fields(line)[0])
		}
	}
	return rows
}

// action returns the command of rep's action labelled label, or "".
func action(rep commands.Reply, label string) string {
	for _, a := range rep.Actions {
		if a.Label == label {
			return a.Command
		}
	}
	return ""
}

func TestListPagesForwardAndBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refs := seed(t, e, 45, "payments", "staging", alice)
	seed(t, e, 3, "payments", "development", alice) // filtered out by --env
	seed(t, e, 4, "platform", "staging", alice)     // filtered out by --team

	rep := e.run(alice, "list --team payments --env staging --mine")
	var pages [][]string
	var texts []string
	for i := 0; ; i++ {
		if rep.Err != nil {
			t.Fatalf("page %d: %s", i+1, rep.Text())
		}
		if rep.Title != "45 resources of team payments, requested by you, in staging:" {
			t.Errorf("page %d title = %q", i+1, rep.Title)
		}
		pages = append(pages, rowsOf(rep))
		texts = append(texts, rep.Text())
		next := action(rep, "Next")
		if next == "" {
			break
		}
		if !strings.HasPrefix(next, "list --team payments --env staging --mine --after #") {
			t.Fatalf("Next of page %d = %q, want the filters and a cursor", i+1, next)
		}
		rep = e.run(alice, next)
	}
	if diff := cmp.Diff([][]string{refs[:20], refs[20:40], refs[40:]}, pages); diff != "" {
		t.Errorf("pages mismatch (-want +got):\n%s", diff)
	}
	for i, want := range []string{"Page 1 · rows 1–20 of 45", "Page 2 · rows 21–40 of 45", "Page 3 · rows 41–45 of 45"} {
		if !strings.Contains(strings.ReplaceAll(texts[i], "\u00a0", " "), want) {
			t.Errorf("page %d lacks %q:\n%s", i+1, want, texts[i])
		}
	}
	if !strings.Contains(texts[0], "[Next] /idp list --team payments --env staging --mine --after "+refs[19]) {
		t.Errorf("page 1 does not show its Next button as the typed command:\n%s", texts[0])
	}
	if prev := action(rep, "Previous"); prev != "list --team payments --env staging --mine --before "+refs[40] {
		t.Fatalf("Previous of the last page = %q", prev)
	}
	var back [][]string
	for rep.Err == nil {
		prev := action(rep, "Previous")
		if prev == "" {
			break
		}
		rep = e.run(alice, prev)
		back = append(back, rowsOf(rep))
	}
	if diff := cmp.Diff([][]string{refs[20:40], refs[:20]}, back); diff != "" {
		t.Errorf("pages going back mismatch (-want +got):\n%s", diff)
	}
	if action(rep, "Previous") != "" || action(rep, "Next") == "" {
		t.Errorf("the first page again has actions %+v, want Next only", rep.Actions)
	}
}

func TestListPageKeepsStateAndAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refs := seed(t, e, 25, "payments", "staging", bob)
	rep := e.run(bob, "list --state ready --all")
	next := action(rep, "Next")
	if next != "list --state ready --all --after "+refs[19] {
		t.Fatalf("Next = %q", next)
	}
	if got := rowsOf(e.run(bob, next)); !slices.Equal(got, refs[20:]) {
		t.Errorf("second page = %v, want %v", got, refs[20:])
	}
	// A short list has no page line and no buttons.
	if rep := e.run(bob, "list --team platform"); len(rep.Actions) != 0 {
		t.Errorf("a list of one page has actions %+v", rep.Actions)
	}
}

func TestListPageErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e, 3, "payments", "staging", bob)
	for _, tt := range []struct{ text, want string }{
		{"list --after x", `--after takes the #id of a resource, like --after #123 (got "x").`},
		{"list --after 1 --before 2", "Use --after or --before, not both: a page starts after one resource or ends before one."},
		{"list --after #999", "There is no resource #999 to page from; run the list again."},
		{"audit #1 --before -3", `--before takes the #id of a resource, like --before #123 (got "-3").`},
	} {
		rep := e.run(bob, tt.text)
		if rep.Err == nil || rep.Title != tt.want {
			t.Errorf("%s = %q (%v), want the error %q", tt.text, rep.Title, rep.Err, tt.want)
		}
	}
}

func TestAuditPagesLongHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	ctx := context.Background()
	for i := range 2000 {
		if _, err := e.f.Store.AddEvent(ctx, platform.Event{ResourceID: r.ID, Kind: platform.EventStep, Actor: platform.Actor{ID: "system:idpbot"}, Message: fmt.Sprintf("step %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		if _, err := e.f.Store.AddEvent(ctx, platform.Event{ResourceID: r.ID, Kind: platform.EventApproval, Actor: approver, Message: fmt.Sprintf("approval %d by approver", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2000 {
		if _, err := e.f.Store.AddEvent(ctx, platform.Event{ResourceID: r.ID, Kind: platform.EventStep, Actor: platform.Actor{ID: "system:idpbot"}, Message: fmt.Sprintf("later step %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := e.f.Store.Events(ctx, r.ID)
	n := fmt.Sprintf("%d %03d", len(all)/1000, len(all)%1000) // the count as shown: 2 004
	rep := e.run(bob, "audit orders-db")
	text := strings.ReplaceAll(rep.Text(), "\u00a0", " ")
	if want := "Audit of orders-db #1 (postgresql-database of team payments in development): " + n + " events."; strings.ReplaceAll(rep.Title, "\u00a0", " ") != want {
		t.Errorf("title = %q, want %q", rep.Title, want)
	}
	if !strings.Contains(text, "later step 1999") || strings.Contains(text, "later step 1979\n") || !strings.Contains(text, "of "+n+", oldest first") {
		t.Errorf("audit does not show the latest 20 events:\n%s", text)
	}
	// The decisions show whatever the page: the latest ten of twelve.
	if !strings.Contains(text, "(2 earlier, in the history)") || !strings.Contains(text, "approval 11 by approver") || strings.Contains(text, "approval 1 by approver") {
		t.Errorf("audit does not show the latest decisions:\n%s", text)
	}
	older := action(rep, "Older")
	if older != fmt.Sprintf("audit #1 --before %d", all[len(all)-20].ID) || action(rep, "Newer") != "" {
		t.Fatalf("actions of the latest page = %+v", rep.Actions)
	}
	prev := e.run(bob, older)
	if got := prev.Text(); !strings.Contains(got, "later step 1979") || strings.Contains(got, "later step 1980") || action(prev, "Newer") == "" {
		t.Errorf("older page:\n%s", got)
	}
	if back := e.run(bob, action(prev, "Newer")); !strings.Contains(back.Text(), "later step 1999") || action(back, "Newer") != "" {
		t.Errorf("newer page from the older one:\n%s", back.Text())
	}
	// status shows the last events and counts the rest.
	earlier := fmt.Sprintf("(%d %03d earlier events not shown; /idp audit #1 shows them)", (len(all)-12)/1000, (len(all)-12)%1000)
	if st := strings.ReplaceAll(e.run(bob, "status orders-db").Text(), "\u00a0", " "); !strings.Contains(st, "later step 1999") || !strings.Contains(st, earlier) {
		t.Errorf("status history:\n%s", st)
	}
}

func TestPendingPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var refs []string
	for i := range 25 {
		r := &platform.Resource{Service: "postgresql-database", ServiceType: "database", Name: fmt.Sprintf("wait-%02d", i),
			Team: "payments", Environment: "production", State: platform.AwaitingApproval, Requester: bob, SelfService: true}
		if err := e.f.Store.CreateResource(context.Background(), r, platform.Event{Kind: platform.EventTransition, To: platform.AwaitingApproval, Actor: bob}, nil); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r.Ref())
	}
	first := e.run(approver, "list --pending")
	if first.Err != nil || !slices.Equal(rowsOf(first), refs[:20]) {
		t.Fatalf("first page of the queue: %v\n%s", rowsOf(first), first.Text())
	}
	next := action(first, "Next")
	if next != "list --pending --after "+refs[19] || !strings.Contains(strings.ReplaceAll(first.Text(), "\u00a0", " "), "Page 1 · requests 1–20 of 25") {
		t.Fatalf("Next = %q:\n%s", next, first.Text())
	}
	second := e.run(approver, next)
	if !slices.Equal(rowsOf(second), refs[20:]) || action(second, "Next") != "" || action(second, "Previous") != "list --pending --before "+refs[20] {
		t.Errorf("second page of the queue: %v, actions %+v", rowsOf(second), second.Actions)
	}
	if back := e.run(approver, action(second, "Previous")); !slices.Equal(rowsOf(back), refs[:20]) {
		t.Errorf("Previous from the second page: %v", rowsOf(back))
	}
	// A typed cursor takes the id with or without its #.
	if typed := e.run(approver, "list --pending --after "+strings.TrimPrefix(refs[19], "#")); !slices.Equal(rowsOf(typed), refs[20:]) {
		t.Errorf("typed --after %s: %v", strings.TrimPrefix(refs[19], "#"), rowsOf(typed))
	}
}
