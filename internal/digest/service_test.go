package digest_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/digest"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// recorder is a Poster recording the digests it posts; fail, when set,
// decides whether a post fails.
type recorder struct {
	mu    sync.Mutex
	posts []string
	fail  func(channel string) error
}

func (r *recorder) PostDigest(_ context.Context, channel string, d digest.Digest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(channel); err != nil {
			return err
		}
	}
	r.posts = append(r.posts, channel+" "+d.Period.To.UTC().Format(time.RFC3339))
	return nil
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.posts...)
}

func TestScheduledDigestPostsOncePerChannel(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	rec := &recorder{}
	failed := false
	rec.fail = func(channel string) error {
		if channel == "D2" && !failed {
			failed = true
			return errors.New("discord: 502")
		}
		return nil
	}
	svc, err := digest.New(digest.Config{
		Store:    postgres.NewDigests(pool),
		Posters:  map[string]digest.Poster{"slack": rec, "discord": rec},
		Channels: map[string][]string{"slack": {"S1"}, "discord": {"D1", "D2"}, "teams": {"T1"}},
		Schedule: "@every 1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	digest.AddWorkers(workers, svc)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       quickRetry{},
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = client.Stop(stop)
	})
	slot := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)
	opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
	for range 2 {
		if _, err := client.Insert(ctx, digest.PostArgs{Slot: slot}, opts); err != nil {
			t.Fatal(err)
		}
	}
	// Bypassing River's uniqueness, another job of the same slot.
	if _, err := client.Insert(ctx, digest.PostArgs{Slot: slot}, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"S1 2026-01-12T09:00:00Z": true, "D1 2026-01-12T09:00:00Z": true, "D2 2026-01-12T09:00:00Z": true}
	deadline := time.Now().Add(20 * time.Second)
	for len(rec.list()) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("posts = %v, want %d", rec.list(), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let any duplicate job finish before counting.
	var running int
	for {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&running); err != nil {
			t.Fatal(err)
		}
		if running == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := rec.list()
	if len(got) != len(want) {
		t.Errorf("posts = %v, want each of %v once", got, want)
	}
	for _, p := range got {
		if !want[p] {
			t.Errorf("unexpected post %q", p)
		}
	}
}

// quickRetry retries a failed job at once.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }

func TestDigestCommand(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	now := time.Date(2026, 1, 12, 9, 30, 0, 0, time.UTC)
	svc, err := digest.New(digest.Config{Store: postgres.NewDigests(pool), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := digest.NewCommands(svc, &platform.Org{Admins: []string{"console:ada"}}, slog.New(slog.NewTextHandler(&logs, nil)))
	admin := commands.Request{Actor: platform.Actor{ID: "console:ada"}, Platform: "console"}
	dev := commands.Request{Actor: platform.Actor{ID: "console:dev"}, Platform: "console"}
	tests := []struct {
		req   commands.Request
		args  string
		title string
		code  platform.Code
	}{
		{dev, "now", "Only platform admins can ask for the usage digest.", platform.Forbidden},
		{admin, "now", "Platform digest: 7 days to Mon 12 Jan 09:30 UTC", ""},
		{admin, "", "Platform digest: 7 days to Mon 12 Jan 09:30 UTC", ""},
		{admin, "now 24h", "Platform digest: 1 day to Mon 12 Jan 09:30 UTC", ""},
		{admin, "30d", "Platform digest: 30 days to Mon 12 Jan 09:30 UTC", ""},
		{admin, "now 7 days", "Usage: /idp digest now [period]", platform.Invalid},
		{admin, "now forever", `"forever" is not a period: give hours, days or weeks, e.g. 24h, 7d, 2w (at most 366d).`, platform.Invalid},
	}
	for _, tt := range tests {
		r := c.Digest(context.Background(), tt.req, strings.Fields(tt.args))
		if r.Title != tt.title || platform.ErrorCode(r.Err) != tt.code {
			t.Errorf("digest %s = %q (%v), want %q (%s)", tt.args, r.Title, r.Err, tt.title, tt.code)
		}
	}
	pool.Close()
	r := c.Digest(context.Background(), admin, nil)
	if !strings.HasPrefix(r.Title, "Something went wrong (ref: ") || !strings.Contains(logs.String(), r.ErrRef) {
		t.Errorf("digest with the database gone = %q; log %s", r.Title, logs.String())
	}
}

func TestNewRejectsSchedule(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"0 0 31 2 *": `schedule usage_digest: cron spec "0 0 31 2 *" never fires`,
		"mondays":    `schedule usage_digest: invalid cron spec "mondays": expected exactly 5 fields, found 1: [mondays]`,
	} {
		if _, err := digest.New(digest.Config{Schedule: spec}); err == nil || err.Error() != want {
			t.Errorf("New(schedule %q) = %v, want %q", spec, err, want)
		}
	}
}
