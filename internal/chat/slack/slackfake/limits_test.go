package slackfake_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// newClock is a hand-moved clock for the limits (it moves only on
// Advance).
func newClock() *platformtest.Clock {
	return platformtest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), 0)
}

// limited returns a fake enforcing Slack's documented limits on a hand-moved
// clock.
func limited(t *testing.T) (*slackfake.Server, *platformtest.Clock) {
	s := slackfake.New(t)
	c := newClock()
	l := slackfake.DocumentedLimits()
	l.Now = c.Now
	s.SetLimits(l)
	return s, c
}

func post(api *slackapi.Client, channel, text string) error {
	_, _, err := api.PostMessageContext(context.Background(), channel, slackapi.MsgOptionText(text, false))
	return err
}

// retryAfter returns the wait of a rate-limited error, or fails the test.
func retryAfter(t *testing.T, what string, err error) time.Duration {
	t.Helper()
	var rl *slackapi.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("%s: err = %v, want a RateLimitedError", what, err)
	}
	return rl.RetryAfter
}

func TestLimitsAreOffByDefault(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	for i := range 30 {
		if err := post(api, "C1", fmt.Sprint("m", i)); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	for i := range 60 {
		if _, err := api.GetConversationInfoContext(context.Background(), &slackapi.GetConversationInfoInput{ChannelID: "C1"}); err != nil && err.Error() != "channel_not_found" {
			t.Fatalf("conversations.info %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.Methods["chat.postMessage"] != (slackfake.MethodStats{Calls: 30}) || st.Methods["conversations.info"] != (slackfake.MethodStats{Calls: 60}) || st.Posts["C1"] != 30 {
		t.Errorf("Stats = %+v, want 30 posts and 60 lookups, none limited", st)
	}
}

func TestPostMessageIsLimitedPerChannel(t *testing.T) {
	t.Parallel()
	s, clk := limited(t)
	api := client(s)
	for i := range 3 {
		if err := post(api, "C1", fmt.Sprint("burst ", i)); err != nil {
			t.Fatalf("post %d of the burst: %v", i, err)
		}
	}
	if got := retryAfter(t, "fourth post", post(api, "C1", "one too many")); got != time.Second {
		t.Errorf("Retry-After = %v, want 1s", got)
	}
	if n := len(s.Messages("C1")); n != 3 {
		t.Errorf("%d messages in C1, want 3: a limited post has no effect", n)
	}
	calls := s.Calls("chat.postMessage")
	if last := calls[len(calls)-1]; last.Status != http.StatusTooManyRequests || last.Error != "ratelimited" {
		t.Errorf("last call recorded as %d %q, want 429 ratelimited", last.Status, last.Error)
	}
	// Another channel and another method have their own buckets.
	if err := post(api, "C2", "elsewhere"); err != nil {
		t.Errorf("post in C2: %v", err)
	}
	if _, _, _, err := api.UpdateMessageContext(context.Background(), "C1", s.Messages("C1")[0].TS, slackapi.MsgOptionText("edited", false)); err != nil {
		t.Errorf("chat.update in C1: %v", err)
	}
	clk.Advance(999 * time.Millisecond)
	retryAfter(t, "post 999ms later", post(api, "C1", "still too soon"))
	clk.Advance(time.Millisecond)
	if err := post(api, "C1", "a second later"); err != nil {
		t.Errorf("post a second later: %v", err)
	}
	retryAfter(t, "the next post at once", post(api, "C1", "again too soon"))

	st := s.Stats()
	want := slackfake.MethodStats{Calls: 8, RateLimited: 3}
	if st.Methods["chat.postMessage"] != want || st.Posts["C1"] != 4 || st.Posts["C2"] != 1 {
		t.Errorf("Stats = %+v, want postMessage %+v, 4 posts in C1 and 1 in C2", st, want)
	}
}

func TestTiersAreEnforcedPerMethod(t *testing.T) {
	t.Parallel()
	s, clk := limited(t)
	s.SetChannel(slackfake.Channel{ID: "C1", IsMember: true})
	s.AddUser(slackfake.User{ID: "U1", Name: "dev"})
	api := client(s)
	ctx := context.Background()
	info := func() error {
		_, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C1"})
		return err
	}
	for i := range 50 { // Tier 3
		if err := info(); err != nil {
			t.Fatalf("conversations.info %d: %v", i, err)
		}
	}
	// Tier 3 earns a call back every 1.2 s.
	if got := retryAfter(t, "conversations.info 51", info()); got != 2*time.Second {
		t.Errorf("Retry-After = %v, want 2s (1.2s rounded up)", got)
	}
	for i := range 100 { // Tier 4, its own bucket
		if _, err := api.GetUserInfoContext(ctx, "U1"); err != nil {
			t.Fatalf("users.info %d: %v", i, err)
		}
	}
	retryAfter(t, "users.info 101", func() error { _, err := api.GetUserInfoContext(ctx, "U1"); return err }())
	for i := range 20 { // Tier 2
		if _, err := api.GetUserGroupMembersContext(ctx, "S1"); err != nil && err.Error() != "no_such_subteam" {
			t.Fatalf("usergroups.users.list %d: %v", i, err)
		}
	}
	if got := retryAfter(t, "usergroups.users.list 21", func() error { _, err := api.GetUserGroupMembersContext(ctx, "S1"); return err }()); got != 3*time.Second {
		t.Errorf("Tier 2 Retry-After = %v, want 3s", got)
	}
	if err := post(api, "C1", "posting is not tiered"); err != nil {
		t.Errorf("post: %v", err)
	}
	clk.Advance(1200 * time.Millisecond)
	if err := info(); err != nil {
		t.Errorf("conversations.info 1.2s later: %v", err)
	}
	st := s.Stats()
	for m, want := range map[string]slackfake.MethodStats{
		"conversations.info":    {Calls: 52, RateLimited: 1},
		"users.info":            {Calls: 101, RateLimited: 1},
		"usergroups.users.list": {Calls: 21, RateLimited: 1},
		"chat.postMessage":      {Calls: 1},
	} {
		if st.Methods[m] != want {
			t.Errorf("Stats.Methods[%s] = %+v, want %+v", m, st.Methods[m], want)
		}
	}
}

func TestRetryAfterIsTheWaitRoundedUp(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	clk := newClock()
	l := slackfake.DocumentedLimits()
	l.Now = clk.Now
	l.Methods["auth.test"] = slackfake.Tier1
	s.SetLimits(l)
	api := client(s)
	ctx := context.Background()
	if _, err := api.AuthTestContext(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := api.AuthTestContext(ctx)
	if got := retryAfter(t, "second auth.test", err); got != time.Minute {
		t.Errorf("Retry-After = %v, want 1m", got)
	}
	clk.Advance(30*time.Second + 500*time.Millisecond)
	_, err = api.AuthTestContext(ctx)
	if got := retryAfter(t, "auth.test 30.5s later", err); got != 30*time.Second {
		t.Errorf("Retry-After = %v, want 30s (29.5s rounded up)", got)
	}
	clk.Advance(29*time.Second + 500*time.Millisecond)
	if _, err := api.AuthTestContext(ctx); err != nil {
		t.Errorf("auth.test a minute later: %v", err)
	}
}

func TestUnknownMethodsAreInTheDefaultTier(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	clk := newClock()
	s.SetLimits(slackfake.Limits{
		Tiers:       map[slackfake.Tier]slackfake.Rate{slackfake.Tier3: {N: 2, Per: time.Minute}},
		Methods:     slackfake.MethodTiers,
		DefaultTier: slackfake.Tier3,
		Now:         clk.Now,
	})
	api := client(s)
	ctx := context.Background()
	for range 2 {
		if _, err := api.GetTeamInfoContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err := api.GetTeamInfoContext(ctx)
	if got := retryAfter(t, "third team.info", err); got != 30*time.Second {
		t.Errorf("Retry-After = %v, want 30s", got)
	}
	// Tier 4 has no rate in these limits: unlimited.
	for range 5 {
		if _, err := api.AuthTestContext(ctx); err != nil {
			t.Fatalf("auth.test: %v", err)
		}
	}
}

func TestScaledShortensEveryWindow(t *testing.T) {
	t.Parallel()
	l := slackfake.DocumentedLimits().Scaled(10)
	if l.PostMessage != (slackfake.Rate{N: 1, Per: 100 * time.Millisecond, Burst: 3}) || l.Tiers[slackfake.Tier3] != (slackfake.Rate{N: 50, Per: 6 * time.Second}) {
		t.Fatalf("Scaled(10) = %+v", l)
	}
	if d := slackfake.DocumentedLimits(); d.PostMessage.Per != time.Second {
		t.Errorf("Scaled changed the documented limits: %+v", d.PostMessage)
	}
	s := slackfake.New(t)
	clk := newClock()
	l.Now = clk.Now
	s.SetLimits(l)
	api := client(s)
	for i := range 3 {
		if err := post(api, "C1", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(99 * time.Millisecond)
	if got := retryAfter(t, "post 99ms later", post(api, "C1", "x")); got != time.Second {
		t.Errorf("Retry-After = %v, want 1s (whole seconds, at least 1)", got)
	}
	clk.Advance(time.Millisecond)
	if err := post(api, "C1", "100ms later"); err != nil {
		t.Errorf("post 100ms later: %v", err)
	}
	// Limits{} turns limiting off again.
	s.SetLimits(slackfake.Limits{})
	for i := range 10 {
		if err := post(api, "C1", fmt.Sprint("free ", i)); err != nil {
			t.Fatalf("post %d with limits off: %v", i, err)
		}
	}
}

func TestScaledRejectsANonPositiveFactor(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil {
			t.Error("Scaled(0) did not panic")
		}
	}()
	slackfake.DocumentedLimits().Scaled(0)
}

func TestDuplicatePostsAreCounted(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	ctx := context.Background()
	_, root, err := api.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("root", false))
	if err != nil {
		t.Fatal(err)
	}
	blocks := slackapi.MsgOptionBlocks(slackapi.NewSectionBlock(slackapi.NewTextBlockObject("mrkdwn", "step 1", false, false), nil, nil))
	for _, opts := range [][]slackapi.MsgOption{
		{slackapi.MsgOptionText("step 1", false), slackapi.MsgOptionTS(root)},
		{slackapi.MsgOptionText("step 1", false), slackapi.MsgOptionTS(root)},         // duplicate
		{slackapi.MsgOptionText("step 1", false), slackapi.MsgOptionTS(root), blocks}, // other blocks
		{slackapi.MsgOptionText("step 1", false), slackapi.MsgOptionTS(root), blocks}, // duplicate
		{slackapi.MsgOptionText("step 1", false)},                                     // not in the thread
		{slackapi.MsgOptionText("root", false)},                                       // duplicate of the root
	} {
		if _, _, err := api.PostMessageContext(ctx, "C1", opts...); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := api.PostMessageContext(ctx, "C2", slackapi.MsgOptionText("root", false)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range s.Stats().Duplicates {
		got = append(got, fmt.Sprintf("%s %s %s %t", m.Channel, m.ThreadTS, m.Text, len(m.Blocks) > 0))
	}
	want := []string{"C1 " + root + " step 1 false", "C1 " + root + " step 1 true", "C1  root false"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("duplicates mismatch (-want +got):\n%s", diff)
	}
}

func TestMethodTiersNameRealMethods(t *testing.T) {
	t.Parallel()
	spec, err := slackfake.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for m, tier := range slackfake.MethodTiers {
		if _, ok := spec.Method(m); !ok && m != "apps.connections.open" {
			t.Errorf("MethodTiers[%q]: not a method of Slack's Web API", m)
		}
		if tier < slackfake.Tier1 || tier > slackfake.Tier4 {
			t.Errorf("MethodTiers[%q] = %d, not a tier", m, tier)
		}
	}
}
