package slackfake

import (
	"fmt"
	"maps"
	"time"
)

// Tier is one of Slack's Web API rate-limit tiers.
type Tier int

// Slack's documented tiers, each a number of calls per minute per method
// per workspace (see DocumentedLimits).
const (
	Tier1 Tier = 1 + iota // 1+ per minute
	Tier2                 // 20+ per minute
	Tier3                 // 50+ per minute
	Tier4                 // 100+ per minute
)

// Rate is N calls per Per, enforced as a token bucket that holds Burst
// calls (N when Burst is 0) and gains one every Per/N: a full bucket lets
// Burst calls through at once, then one per Per/N. A zero N is unlimited.
type Rate struct {
	N     int
	Per   time.Duration
	Burst int
}

func (r Rate) limited() bool { return r.N > 0 && r.Per > 0 }

func (r Rate) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return r.N
}

// MethodTiers are the tiers Slack documents for the Web API methods idpbot
// calls (and a few neighbours); chat.postMessage is not tiered (see
// Limits.PostMessage).
var MethodTiers = map[string]Tier{
	"apps.connections.open": Tier1,
	"auth.test":             Tier4,
	"chat.delete":           Tier3,
	"chat.postEphemeral":    Tier4,
	"chat.update":           Tier3,
	"conversations.history": Tier3,
	"conversations.info":    Tier3,
	"conversations.members": Tier4,
	"conversations.open":    Tier3,
	"conversations.replies": Tier3,
	"reactions.add":         Tier3,
	"usergroups.users.list": Tier2,
	"users.info":            Tier4,
	"users.lookupByEmail":   Tier3,
	"views.open":            Tier4,
	"views.publish":         Tier4,
	"views.push":            Tier4,
	"views.update":          Tier4,
}

// Limits are the rate limits a Server enforces (see Server.SetLimits).
// The zero Limits limits nothing.
type Limits struct {
	// PostMessage limits chat.postMessage per channel.
	PostMessage Rate
	// Tiers gives each tier's rate, counted per method per workspace; a
	// tier missing here is unlimited.
	Tiers map[Tier]Rate
	// Methods gives the tier of a method; others are in DefaultTier.
	Methods     map[string]Tier
	DefaultTier Tier
	// Now is the clock the buckets are measured with (nil: time.Now), so
	// a test can move time by hand.
	Now func() time.Time
}

// DocumentedLimits returns Slack's documented limits: chat.postMessage
// one per second per channel with bursts of up to 3 tolerated (Slack
// allows "short bursts" without a number; 3 is our choice), and every
// other method its tier's count per minute per workspace, the whole
// count usable at once and earned back evenly over the minute (a token
// bucket of N calls refilled at N per minute). Tiers follow MethodTiers;
// unknown methods are Tier 3.
func DocumentedLimits() Limits {
	return Limits{
		PostMessage: Rate{N: 1, Per: time.Second, Burst: 3},
		Tiers: map[Tier]Rate{
			Tier1: {N: 1, Per: time.Minute},
			Tier2: {N: 20, Per: time.Minute},
			Tier3: {N: 50, Per: time.Minute},
			Tier4: {N: 100, Per: time.Minute},
		},
		Methods:     maps.Clone(MethodTiers),
		DefaultTier: Tier3,
	}
}

// Scaled returns the limits with every window f times shorter (f = 10:
// one post per 100 ms per channel, Tier 3 50 per 6 s), so a load test
// runs in minutes; the counts and bursts stay. Retry-After stays whole
// seconds, as slack-go reads it, so it is at least 1 even when the
// bucket refills sooner. It panics unless f > 0.
func (l Limits) Scaled(f float64) Limits {
	if !(f > 0) {
		panic(fmt.Sprintf("slackfake: Limits.Scaled(%v): the factor must be positive", f))
	}
	scale := func(r Rate) Rate {
		r.Per = time.Duration(float64(r.Per) / f)
		return r
	}
	out := l
	out.PostMessage = scale(l.PostMessage)
	out.Tiers = make(map[Tier]Rate, len(l.Tiers))
	for t, r := range l.Tiers {
		out.Tiers[t] = scale(r)
	}
	out.Methods = maps.Clone(l.Methods)
	return out
}

// rate returns the rate of a call and the key of its bucket.
func (l *Limits) rate(method, channel string) (Rate, string) {
	if method == "chat.postMessage" {
		return l.PostMessage, method + " " + channel
	}
	tier, ok := l.Methods[method]
	if !ok {
		tier = l.DefaultTier
	}
	return l.Tiers[tier], method
}

func (l *Limits) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// limiter holds the buckets of a Server's limits. Each bucket is kept as
// the time it would next be empty (GCRA, the integer form of a token
// bucket): a call is allowed when that time is at most Burst-1 intervals
// ahead of now.
type limiter struct {
	limits Limits
	due    map[string]time.Time
}

// take spends one call of method (in channel, for chat.postMessage) and
// reports how long to wait when the bucket is empty; it spends nothing
// then.
func (l *limiter) take(method, channel string) (ok bool, wait time.Duration) {
	r, key := l.limits.rate(method, channel)
	if !r.limited() {
		return true, 0
	}
	now := l.limits.now()
	interval := r.Per / time.Duration(r.N)
	due := l.due[key]
	if due.Before(now) {
		due = now
	}
	slack := time.Duration(r.burst()-1) * interval
	if ahead := due.Sub(now); ahead > slack {
		return false, ahead - slack
	}
	l.due[key] = due.Add(interval)
	return true, 0
}

// retryAfterSeconds is wait as Slack's Retry-After: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// SetLimits makes the server enforce l from now on, with full buckets;
// Limits{} turns limiting off (the default). A call over its limit is
// answered 429 with Retry-After and {"ok":false,"error":"ratelimited"},
// recorded with that status, and has no effect.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.Tiers, l.Methods = maps.Clone(l.Tiers), maps.Clone(l.Methods)
	s.limiter = limiter{limits: l, due: map[string]time.Time{}}
}
