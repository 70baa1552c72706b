package slackfake_test

import (
	"context"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

func TestViewsPublishIsCheckedAndRecorded(t *testing.T) {
	t.Parallel()
	s := slackfake.New(t)
	api := client(s)
	ctx := context.Background()
	section := func() slackapi.Block {
		return slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, "item", false, false), nil, nil)
	}
	home := func(n int) slackapi.HomeTabViewRequest {
		v := slackapi.HomeTabViewRequest{Type: slackapi.VTHomeTab}
		for range n {
			v.Blocks.BlockSet = append(v.Blocks.BlockSet, section())
		}
		return v
	}
	resp, err := api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: "U0ALICE", View: home(100)})
	if err != nil {
		t.Fatalf("a valid home view: %v", err)
	}
	got := s.Home("U0ALICE")
	if len(got) != 1 || len(got[0].Blocks()) != 100 || resp.View.ID != got[0].ID {
		t.Fatalf("recorded %d views; want the published one", len(got))
	}
	// A stale hash is a conflict; the latest one is accepted.
	stale := "0.stale"
	if _, err := api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: "U0ALICE", View: home(1), Hash: &stale}); err == nil || !strings.Contains(err.Error(), "hash_conflict") {
		t.Errorf("stale hash: %v, want hash_conflict", err)
	}
	latest := got[0].Hash
	if _, err := api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: "U0ALICE", View: home(1), Hash: &latest}); err != nil {
		t.Errorf("latest hash: %v", err)
	}

	modal := home(1)
	modal.Type = slackapi.VTModal
	for _, tc := range []struct {
		name string
		req  slackapi.PublishViewContextRequest
		want string
	}{
		{"101 blocks", slackapi.PublishViewContextRequest{UserID: "U0BOB", View: home(101)}, "101 blocks"},
		{"a modal", slackapi.PublishViewContextRequest{UserID: "U0BOB", View: modal}, "must be home"},
		{"a channel", slackapi.PublishViewContextRequest{UserID: "C0GENERAL", View: home(1)}, "not a user id"},
	} {
		if _, err := api.PublishViewContext(ctx, tc.req); err == nil {
			t.Errorf("%s: published, want an error", tc.name)
		}
		v := s.TakeViolations()
		if len(v) != 1 || !strings.Contains(v[0], tc.want) {
			t.Errorf("%s: violations %q, want one about %q", tc.name, v, tc.want)
		}
	}
	if n := len(s.Home("U0BOB")); n != 0 {
		t.Errorf("refused views were recorded: %d", n)
	}
	if probs := slackfake.CheckHomeView([]byte(`{"type":"home","blocks":[{"type":"actions","elements":[]}]}`)); len(probs) == 0 {
		t.Error("CheckHomeView accepts an empty actions block")
	}
}
