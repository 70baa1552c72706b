package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// The fuzz targets below send what a signed request may carry after its
// signature checked out: any form as a slash command, any payload as an
// interaction. Whatever it is, the handler answers 200 or 400 (never a 5xx
// or a panic), a 400 changes nothing, a 200 carries JSON or nothing, and
// nothing shows an internal error or sends Slack something it would refuse.

// internalError matches a log line of an internal error shown by reference.
var internalError = regexp.MustCompile(`level=ERROR[^\n]* ref=`)

// fuzzHarness is a harness without background provisioning whose HTTP
// client reaches the fake Slack only: a fuzzed response_url pointing
// anywhere else is refused rather than called.
func fuzzHarness(f *testing.F) *fuzzed {
	fx := platformtest.Engine(f, platformtest.WithCatalog(realCatalog(f)), platformtest.WithOrg(testOrg()),
		platformtest.WithPolicies(productionHA{}))
	only := &onlyHost{next: http.DefaultTransport}
	h := newHarness(f, harnessConfig{engine: fx.Engine, client: &http.Client{Timeout: 5 * time.Second, Transport: only}})
	fakeURL, err := url.Parse(h.fake.URL())
	if err != nil {
		f.Fatal(err)
	}
	only.host = fakeURL.Host
	return &fuzzed{harness: h, store: fx.Store}
}

// fuzzed is a harness and the store under its engine.
type fuzzed struct {
	*harness
	store *platformtest.Store
}

// onlyHost is a transport that refuses requests to any host but one.
type onlyHost struct {
	host string
	next http.RoundTripper
}

func (o *onlyHost) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != o.host {
		return nil, errors.New("fuzz: refused request to " + r.URL.Host)
	}
	return o.next.RoundTrip(r)
}

// serve posts a validly signed body to path straight into the handler (so
// that a panic reaches the fuzzer instead of net/http's recovery), waits
// for the work it started and checks what the bot did.
func (h *fuzzed) serve(t *testing.T, path string, body []byte) {
	before := len(h.fake.Calls())
	events := len(h.store.AllEvents())
	logged := len(h.logs.String())

	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header = slackfake.Sign(testSecret, time.Now(), body)
	rec := httptest.NewRecorder()
	h.srv.Config.Handler.ServeHTTP(rec, req)
	h.adapter.Wait()

	logs := h.logs.String()[logged:]
	switch rec.Code {
	case http.StatusBadRequest:
		if n := len(h.fake.Calls()); n != before {
			t.Errorf("a refused request called Slack %d times: %v", n-before, h.fake.Calls()[before:])
		}
		if n := len(h.store.AllEvents()); n != events {
			t.Errorf("a refused request recorded %d events", n-events)
		}
	case http.StatusOK:
		if ack := rec.Body.Bytes(); len(ack) > 0 && !json.Valid(ack) {
			t.Errorf("acknowledgement is not JSON: %q", ack)
		}
	default:
		t.Errorf("status %d for %q: %s", rec.Code, body, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "Something went wrong") || internalError.MatchString(logs) {
		t.Errorf("an internal error for %q: %s\n%s", body, rec.Body, logs)
	}
	if v := botFaults(h.fake.TakeViolations()); len(v) > 0 {
		t.Errorf("the bot sent Slack what it refuses, for %q: %q", body, v)
	}
}

// inputFaults are the violations a fuzzed request causes by itself: a
// trigger_id or view_id it made up.
var inputFaults = regexp.MustCompile(`invalid_trigger_id|expired_trigger_id|exchanged_trigger_id|views\.update of unknown view`)

// botFaults returns the violations that are the bot's doing: invalid Block
// Kit, missing arguments and the like.
func botFaults(violations []string) []string {
	var out []string
	for _, v := range violations {
		if !inputFaults.MatchString(v) {
			out = append(out, v)
		}
	}
	return out
}

func FuzzSlashCommand(f *testing.F) {
	h := fuzzHarness(f)
	for _, text := range []string{"", "help", "catalog", "create postgresql-database", "create web-application name=web env=production",
		"create postgresql-database name=db size=large --dry-run", "list --mine", "status #1", "delete db --yes", "\u202e\"'\\"} {
		for _, u := range []slackfake.User{alice, mallory} {
			f.Add([]byte(h.fake.SlashCommand(u, testChannel, text).Encode()))
		}
	}
	f.Add([]byte("command=%2Fidp&text=%ZZ"))
	f.Add([]byte("user_id=&text=create&command=/idp"))
	f.Fuzz(func(t *testing.T, body []byte) {
		h.serve(t, "/slack/commands", body)
	})
}

func FuzzInteraction(f *testing.F) {
	h := fuzzHarness(f)
	for _, name := range []string{"modal_postgresql-database", "modal_web-application", "modal_api-gateway", "modal_action"} {
		view, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
		if err != nil {
			f.Fatal(err)
		}
		v := slackfake.View{ID: "V0FUZZ", Hash: "h1", JSON: view}
		for _, u := range []slackfake.User{alice, mallory} {
			payload, err := slackfake.ViewSubmission(v, u, nil)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(payload))
		}
	}
	for _, value := range []string{"approve 1", "status 1", "delete 1", "nonsense"} {
		payload, err := h.fake.ButtonClick(alice, testChannel, "b", ActionRun+"0", value)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(payload))
	}
	f.Add(`{"type":"view_submission","view":{"callback_id":"idp_create","private_metadata":"{}"}}`)
	f.Add(`{"type":"block_actions","actions":[null]}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, payload string) {
		h.serve(t, "/slack/interactions", []byte(url.Values{"payload": {payload}}.Encode()))
	})
}
