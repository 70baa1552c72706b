package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/chat/discord"
	"github.com/idpbot/idpbot/internal/chat/discord/discordtest"
	"github.com/idpbot/idpbot/internal/chat/slack"
	"github.com/idpbot/idpbot/internal/jobs"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

// TestTwoBotsShareTheDatabase runs a Slack bot and a Discord bot, each with
// its real adapter in front of a fake platform and its own store, engine,
// driver and jobs runner, on one database. Requests come in through the
// adapters' signed HTTP entry points. Each bot provisions requests made on
// the other's platform (forced: the other's runner is stopped meanwhile),
// and in the end, from what the fake platforms recorded, every thread is
// complete and every secret delivered privately on the platform its request
// came from, whichever bot provisioned it; each request is provisioned
// once. A Slack thread whose deliveries were lost is repaired by the
// Discord bot's reconcile job and delivered by the Slack bot.
func TestTwoBotsShareTheDatabase(t *testing.T) {
	t.Parallel()
	pool := postgrestest.Pool(t)
	drvSlack, drvDiscord := platformtest.NewDriver(), platformtest.NewDriver()
	slackBot := newSlackBot(t, newNode(t, pool, drvSlack))
	discordFake, discordKey := discordtest.New(t), discordtest.NewKey(t)
	discordFake.AddChannel(discordChannel)
	discordBot := newDiscordBot(t, newNode(t, pool, drvDiscord), discordFake, discordKey)

	// The Discord bot's runner alone: it provisions the Slack requests
	// too, and posts nothing of them.
	discordRunner, stopDiscord := discordBot.run(t, discord.Platform, discordBot.notifier)
	s1 := slackBot.request(t, "s1")
	s2 := slackBot.request(t, "s2")
	d1 := discordBot.request(t, "d1")
	discordBot.waitReady(t, s1, s2, d1)
	discordBot.checkThreads(t, []*platform.Resource{d1})
	// s1's deliveries are lost (an operator deleted them); the Discord
	// bot's reconcile enqueues them again for the Slack bot.
	if _, err := pool.Exec(context.Background(), `DELETE FROM river_job WHERE kind = 'notify' AND (args->>'resource_id')::bigint = $1`, s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE events SET at = at - interval '1 hour' WHERE resource_id = $1`, s1.ID); err != nil {
		t.Fatal(err)
	}
	discordBot.reconcileNow(t, discordRunner)
	if got, want := discordBot.notifyQueues(t, s1.ID, "available"), []string{jobs.NotifyQueue(slack.Platform, "")}; !cmp.Equal(got, want) {
		t.Errorf("s1's repaired delivery = %v, want %v", got, want)
	}
	stopDiscord()
	if n := len(slackBot.fake.AllMessages()); n != 0 {
		t.Errorf("%d Slack messages while the Slack bot's runner was stopped, want none", n)
	}

	// The Slack bot's runner alone: it provisions Discord requests, and
	// delivers the Slack threads the Discord bot provisioned.
	slackBot.run(t, slack.Platform, slackBot.notifier)
	d2 := discordBot.request(t, "d2")
	d3 := discordBot.request(t, "d3")
	s3 := slackBot.request(t, "s3")
	slackBot.waitReady(t, d2, d3, s3)

	// The Discord bot restarted, a new process on the same Discord: both
	// run; its threads catch up.
	discordAgain := newDiscordBot(t, newNode(t, pool, drvDiscord), discordFake, discordKey)
	discordAgain.run(t, discord.Platform, discordAgain.notifier)
	s4 := slackBot.request(t, "s4")
	d4 := discordAgain.request(t, "d4")

	slacks, discords := []*platform.Resource{s1, s2, s3, s4}, []*platform.Resource{d1, d2, d3, d4}
	slackBot.checkThreads(t, slacks)
	discordAgain.checkThreads(t, discords)
	for _, r := range append(slacks, discords...) {
		if a, b := provisions(drvSlack, r.ID), provisions(drvDiscord, r.ID); a+b != 1 {
			t.Errorf("%s provisioned %d times by the Slack bot and %d by the Discord bot; want once in all", r.Name, a, b)
		}
	}
	for _, r := range []*platform.Resource{s1, s2} {
		if provisions(drvDiscord, r.ID) != 1 {
			t.Errorf("Slack request %s was not provisioned by the Discord bot", r.Name)
		}
	}
	for _, r := range []*platform.Resource{d2, d3} {
		if provisions(drvSlack, r.ID) != 1 {
			t.Errorf("Discord request %s was not provisioned by the Slack bot", r.Name)
		}
	}
	for _, r := range append(slacks, discords...) {
		for _, l := range []*logs{slackBot.logs, discordBot.logs, discordAgain.logs} {
			if holds(l.String(), []string{password(r)}) {
				t.Errorf("a bot's logs hold the password of %s", r.Name)
			}
		}
	}
}

// reconcileNow runs the reconcile job at once on r and waits for it.
func (nd *node) reconcileNow(t *testing.T, r *jobs.Runner) {
	t.Helper()
	ctx := context.Background()
	if _, err := nd.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = $1`, jobs.ReconcileArgs{}.Kind()); err != nil {
		t.Fatal(err)
	}
	res, err := r.Client().Insert(ctx, jobs.ReconcileArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the reconcile job to complete", func() (bool, string) {
		var state string
		if err := nd.pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state); err != nil {
			return false, err.Error()
		}
		return state == "completed", state
	})
}

// notifyQueues returns the queues of resource id's notify jobs in state.
func (nd *node) notifyQueues(t *testing.T, id int64, state string) []string {
	t.Helper()
	rows, err := nd.pool.Query(context.Background(), `SELECT queue FROM river_job
		WHERE kind = 'notify' AND (args->>'resource_id')::bigint = $1 AND state::text = $2 ORDER BY id`, id, state)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var qs []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return qs
}
