package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Snapshot reads the gauges the metrics endpoint exports: resources by
// state, the oldest resource in each state, the self-service rate of the
// last 30 days, the job queues and the latest survey round's NPS. Every
// replica reads the same numbers.
func (s *Store) Snapshot(ctx context.Context) (platform.Snapshot, error) {
	snap := platform.Snapshot{
		ResourcesByState: map[platform.State]int{},
		OldestInState:    map[platform.State]time.Duration{},
	}
	rows, err := s.pool.Query(ctx, `
		SELECT state, count(*), extract(epoch FROM now() - min(updated_at))
		FROM resources GROUP BY state`)
	if err != nil {
		return snap, fmt.Errorf("resources by state: %w", err)
	}
	for rows.Next() {
		var state string
		var n int
		var age float64
		if err := rows.Scan(&state, &n, &age); err != nil {
			rows.Close()
			return snap, err
		}
		snap.ResourcesByState[platform.State(state)] = n
		snap.OldestInState[platform.State(state)] = time.Duration(age * float64(time.Second))
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("resources by state: %w", err)
	}

	var rate *float64
	if err := s.pool.QueryRow(ctx, `
		SELECT 100.0 * avg(self_service::int) FROM resources
		WHERE created_at >= now() - interval '30 days'`).Scan(&rate); err != nil {
		return snap, fmt.Errorf("self-service rate: %w", err)
	}
	if rate != nil {
		snap.SelfServiceRate, snap.HasSelfServiceRate = *rate, true
	}

	rows, err = s.pool.Query(ctx, `
		SELECT queue, count(*), coalesce(extract(epoch FROM now() - min(scheduled_at)), 0)
		FROM river_job
		WHERE state IN ('available', 'retryable', 'scheduled') AND scheduled_at <= now()
		GROUP BY queue ORDER BY queue`)
	if err != nil {
		return snap, fmt.Errorf("job queues: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var q platform.QueueStat
		var age float64
		if err := rows.Scan(&q.Queue, &q.Depth, &age); err != nil {
			return snap, err
		}
		q.OldestPending = time.Duration(max(age, 0) * float64(time.Second))
		snap.Queues = append(snap.Queues, q)
	}
	if err := rows.Err(); err != nil {
		return snap, err
	}
	r, _, ok, err := latestSurveyResult(ctx, s.pool, time.Time{})
	if err != nil {
		return snap, fmt.Errorf("NPS: %w", err)
	}
	snap.NPS, snap.HasNPS, snap.NPSResponses = r.NPS, ok, r.Responses
	return snap, nil
}

// Stats reads the platform's health since a time: requests and how many
// were self-service, ready and failed ones, request-to-ready times (mean
// and p90), active resources, and the latest survey round's NPS.
// A request counts as failed when it failed and never became ready, whatever
// happened to it since (deleted, forgotten).
func (s *Store) Stats(ctx context.Context, since time.Time) (platform.Stats, error) {
	st := platform.Stats{Since: since}
	var avg, p90 *float64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE self_service),
		       count(*) FILTER (WHERE ready_at IS NOT NULL),
		       count(*) FILTER (WHERE ready_at IS NULL AND EXISTS (
		           SELECT 1 FROM events e
		           WHERE e.resource_id = resources.id AND e.kind = 'transition' AND e.to_state = 'failed')),
		       avg(extract(epoch FROM ready_at - created_at)),
		       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM ready_at - created_at))
		FROM resources WHERE created_at >= $1`, since).
		Scan(&st.Requests, &st.SelfService, &st.Ready, &st.Failed, &avg, &p90)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	if avg != nil {
		st.AvgProvision = time.Duration(*avg * float64(time.Second))
	}
	if p90 != nil {
		st.P90Provision = time.Duration(*p90 * float64(time.Second))
	}
	if err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM resources
		WHERE state IN ('pending', 'awaiting_approval', 'provisioning', 'ready')`).Scan(&st.Active); err != nil {
		return st, fmt.Errorf("stats: active resources: %w", err)
	}
	r, _, ok, err := latestSurveyResult(ctx, s.pool, time.Time{})
	if err != nil {
		return st, fmt.Errorf("stats: NPS: %w", err)
	}
	st.NPS, st.HasNPS = r.NPS, ok
	return st, nil
}
