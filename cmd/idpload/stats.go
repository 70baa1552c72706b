package main

import (
	"slices"
	"time"
)

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 1) of
// sorted, or 0 when it is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted)) + 0.999999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// summary is the latency percentiles of one target in one run.
type summary struct {
	n             int
	p50, p90, p99 time.Duration
}

func summarize(lat []time.Duration) summary {
	s := slices.Clone(lat)
	slices.Sort(s)
	return summary{n: len(s), p50: percentile(s, 0.50), p90: percentile(s, 0.90), p99: percentile(s, 0.99)}
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 when it is empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
