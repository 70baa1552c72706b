package discord

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/chat/thread"
)

// Discord's documented rate limits, which the Notifier paces its calls by
// (thread.Limited): messages are created and edited, threads started from
// a channel's messages, and direct messages opened, about 5 per 5 s per
// channel (a thread is a channel of its own) or per bot, and all calls
// share a global 50 per second. Discord counts them in fixed windows
// (thread.Limit's Window). discordgo's own limiter reads the headers of
// every answer and holds a call whose bucket is spent; pacing within the
// same limits leaves it little to hold, and lets the Notifier choose which
// call goes first (connection details and root messages) instead of
// whichever goroutine discordgo wakes. What it would still hold comes
// back to the Notifier as the wait (see spent).
const (
	channelEvery = time.Second
	channelBurst = 5
	globalEvery  = time.Second / 50
	globalBurst  = 50
)

// Limits implements thread.Limited.
func (a *Adapter) Limits(op thread.Op, channel, threadRef string) []thread.Limit {
	global := a.limit("global", globalEvery, globalBurst)
	switch op {
	case thread.OpPost:
		return []thread.Limit{a.route(bucketCreate, channel), global}
	case thread.OpReply:
		if threadRef != "" {
			channel = threadRef // a reply is a message in the thread's own channel
		}
		return []thread.Limit{a.route(bucketCreate, channel), global}
	case thread.OpEdit:
		return []thread.Limit{a.route(bucketEdit, channel), global}
	case thread.OpThread:
		return []thread.Limit{a.route(bucketThread, channel), global}
	case thread.OpOpen:
		return []thread.Limit{a.route(bucketOpenDM, ""), global}
	}
	return nil // Find makes no call: a nonce makes a repeated post the same message
}

// The route buckets the Notifier paces, each per channel but the last.
const (
	bucketCreate = "POST /channels/%s/messages"
	bucketEdit   = "PATCH /channels/%s/messages"
	bucketThread = "POST /channels/%s/threads"
	bucketOpenDM = "POST /users/@me/channels"
)

// route is the Limit of a route bucket about channel.
func (a *Adapter) route(bucket, channel string) thread.Limit {
	if strings.Contains(bucket, "%s") {
		bucket = fmt.Sprintf(bucket, channel)
	}
	return a.limit(bucket, channelEvery, channelBurst)
}

// routeOf returns the paced route bucket a call of method to path (the
// API's, "/api/v10/channels/1/messages") counts against.
func (a *Adapter) routeOf(method, path string) (thread.Limit, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for len(segs) > 0 && (segs[0] == "api" || strings.HasPrefix(segs[0], "v") && isDigits(segs[0][1:])) {
		segs = segs[1:]
	}
	switch {
	case len(segs) == 3 && segs[0] == "users" && segs[1] == "@me" && segs[2] == "channels" && method == http.MethodPost:
		return a.route(bucketOpenDM, ""), true
	case len(segs) < 3 || segs[0] != "channels" || segs[2] != "messages":
	case len(segs) == 3 && method == http.MethodPost:
		return a.route(bucketCreate, segs[1]), true
	case len(segs) == 4 && method == http.MethodPatch:
		return a.route(bucketEdit, segs[1]), true
	case len(segs) == 5 && segs[4] == "threads" && method == http.MethodPost:
		return a.route(bucketThread, segs[1]), true
	}
	return thread.Limit{}, false
}

// ReportTo implements thread.Reporting: every answer's X-RateLimit
// headers about a paced bucket go to p.
func (a *Adapter) ReportTo(p *thread.Pacer) { a.pacer.Store(p) }

// reportLimits tells the Notifier's Pacer the X-RateLimit-Remaining and
// -Reset-After of each answer about a bucket it paces. discordgo reads
// them too, for its own limiter, but keys edits and thread starts by
// message, so it never holds them back: only the Pacer knows their
// channel's window.
type reportLimits struct {
	a    *Adapter
	next http.RoundTripper
}

func (t *reportLimits) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	p := t.a.pacer.Load()
	if p == nil {
		return resp, nil
	}
	remaining, rerr := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
	after, aerr := strconv.ParseFloat(resp.Header.Get("X-RateLimit-Reset-After"), 64)
	if rerr != nil || aerr != nil {
		return resp, nil
	}
	if l, ok := t.a.routeOf(req.Method, req.URL.Path); ok {
		p.Report(l, remaining, time.Duration(after*float64(time.Second)))
	}
	return resp, nil
}

func (a *Adapter) limit(key string, every time.Duration, burst int) thread.Limit {
	return thread.Limit{Key: key, Every: time.Duration(float64(every) / a.rateScale), Burst: burst, Window: true}
}
