package slack

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
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

// A create form is rendered and encoded once for the same service, teams,
// values and channel, and again for anything else; what opens is the same
// modal either way.
func TestFormViewKeptPerForm(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	form := func(text string, actor ...platform.Actor) *commands.Form {
		t.Helper()
		who := aliceActor()
		if len(actor) > 0 {
			who = actor[0]
		}
		rep := h.router.Handle(context.Background(), commands.Request{Actor: who, Platform: Platform, Channel: testChannel, Text: text, Interactive: true})
		if rep.Form == nil {
			t.Fatalf("%s: no form (%v)", text, rep.Err)
		}
		return rep.Form
	}
	first, err := h.adapter.formView(form("create postgresql-database"), testChannel)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.adapter.formView(form("create postgresql-database"), testChannel)
	if err != nil {
		t.Fatal(err)
	}
	if &first[0] != &again[0] {
		t.Error("the same form was encoded again, want the kept one")
	}
	carol := platform.Actor{ID: "slack:" + carol.ID, Name: carol.Name, Email: carol.Email} // other teams than alice's
	for _, other := range []struct {
		form    *commands.Form
		channel string
	}{
		{form("create postgresql-database"), "C0OTHER"},
		{form("create postgresql-database", carol), testChannel},
		{form("create postgresql-database --dry-run"), testChannel},
	} {
		v, err := h.adapter.formView(other.form, other.channel)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(v, first) {
			t.Errorf("%+v in %s has the first form's modal, want its own", other.form.Fields[1], other.channel)
		}
		direct, err := FormModal(other.form, Metadata{Channel: other.channel})
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeView(direct)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, want) {
			t.Errorf("kept modal differs from FormModal's:\n%s\nwant\n%s", v, want)
		}
	}
}

// A form that waits longer than its turn allows opens anyway, and when
// more forms wait than the bot opens in time the acknowledgement opens its
// own first: no form is lost to its trigger's 3 s.
func TestFormsOpenWhenTurnsRunOut(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	h.adapter.openWait = time.Millisecond
	for range maxOpening { // every turn taken, and never given back
		h.adapter.opening <- struct{}{}
	}
	if status, body := h.slash(alice, "create postgresql-database"); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("ack %d %s, want an empty 200", status, body)
	}
	if cb, _ := viewMeta(t, h.lastView()); cb != CallbackCreate {
		t.Errorf("opened %q, want the create form", cb)
	}

	// the first form's follow-up ends a little after its modal opened
	slackfake.Eventually(t, 5*time.Second, "the first form's follow-up", func() bool { return h.adapter.formsBehind.Load() == 0 })
	h.adapter.formsBehind.Store(maxFormsBehind)
	n := len(h.fake.Views())
	if status, _ := h.slash(alice, "create postgresql-database"); status != http.StatusOK {
		t.Fatalf("ack %d", status)
	}
	if got := len(h.fake.Views()); got != n+1 {
		t.Errorf("%d forms opened when the ack came, want %d: with %d forms waiting the ack waits for its own", got-n, 1, maxFormsBehind)
	}
	if got := h.adapter.formsBehind.Load(); got != maxFormsBehind {
		t.Errorf("forms waiting = %d after the ack, want %d as before", got, maxFormsBehind)
	}
	if r := h.fake.Responses(); len(r) != 0 {
		t.Errorf("answered through response_url: %+v, want only the forms", r)
	}
}
