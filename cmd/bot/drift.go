package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/metrics"
)

// Interval is a Duration that may also be 0 (0, "0" or "0s"): off.
type Interval time.Duration

func (d *Interval) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil && n.String() == "0" {
		*d = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil && isZero(s) {
		*d = 0
		return nil
	}
	var v Duration
	if err := v.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%w, or 0 to turn it off", err)
	}
	*d = Interval(v)
	return nil
}

// DriftConfig returns the drift check's settings, defaults filled in.
func (c *Config) DriftConfig() (jobs.DriftConfig, error) {
	d := jobs.DriftConfig{
		Interval:    jobs.DefaultDriftInterval,
		Concurrency: c.Drift.Concurrency,
		Timeout:     time.Duration(c.Drift.Timeout),
	}
	if c.Drift.Interval != nil {
		d.Interval = time.Duration(*c.Drift.Interval)
		d.Disabled = d.Interval == 0
	}
	if d.Concurrency < 0 {
		return d, fmt.Errorf("drift.concurrency must be at least 1 (got %d)", d.Concurrency)
	}
	if !d.Disabled && d.Timeout > d.Interval {
		return d, fmt.Errorf("drift.timeout (%s) must not be longer than drift.interval (%s)", shortDuration(d.Timeout), shortDuration(d.Interval))
	}
	return d, nil
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// driftChecker builds the periodic drift check over the app's engine and
// store, with its metrics registered and seeded.
func (a *app) driftChecker(o options) (*jobs.DriftChecker, error) {
	cfg, err := a.cfg.DriftConfig()
	if err != nil {
		return nil, userError{fmt.Sprintf("config %s: %v", displayPath(o.config), err)}
	}
	m := metrics.NewDrift(a.reg, a.store, a.log)
	m.Seed(a.engine.Catalog(), a.engine.Org())
	return jobs.NewDriftChecker(a.engine, a.store, cfg, m, a.log), nil
}

var _ jobs.DriftObserver = (*metrics.Drift)(nil)
