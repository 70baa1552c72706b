package slack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform"
)

// readyDB creates orders-db for alice in development and waits until it
// is ready.
func readyDB(t *testing.T, f interface {
	Settle(int64, time.Duration) *platform.Resource
}, submit func() (*platform.Resource, error)) *platform.Resource {
	t.Helper()
	r, err := submit()
	if err != nil {
		t.Fatal(err)
	}
	if r = f.Settle(r.ID, 5*time.Second); r.State != platform.Ready {
		t.Fatalf("orders-db is %s (%s)", r.State, r.Reason)
	}
	return r
}

func TestUpdateModalPrefilledAndSubmitted(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	r := readyDB(t, f, func() (*platform.Resource, error) {
		r, _, err := f.Engine.Submit(context.Background(), aliceActor(), platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments",
			Environment: "development", Parameters: map[string]any{"backup_retention_days": int64(14)}, Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
		return r, err
	})

	status, body := h.slash(alice, "update orders-db")
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("slash command ack: %d %q, want an empty 200 (the modal answers)", status, body)
	}
	v := h.lastView()
	if cb, md := viewMeta(t, v); cb != CallbackUpdate || md.Update != r.Ref() || md.Service != "postgresql-database" || md.Channel != testChannel {
		t.Fatalf("opened view %s with metadata %+v, want the update form of %s", cb, md, r.Ref())
	}
	if p := slackfake.CheckView(v.JSON); len(p) > 0 {
		t.Errorf("the update modal breaks Slack's rules: %q", p)
	}
	golden(t, "modal_update", v.JSON)

	ack := h.submit(v, alice, map[string]string{"backup_retention_days": "99"})
	if ack["response_action"] != "errors" {
		t.Fatalf("invalid submission: ack %v, want response_action errors", ack)
	}
	if errs := ack["errors"].(map[string]any); !strings.Contains(errs["backup_retention_days"].(string), "1–35") {
		t.Errorf("inline errors %v, want one on backup_retention_days", errs)
	}
	if got := f.Settle(r.ID, time.Second); !cmp.Equal(got.Parameters, r.Parameters) || got.State != platform.Ready {
		t.Fatalf("an invalid submission changed %s: %s %v", r.Ref(), got.State, got.Parameters)
	}

	ack = h.submit(v, alice, map[string]string{"size": "medium", "backup_retention_days": "14"})
	if diff := cmp.Diff(map[string]any{"response_action": "clear"}, ack); diff != "" {
		t.Fatalf("valid submission ack mismatch (-want +got):\n%s", diff)
	}
	got := f.Settle(r.ID, 5*time.Second)
	if got.State != platform.Ready || got.Parameters["size"] != "medium" || got.Parameters["backup_retention_days"] != int64(14) {
		t.Errorf("after the update: %s %v", got.State, got.Parameters)
	}
}

func TestUpdateModalRefusedBeforeItOpens(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	h := newHarness(t, harnessConfig{engine: f.Engine})
	readyDB(t, f, func() (*platform.Resource, error) {
		r, _, err := f.Engine.Submit(context.Background(), aliceActor(), platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments",
			Environment: "development", Origin: platform.Origin{Platform: Platform, Channel: testChannel}})
		return r, err
	})
	status, body := h.slash(carol, "update orders-db")
	if status != http.StatusOK || !strings.Contains(string(body), `There is no resource \"orders-db\" that you can see`) {
		t.Errorf("update by another team: %d %s", status, body)
	}
	if n := len(h.fake.Views()); n != 0 {
		t.Errorf("%d views opened for a refused update", n)
	}
}

func TestUpdateModalShowsImmutableParameters(t *testing.T) {
	t.Parallel()
	svc := &platform.ServiceDefinition{Name: "cache", Title: "Cache", Fields: []platform.Field{
		{Name: "region", Kind: platform.KindEnum, Options: []string{"eu", "us"}, Default: "eu", Immutable: true},
		{Name: "size", Kind: platform.KindEnum, Options: []string{"small", "large"}, Default: "small"},
	}}
	r := &platform.Resource{ID: 4, Service: "cache", Name: "sessions", Team: "payments", Environment: "staging", Parameters: map[string]any{"region": "us"}}
	v, err := UpdateModal(r, svc, Metadata{Channel: testChannel})
	if err != nil {
		t.Fatal(err)
	}
	var inputs, context []string
	for _, b := range v.Blocks.BlockSet {
		switch b := b.(type) {
		case *slackapi.InputBlock:
			inputs = append(inputs, b.BlockID)
		case *slackapi.ContextBlock:
			if b.BlockID == "immutable" {
				context = append(context, b.ContextElements.Elements[0].(*slackapi.TextBlockObject).Text)
			}
		}
	}
	if diff := cmp.Diff([]string{"size"}, inputs); diff != "" {
		t.Errorf("inputs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Immutable (create a new resource to change them): `region=us`"}, context); diff != "" {
		t.Errorf("immutable context mismatch (-want +got):\n%s", diff)
	}
	svc.Fields[1].Immutable = true
	if _, err := UpdateModal(r, svc, Metadata{}); platform.ErrorCode(err) != platform.Invalid {
		t.Errorf("UpdateModal with nothing to change = %v, want Invalid", err)
	}
}
