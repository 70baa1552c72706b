package jobs

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// bot is one process on a shared database: its own store, engine, driver
// and runner, delivering to one chat platform through rec.
func bot(t *testing.T, pool *pgxpool.Pool, platformName string, rec *recorder, d *testDriver) *harness {
	t.Helper()
	h := newHarnessOn(t, pool, d, func(cfg *Config) {
		cfg.Notifiers = map[string]Notifier{platformName: rec}
	})
	h.notifier = rec
	return h
}

// run starts the bot's runner; stop (also called at cleanup) stops it and
// waits for it.
func (h *harness) run(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.runner.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// submitFrom submits a request made on platformName.
func (h *harness) submitFrom(t *testing.T, platformName, name string) *platform.Resource {
	t.Helper()
	r, _, err := h.engine.Submit(context.Background(), alice, platform.Request{
		Service: "test-db", Name: name, Team: "payments", Environment: "staging",
		Origin: platform.Origin{Platform: platformName, Channel: "C-" + platformName},
	})
	if err != nil {
		t.Fatalf("Submit(%s from %s) = %v", name, platformName, err)
	}
	return r
}

// waitReady waits until every resource of rs is ready.
func (h *harness) waitReady(t *testing.T, rs ...*platform.Resource) {
	t.Helper()
	for _, r := range rs {
		waitFor(t, 30*time.Second, fmt.Sprintf("#%d to be ready", r.ID), func() (bool, string) {
			got, err := h.store.Resource(context.Background(), r.ID)
			if err != nil {
				return false, err.Error()
			}
			return got.State == platform.Ready, string(got.State)
		})
	}
}

func (d *testDriver) provisioned(id int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.created[id]
}

// TestTwoBotsShareTheDatabase runs a Slack bot and a Discord bot on one
// database. Each provisions requests made on the other's platform (forced:
// the other is down meanwhile), and every thread is complete and every
// secret delivered on the platform its request came from, by the bot that
// serves it, whichever provisioned it; neither bot posts the other's. A
// Slack thread whose deliveries were lost is repaired by the Discord bot's
// reconcile job and delivered by the Slack bot.
func TestTwoBotsShareTheDatabase(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	recSlack, recDiscord := &recorder{}, &recorder{}
	drvSlack, drvDiscord := &testDriver{timeout: 5 * time.Second}, &testDriver{timeout: 5 * time.Second}
	slackBot := bot(t, pool, "slack", recSlack, drvSlack)
	discordBot := bot(t, pool, "discord", recDiscord, drvDiscord)

	// The Discord bot alone: it provisions Slack requests too.
	stopDiscord := discordBot.run(t)
	s1 := slackBot.submitFrom(t, "slack", "s1")
	s2 := slackBot.submitFrom(t, "slack", "s2")
	d1 := discordBot.submitFrom(t, "discord", "d1")
	discordBot.waitReady(t, s1, s2, d1)
	discordBot.waitThread(t, recDiscord, d1.ID)
	// s1's deliveries are lost (an operator deleted them); the Discord
	// bot's reconcile enqueues them again for the Slack bot.
	if _, err := pool.Exec(context.Background(), `DELETE FROM river_job WHERE kind = 'notify' AND (args->>'resource_id')::bigint = $1`, s1.ID); err != nil {
		t.Fatal(err)
	}
	discordBot.age(t, s1.ID)
	discordBot.reconcileNow(t)
	if got, want := discordBot.notifyJobs(t, s1.ID, "available"), []string{NotifyQueue("slack", "")}; !cmp.Equal(got, want) {
		t.Errorf("s1's repaired delivery = %v, want %v", got, want)
	}
	stopDiscord()

	// The Slack bot alone: it provisions Discord requests, and delivers
	// the Slack threads the Discord bot provisioned.
	slackBot.run(t)
	d2 := discordBot.submitFrom(t, "discord", "d2")
	d3 := discordBot.submitFrom(t, "discord", "d3")
	s3 := slackBot.submitFrom(t, "slack", "s3")
	slackBot.waitReady(t, d2, d3, s3)

	// The Discord bot restarted: both run; its threads catch up.
	discordAgain := bot(t, pool, "discord", recDiscord, drvDiscord)
	discordAgain.run(t)
	s4 := slackBot.submitFrom(t, "slack", "s4")
	d4 := discordAgain.submitFrom(t, "discord", "d4")

	slacks, discords := []*platform.Resource{s1, s2, s3, s4}, []*platform.Resource{d1, d2, d3, d4}
	for _, r := range slacks {
		slackBot.waitThread(t, recSlack, r.ID)
		if got := recDiscord.recorded(r.ID); len(got) != 0 {
			t.Errorf("the Discord bot posted about Slack request #%d: %v", r.ID, got)
		}
	}
	for _, r := range discords {
		discordAgain.waitThread(t, recDiscord, r.ID)
		if got := recSlack.recorded(r.ID); len(got) != 0 {
			t.Errorf("the Slack bot posted about Discord request #%d: %v", r.ID, got)
		}
	}
	for _, r := range append(slacks, discords...) {
		if a, b := drvSlack.provisioned(r.ID), drvDiscord.provisioned(r.ID); a == b {
			t.Errorf("#%d %s provisioned by the Slack bot: %t, by the Discord bot: %t; want exactly one", r.ID, r.Name, a, b)
		}
	}
	for _, r := range []*platform.Resource{s1, s2} {
		if !drvDiscord.provisioned(r.ID) {
			t.Errorf("Slack request %s was not provisioned by the Discord bot", r.Name)
		}
	}
	for _, r := range []*platform.Resource{d2, d3} {
		if !drvSlack.provisioned(r.ID) {
			t.Errorf("Discord request %s was not provisioned by the Slack bot", r.Name)
		}
	}
}
