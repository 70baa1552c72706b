package discord

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// internalError matches a log line of an internal error shown by
// reference, a recovered panic included.
var internalError = regexp.MustCompile(`level=ERROR[^\n]* ref=`)

// inputFaults are the violations a fuzzed interaction causes by itself:
// an interaction id, token or message it made up, or one used twice.
var inputFaults = regexp.MustCompile(`unknown interaction|answered twice|reply to unknown message`)

// FuzzInteraction sends any body, validly signed, to the interactions
// endpoint. Whatever it is, the answer is 200 with a JSON interaction
// response or 400 (never a 5xx or a panic, recovered or not), a 400
// changes nothing, nothing shows an internal error, and every call the bot
// then makes to Discord is one Discord accepts.
func FuzzInteraction(f *testing.F) {
	fx := platformtest.Engine(f, platformtest.WithCatalog(realCatalog(f)), platformtest.WithOrg(testOrg()),
		platformtest.WithPolicies(productionHA{}))
	h := newHarness(f, harnessConfig{engine: fx.Engine})
	h.fake.Lenient()
	for _, in := range []discordtest.Interaction{
		h.fake.Ping(),
		h.fake.Command(alice, testChannel, discordtest.Sub("help")),
		h.fake.Command(alice, testChannel, discordtest.Sub("catalog")),
		h.fake.Command(mallory, testChannel, discordtest.Sub("status", discordtest.String("resource", "1"))),
		h.fake.Command(alice, testChannel, discordtest.Group("create", discordtest.Sub("postgresql-database",
			discordtest.String("name", "orders-db"), discordtest.String("team", "payments"), discordtest.Boolean("dry_run", true)))),
		h.fake.CommandInDM(bob, discordtest.Sub("list")),
		h.fake.Autocomplete(alice, testChannel, discordtest.Focused(discordtest.String("resource", "ord"))),
		h.fake.Click(alice, testChannel, idRun+"status 1"),
		h.fake.Click(alice, testChannel, idAsk+"6:Reasonreject 1"),
		h.fake.SubmitModal(alice, testChannel, idWith+"reject 1", map[string]string{actionInput: "no"}),
	} {
		f.Add(in.Body)
	}
	f.Add([]byte(`{"type":2,"id":"1","data":{"options":[{"type":1,"name":"create","options":[null]}]}}`))
	f.Add([]byte(`{"type":3,"id":"1","member":{"user":{"id":"1"}},"data":{"custom_id":"idp:ask:-1:"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events := len(fx.Store.AllEvents())
		calls := len(h.fake.Calls())
		violations := len(h.fake.Violations())
		logged := len(h.logs.String())

		req := httptest.NewRequest(http.MethodPost, InteractionsPath, bytes.NewReader(body))
		req.Header = h.key.Sign(time.Now(), body)
		rec := httptest.NewRecorder()
		h.srv.Config.Handler.ServeHTTP(rec, req)
		h.adapter.Wait()

		switch rec.Code {
		case http.StatusBadRequest:
			if n := len(h.fake.Calls()); n != calls {
				t.Errorf("a refused interaction called Discord %d times", n-calls)
			}
			if n := len(fx.Store.AllEvents()); n != events {
				t.Errorf("a refused interaction recorded %d events", n-events)
			}
		case http.StatusOK:
			var resp response
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Type == 0 {
				t.Errorf("response %q is not an interaction response: %v", rec.Body, err)
			}
		default:
			t.Errorf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if logs := h.logs.String()[logged:]; internalError.MatchString(logs) {
			t.Errorf("an internal error for %q:\n%s", body, logs)
		}
		for _, v := range h.fake.Violations()[violations:] {
			if !inputFaults.MatchString(v) {
				t.Errorf("the bot sent Discord what it refuses, for %q: %s", body, v)
			}
		}
	})
}
