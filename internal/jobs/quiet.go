package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RepeatWindow is how long River's same warning or error is logged once:
// while the database is down River reports each failed poll, several a
// second, which would bury everything else (and, in the console, the
// chat).
const RepeatWindow = 30 * time.Second

// quiet is a slog.Handler that passes a warning or error on only when the
// same message was not passed on within the window; the next one that is
// says how many were held back ("repeated"). Lower levels pass as they
// are. Its state is shared by the handlers WithAttrs and WithGroup derive.
type quiet struct {
	next   slog.Handler
	window time.Duration
	now    func() time.Time
	state  *quietState
}

type quietState struct {
	mu   sync.Mutex
	seen map[string]*quietEntry
}

type quietEntry struct {
	last time.Time
	held int
}

func newQuiet(next slog.Handler, window time.Duration, now func() time.Time) *quiet {
	return &quiet{next: next, window: window, now: now, state: &quietState{seen: map[string]*quietEntry{}}}
}

func (q *quiet) Enabled(ctx context.Context, l slog.Level) bool { return q.next.Enabled(ctx, l) }

func (q *quiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return q.next.Handle(ctx, r)
	}
	now := q.now()
	q.state.mu.Lock()
	e := q.state.seen[r.Message]
	if e != nil && now.Sub(e.last) < q.window {
		e.held++
		q.state.mu.Unlock()
		return nil
	}
	if e == nil {
		e = &quietEntry{}
		q.state.seen[r.Message] = e
	}
	held := e.held
	e.held, e.last = 0, now
	q.state.mu.Unlock()
	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", held))
	}
	return q.next.Handle(ctx, r)
}

func (q *quiet) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quiet{next: q.next.WithAttrs(attrs), window: q.window, now: q.now, state: q.state}
}

func (q *quiet) WithGroup(name string) slog.Handler {
	return &quiet{next: q.next.WithGroup(name), window: q.window, now: q.now, state: q.state}
}
