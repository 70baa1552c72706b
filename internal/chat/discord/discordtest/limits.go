package discordtest

import (
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"strconv"
	"time"
)

// Rate is a Discord rate-limit bucket: Limit requests per window of Per.
// As Discord's headers describe it, a window opens with the first request
// after the previous one closed and the whole Limit comes back when it
// closes (X-RateLimit-Reset). A zero Limit is unlimited.
type Rate struct {
	Limit int
	Per   time.Duration
}

func (r Rate) limited() bool { return r.Limit > 0 && r.Per > 0 }

// Route names of the limits Discord documents or the bot leans on.
const (
	RouteCreateMessage     = "POST /channels/{channel_id}/messages"
	RouteEditMessage       = "PATCH /channels/{channel_id}/messages/{message_id}"
	RouteThreadFromMessage = "POST /channels/{channel_id}/messages/{message_id}/threads"
	RouteThread            = "POST /channels/{channel_id}/threads"
	RouteOpenDM            = "POST /users/@me/channels"
	RouteCallback          = "POST /interactions/{interaction_id}/{interaction_token}/callback"
)

// Limits are the rate limits a Server enforces (see Server.SetLimits).
// The zero Limits limits nothing.
type Limits struct {
	// Routes gives the bucket of a route, by its name (RouteCreateMessage);
	// each top-level resource of a call (channel_id, guild_id, webhook_id
	// with webhook_token, the interaction) has its own.
	Routes map[string]Rate
	// Default is the bucket of every other route.
	Default Rate
	// Global limits the requests of all routes together, but for the
	// interaction endpoints (the callback, and follow-ups and edits
	// through the application's interaction webhook), which Discord
	// exempts.
	Global Rate
	// Now is the clock the windows are measured with (nil: time.Now), so
	// a test can move time by hand.
	Now func() time.Time
}

// DocumentedLimits returns Discord's limits as documented or as its
// headers report them: creating and editing messages 5 per 5 s per
// channel; creating a thread 5 per 5 s per channel and opening a direct
// message 5 per 5 s (Discord publishes no number for these; they are what
// its headers commonly say); 5 per second per route and resource for the
// rest; and the global 50 requests per second.
func DocumentedLimits() Limits {
	five := Rate{Limit: 5, Per: 5 * time.Second}
	return Limits{
		Routes: map[string]Rate{
			RouteCreateMessage:     five,
			RouteEditMessage:       five,
			RouteThreadFromMessage: five,
			RouteThread:            five,
			RouteOpenDM:            five,
		},
		Default: Rate{Limit: 5, Per: time.Second},
		Global:  Rate{Limit: 50, Per: time.Second},
	}
}

// Scaled returns the limits with every window f times shorter (f = 10:
// 5 messages per 500 ms per channel, 50 requests per 100 ms), so a load
// test runs in minutes; the counts stay. It panics unless f > 0.
func (l Limits) Scaled(f float64) Limits {
	if !(f > 0) {
		panic(fmt.Sprintf("discordtest: Limits.Scaled(%v): the factor must be positive", f))
	}
	scale := func(r Rate) Rate {
		r.Per = time.Duration(float64(r.Per) / f)
		return r
	}
	out := l
	out.Routes = make(map[string]Rate, len(l.Routes))
	for name, r := range l.Routes {
		out.Routes[name] = scale(r)
	}
	out.Default = scale(l.Default)
	out.Global = scale(l.Global)
	return out
}

// window is the state of one bucket.
type window struct {
	used int
	end  time.Time
}

// limiter holds the windows of a Server's limits.
type limiter struct {
	limits  Limits
	windows map[string]*window
	// limited counts the 429s per bucket ("route resource") and global.
	limited map[string]int
	global  int
}

// BucketHash is the X-RateLimit-Bucket of a route: opaque, one per route.
func BucketHash(route string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(route))
	return strconv.FormatUint(h.Sum64(), 16)
}

// resource is the top-level resource of a call, which has buckets of its
// own.
func resource(p map[string]string) string {
	switch {
	case p["channel_id"] != "":
		return p["channel_id"]
	case p["guild_id"] != "":
		return p["guild_id"]
	case p["webhook_id"] != "":
		return p["webhook_id"] + "/" + p["webhook_token"]
	case p["interaction_id"] != "":
		return p["interaction_id"]
	}
	return ""
}

// exemptFromGlobal reports whether a route is an interaction endpoint.
func exemptFromGlobal(route string, p map[string]string) bool {
	return route == RouteCallback || p["webhook_id"] == AppID && p["webhook_token"] != ""
}

// open returns the window of key at now, opening a new one when the last
// has closed.
func (l *limiter) open(key string, r Rate, now time.Time) *window {
	w := l.windows[key]
	if w == nil {
		w = &window{}
		l.windows[key] = w
	}
	if !now.Before(w.end) {
		w.used, w.end = 0, now.Add(r.Per)
	}
	return w
}

// take spends one request of a call on route and sets Discord's rate-limit
// headers on h; over a limit it spends nothing and returns the 429 to
// answer.
func (l *limiter) take(route string, p map[string]string, h http.Header) (limited bool, resp apiError) {
	now := l.limits.now()
	r, ok := l.limits.Routes[route]
	if !ok {
		r = l.limits.Default
	}
	var rw *window
	key := route + " " + resource(p)
	if r.limited() {
		rw = l.open(key, r, now)
	}
	if g := l.limits.Global; g.limited() && !exemptFromGlobal(route, p) {
		gw := l.open("global", g, now)
		if gw.used >= g.Limit {
			l.global++
			wait := waitFor(gw.end.Sub(now))
			h.Set("Retry-After", retryAfterHeader(wait))
			h.Set("X-RateLimit-Global", "true")
			h.Set("X-RateLimit-Scope", "global")
			// discordgo holds every bucket until X-RateLimit-Reset-After
			// when it comes with X-RateLimit-Global.
			h.Set("X-RateLimit-Reset-After", seconds(wait))
			global := true
			return true, apiError{Message: "You are being rate limited.", RetryAfter: wait.Seconds(), Global: &global}
		}
		if rw == nil || rw.used < r.Limit {
			gw.used++
		}
	}
	if rw == nil {
		return false, apiError{}
	}
	wait := waitFor(rw.end.Sub(now))
	h.Set("X-RateLimit-Limit", strconv.Itoa(r.Limit))
	h.Set("X-RateLimit-Reset", seconds(ceilMilli(time.Duration(rw.end.UnixNano()))))
	h.Set("X-RateLimit-Reset-After", seconds(wait))
	h.Set("X-RateLimit-Bucket", BucketHash(route))
	if rw.used >= r.Limit {
		l.limited[key]++
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", retryAfterHeader(wait))
		h.Set("X-RateLimit-Scope", "user")
		global := false
		return true, apiError{Message: "You are being rate limited.", RetryAfter: wait.Seconds(), Global: &global}
	}
	rw.used++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(r.Limit-rw.used))
	return false, apiError{}
}

func (l *Limits) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// ceilMilli rounds d up to a millisecond, the precision of Discord's
// headers.
func ceilMilli(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1) / time.Millisecond * time.Millisecond
}

// waitFor is the wait the headers and retry_after report for a window that
// closes in d: d rounded up to the millisecond, plus one, because
// discordgo truncates the fraction it parses ("4.999" becomes 4.998 s) and
// a client that waits what it was told must not come back early.
func waitFor(d time.Duration) time.Duration {
	return ceilMilli(d) + time.Millisecond
}

// seconds formats d (whole milliseconds) as Discord's fractional seconds.
func seconds(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// retryAfterHeader is the Retry-After header: whole seconds, rounded up,
// at least 1.
func retryAfterHeader(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// SetLimits makes the server enforce l from now on, with fresh windows;
// Limits{} turns limiting off (the default). Every answer of a limited
// route carries X-RateLimit-Limit, -Remaining, -Reset, -Reset-After and
// -Bucket; a call over a limit is answered 429 with retry_after and
// global in the body and Retry-After and X-RateLimit-Scope in the
// headers, recorded with that status, and has no effect.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.Routes = maps.Clone(l.Routes)
	s.limiter = limiter{limits: l, windows: map[string]*window{}, limited: map[string]int{}}
}
