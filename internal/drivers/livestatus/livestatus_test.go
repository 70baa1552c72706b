package livestatus

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idpbot/idpbot/internal/platform"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	got, err := Decode([]byte(`{"health": "changed", "summary": "Bucket  versioning\nwas turned off.",
		"checks": [{"name": "versioning", "recorded": "on", "live": "off", "ok": false}, {"name": "bucket", "ok": true}]}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := platform.LiveStatus{Health: platform.Changed, Summary: "Bucket versioning was turned off.", Checks: []platform.LiveCheck{
		{Name: "versioning", Recorded: "on", Live: "off"},
		{Name: "bucket", OK: true},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
	if got, err := Decode([]byte(`{"health":"healthy","summary":"fine"}` + "\n")); err != nil || got.Health != platform.Healthy || got.Checks != nil {
		t.Errorf("Decode(minimal) = %+v, %v; want healthy without checks", got, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, want string }{
		{"not JSON", `healthy`, "not a valid document"},
		{"unknown key", `{"health":"healthy","summary":"ok","state":"ready"}`, "unknown field"},
		{"unknown health", `{"health":"fine","summary":"ok"}`, `health "fine" is not one of`},
		{"no health", `{"summary":"ok"}`, "no health"},
		{"no summary", `{"health":"healthy"}`, "no summary"},
		{"blank summary", `{"health":"healthy","summary":" \n"}`, "no summary"},
		{"check without name", `{"health":"healthy","summary":"ok","checks":[{"ok":true}]}`, "check 1 has no name"},
		{"check without ok", `{"health":"healthy","summary":"ok","checks":[{"name":"x"}]}`, `check "x" has no ok`},
		{"unknown check key", `{"health":"healthy","summary":"ok","checks":[{"name":"x","ok":true,"extra":1}]}`, "unknown field"},
		{"trailing data", `{"health":"healthy","summary":"ok"} {}`, "data after the document"},
		{"too many checks", `{"health":"healthy","summary":"ok","checks":[` + strings.Repeat(`{"name":"x","ok":true},`, MaxChecks) + `{"name":"x","ok":true}]}`, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode(%q) = %+v, %v; want an error containing %q", tt.doc, got, err, tt.want)
			}
		})
	}
}
