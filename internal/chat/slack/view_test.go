package slack

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
)

// openView answers as slack-go's OpenViewContext would: nil for an opened
// modal, and Slack's error code, a rate limit or the HTTP status otherwise.
func TestOpenViewErrors(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	view := slackapi.ModalViewRequest{Type: slackapi.VTModal, Title: slackapi.NewTextBlockObject(slackapi.PlainTextType, "Test", false, false),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, "hello", false, false), nil, nil)}}}
	ctx := context.Background()
	if err := h.adapter.openView(ctx, h.fake.NewTrigger(), view); err != nil {
		t.Fatalf("openView = %v, want the modal opened", err)
	}
	if n := len(h.fake.Views()); n != 1 {
		t.Errorf("%d views open, want 1", n)
	}
	if err := h.adapter.openView(ctx, "", view); !errors.Is(err, slackapi.ErrParametersMissing) {
		t.Errorf("openView without a trigger = %v, want ErrParametersMissing", err)
	}
	if err := h.adapter.openView(ctx, "12345.98765.abcd2358fdea", view); slackCode(err) != "invalid_trigger_id" && slackCode(err) != "expired_trigger_id" {
		t.Errorf("openView with an unknown trigger = %v, want Slack's trigger error code", err)
	}
	if v := h.fake.TakeViolations(); len(v) != 1 {
		t.Errorf("violations %q, want the unknown trigger's", v)
	}
	h.fake.Fail("views.open", 1, http.StatusTooManyRequests, 2*time.Second)
	var rl *slackapi.RateLimitedError
	if err := h.adapter.openView(ctx, h.fake.NewTrigger(), view); !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Errorf("openView when rate limited = %v, want RateLimitedError of 2s", err)
	}
	h.fake.Fail("views.open", 1, http.StatusServiceUnavailable, 0)
	var sc slackapi.StatusCodeError
	if err := h.adapter.openView(ctx, h.fake.NewTrigger(), view); !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Errorf("openView on a 503 = %v, want StatusCodeError 503", err)
	}
}
