// Package livestatus decodes the live-status document that the webhook
// driver's status URL and the exec driver's status command answer:
//
//	{"health": "healthy"|"degraded"|"missing"|"changed",
//	 "summary": "one sentence for people",
//	 "checks": [{"name": "...", "recorded": "...", "live": "...", "ok": true}]}
//
// Decoding is strict: unknown keys, an unknown health, a missing summary, a
// check without a name and trailing data are all refused.
package livestatus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/idpbot/idpbot/internal/platform"
)

// MaxChecks is the most checks a document may carry.
const MaxChecks = 50

// document is the wire form.
type document struct {
	Health  *platform.Health `json:"health"`
	Summary *string          `json:"summary"`
	Checks  []check          `json:"checks"`
}

type check struct {
	Name     *string `json:"name"`
	Recorded string  `json:"recorded"`
	Live     string  `json:"live"`
	OK       *bool   `json:"ok"`
}

// Decode parses one live-status document. Texts are made fit for a chat
// (platform.OneLine). The error says what is wrong with the document, for
// the operator who wrote the endpoint or command.
func Decode(data []byte) (platform.LiveStatus, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return platform.LiveStatus{}, fmt.Errorf("live status is not a valid document: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return platform.LiveStatus{}, errors.New("live status has data after the document")
	}
	if doc.Health == nil {
		return platform.LiveStatus{}, errors.New("live status has no health")
	}
	switch *doc.Health {
	case platform.Healthy, platform.Degraded, platform.Missing, platform.Changed:
	default:
		return platform.LiveStatus{}, fmt.Errorf("live status health %q is not one of healthy, degraded, missing, changed", platform.OneLine(string(*doc.Health), 40))
	}
	if doc.Summary == nil || platform.OneLine(*doc.Summary, 300) == "" {
		return platform.LiveStatus{}, errors.New("live status has no summary")
	}
	if len(doc.Checks) > MaxChecks {
		return platform.LiveStatus{}, fmt.Errorf("live status has %d checks, more than %d", len(doc.Checks), MaxChecks)
	}
	st := platform.LiveStatus{Health: *doc.Health, Summary: platform.OneLine(*doc.Summary, 300)}
	for i, c := range doc.Checks {
		if c.Name == nil || platform.OneLine(*c.Name, 100) == "" {
			return platform.LiveStatus{}, fmt.Errorf("live status check %d has no name", i+1)
		}
		if c.OK == nil {
			return platform.LiveStatus{}, fmt.Errorf("live status check %q has no ok", platform.OneLine(*c.Name, 100))
		}
		st.Checks = append(st.Checks, platform.LiveCheck{
			Name:     platform.OneLine(*c.Name, 100),
			Recorded: platform.OneLine(c.Recorded, 200),
			Live:     platform.OneLine(c.Live, 200),
			OK:       *c.OK,
		})
	}
	return st, nil
}

// Verdict is the LiveStatus a driver's own read found: the worst kind of
// finding decides the health (missing, then degraded, then changed) and
// its findings make the summary, one sentence; with none the resource is
// healthy and healthy is the summary.
func Verdict(checks []platform.LiveCheck, missing, degraded, changed []string, healthy string) platform.LiveStatus {
	st := platform.LiveStatus{Checks: checks}
	switch {
	case len(missing) > 0:
		st.Health, st.Summary = platform.Missing, Sentence(missing)
	case len(degraded) > 0:
		st.Health, st.Summary = platform.Degraded, Sentence(degraded)
	case len(changed) > 0:
		st.Health, st.Summary = platform.Changed, Sentence(changed)
	default:
		st.Health, st.Summary = platform.Healthy, healthy
	}
	return st
}

// Sentence joins findings into one sentence, capitalized and ending with
// one period.
func Sentence(parts []string) string {
	s := strings.TrimSuffix(strings.Join(parts, "; "), ".")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
