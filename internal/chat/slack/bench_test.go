package slack

import (
	"bytes"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// BenchmarkSlashCommandAck measures how long /slack/commands takes to
// acknowledge 200 concurrent signed commands, half /idp help (answered in
// the acknowledgement) and half /idp create postgresql-database (a modal
// opened on the fake Slack before the acknowledgement). Slack allows 3 s.
//
// "mixed" is that workload; "help" sends only /idp help, which isolates the
// acknowledgement path from the modal work the fake Slack and slack-go do
// in this same process for each create.
func BenchmarkSlashCommandAck(b *testing.B) {
	b.Run("mixed", func(b *testing.B) { benchmarkSlashCommandAck(b, 2) })
	b.Run("help", func(b *testing.B) { benchmarkSlashCommandAck(b, 0) })
}

// benchmarkSlashCommandAck sends batches of 200 concurrent commands, every
// createEvery-th a create (0: none).
func benchmarkSlashCommandAck(b *testing.B, createEvery int) {
	const concurrent = 200
	transport := &http.Transport{MaxIdleConns: 2 * concurrent, MaxIdleConnsPerHost: 2 * concurrent}
	defer transport.CloseIdleConnections()
	f := fixture(b)
	h := newHarness(b, harnessConfig{engine: f.Engine, client: &http.Client{Timeout: 5 * time.Second, Transport: transport}})
	client := &http.Client{Timeout: 10 * time.Second, Transport: transport}
	users := []slackfake.User{alice, carol, dave}
	for _, u := range users {
		h.slash(u, "help") // resolve identities once, as a running bot has
	}
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		reqs := make([]*http.Request, concurrent)
		for i := range reqs {
			text := "help"
			if createEvery > 0 && i%createEvery == 1 {
				text = "create postgresql-database"
			}
			body := []byte(h.fake.SlashCommand(users[i%len(users)], testChannel, text).Encode())
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/slack/commands", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header = slackfake.Sign(testSecret, time.Now(), body)
			reqs[i] = req
		}
		b.StartTimer()
		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for _, req := range reqs {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				resp, err := client.Do(req)
				took := time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
				}
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "acks/s")
}
