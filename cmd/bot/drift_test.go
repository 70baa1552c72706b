package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/jobs"
)

func TestDriftConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		yaml    string
		want    jobs.DriftConfig
		wantErr string
	}{
		{yaml: "", want: jobs.DriftConfig{Interval: 15 * time.Minute}},
		{yaml: "drift: {interval: 5m, concurrency: 2, timeout: 10s}", want: jobs.DriftConfig{Interval: 5 * time.Minute, Concurrency: 2, Timeout: 10 * time.Second}},
		{yaml: "drift: {interval: 0}", want: jobs.DriftConfig{Disabled: true}},
		{yaml: `drift: {interval: "0"}`, want: jobs.DriftConfig{Disabled: true}},
		{yaml: "drift: {interval: 0s}", want: jobs.DriftConfig{Disabled: true}},
		{yaml: "drift: {interval: 1m, timeout: 2m}", wantErr: "drift.timeout (2m) must not be longer than drift.interval (1m)"},
		{yaml: "drift: {interval: soon}", wantErr: "drift.interval"},
		{yaml: "drift: {interval: 5}", wantErr: "drift.interval"},
		{yaml: "drift: {concurrency: -1}", wantErr: "drift.concurrency must be at least 1"},
		{yaml: "drift: {every: 5m}", wantErr: "every"},
	}
	for _, tt := range tests {
		cfg, _, err := decodeConfig("idpbot.yaml", []byte(tt.yaml))
		var got jobs.DriftConfig
		if err == nil {
			got, err = cfg.DriftConfig()
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tt.yaml, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q mismatch (-want +got):\n%s", tt.yaml, diff)
		}
	}
}
