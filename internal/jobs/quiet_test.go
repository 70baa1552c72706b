package jobs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestQuietHoldsBackRepeats: the same warning within the window is logged
// once, the next one after it says how many were held back; other
// messages and lower levels pass.
func TestQuietHoldsBackRepeats(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)
	log := slog.New(newQuiet(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}), RepeatWindow, func() time.Time { return now })).With("component", "jobs")
	ctx := context.Background()
	for range 5 {
		log.ErrorContext(ctx, "producer: Error fetching jobs", "err", "connection refused")
		log.InfoContext(ctx, "producer: Producer job counts")
		now = now.Add(time.Second)
	}
	log.WarnContext(ctx, "leadership.Elector: Error attempting reelection")
	now = now.Add(RepeatWindow)
	log.ErrorContext(ctx, "producer: Error fetching jobs", "err", "connection refused")
	want := `level=ERROR msg="producer: Error fetching jobs" component=jobs err="connection refused"
level=INFO msg="producer: Producer job counts" component=jobs
level=INFO msg="producer: Producer job counts" component=jobs
level=INFO msg="producer: Producer job counts" component=jobs
level=INFO msg="producer: Producer job counts" component=jobs
level=INFO msg="producer: Producer job counts" component=jobs
level=WARN msg="leadership.Elector: Error attempting reelection" component=jobs
level=ERROR msg="producer: Error fetching jobs" component=jobs err="connection refused" repeated=4
`
	if got := buf.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(buf.String(), "Error fetching jobs") != 2 {
		t.Error("repeats were not held back")
	}
}
