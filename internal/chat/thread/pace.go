package thread

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Op is the kind of call the Notifier makes to a platform, for pacing.
type Op uint8

// The calls the Notifier paces.
const (
	// OpPost posts a message of its own: a root, a direct message, a post.
	OpPost Op = iota + 1
	// OpReply posts a reply in a thread (channel is the thread's channel,
	// and on Discord the thread itself).
	OpReply
	// OpEdit edits a message.
	OpEdit
	// OpOpen opens a direct message channel.
	OpOpen
	// OpFind looks for a message an earlier attempt may have posted.
	OpFind
	// OpThread starts a thread from a root message.
	OpThread
)

// Limit is one rate-limit bucket a call counts against: Key names it (a
// Slack method and channel, a Discord route and channel), and it allows
// Burst calls at once and then one every Every.
type Limit struct {
	Key   string
	Every time.Duration
	Burst int
	// Window makes the bucket count calls in fixed windows, as Discord's
	// do: Burst calls per window of Burst×Every, a window opening with
	// the first call after the last one closed and giving the whole Burst
	// back as it closes. Paced one every Every instead, a bucket Discord
	// closed for the rest of its window would reopen empty and refill
	// one call at a time, a sixth slower than the platform allows.
	Window bool
}

// Limited is implemented by a Transport whose platform limits how fast
// the bot may call it: Limits returns the buckets a call of op about
// channel (in the thread threadRef, for a reply) counts against, the
// most specific first and the platform's global limit, if any, last. The Notifier keeps its
// calls within them, so that the platform rarely answers 429, and when it
// does (another replica, a limit shared with other apps) only the calls of
// that bucket wait.
type Limited interface {
	Limits(op Op, channel, threadRef string) []Limit
}

// Reporting is implemented by a Limited Transport whose platform tells
// the state of its buckets in its answers: the Notifier gives it its
// Pacer, to Report them to.
type Reporting interface {
	ReportTo(p *Pacer)
}

// Priority orders the calls waiting for a bucket: lower goes first.
type Priority uint8

// The priorities of the Notifier's calls.
const (
	// Urgent: connection details and root messages, which a requester
	// waits for, go before the replies of other requests' stories.
	Urgent Priority = iota
	// Routine: thread replies, root edits, posts.
	Routine
)

// Pacer hands out the calls of a platform's rate-limit buckets: each
// bucket is a token bucket (Burst calls at once, one more every Every),
// closed for as long as the platform asked after a 429. Callers that must
// wait are queued by priority and then by arrival, and told how long: one
// who comes back then finds the tokens the callers ahead of it have not
// taken. A caller that does not come back within staleAfter of its turn
// loses its place. A Pacer is safe for concurrent use; it paces one
// process, so replicas pace apart and meet the platform's 429 instead.
type Pacer struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
	arrived uint64 // callers queued so far, for their order
	takes   uint64 // calls of Take, for pruning idle buckets
}

// idleAfter is how long a bucket nobody waits for, full and open, is kept:
// a Discord thread or a person's direct messages each have one, and
// those of finished stories would otherwise pile up in memory.
const idleAfter = 10 * time.Minute

// staleAfter is how late after its turn a waiting caller may come back
// and keep its place. A delivery job comes back a little before its turn
// (its snooze ends early and queues are polled every 100 ms); one that is
// later than this (no worker was free, the machine is busy) would leave
// the bucket idle, so the callers behind it go first, and it queues anew.
const staleAfter = time.Second

type bucket struct {
	every   time.Duration
	burst   float64
	window  bool // Limit.Window
	tokens  float64
	at      time.Time // when tokens was counted
	closed  time.Time // until when the platform asked to wait
	end     time.Time // when the open window closes (Window; zero: none open)
	waiting []*waiter
}

type waiter struct {
	who  string
	prio Priority
	seq  uint64    // the order it was queued in
	due  time.Time // when it was told to come back
}

// NewPacer returns an empty Pacer on the clock now (nil: time.Now).
func NewPacer(now func() time.Time) *Pacer {
	if now == nil {
		now = time.Now
	}
	return &Pacer{now: now, buckets: map[string]*bucket{}}
}

// Take takes one call of every bucket in limits for who, or returns how
// long who must wait before asking again (and keeps its place in the
// queues until then). who names the caller across its attempts (a
// resource's story, a post), so that it keeps its place when it asks
// again.
func (p *Pacer) Take(limits []Limit, who string, prio Priority) time.Duration {
	if len(limits) == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.takes++; p.takes%1024 == 0 {
		p.prune(now)
	}
	var wait time.Duration
	bs := make([]*bucket, len(limits))
	waits := make([]time.Duration, len(limits))
	for i, l := range limits {
		b := p.bucket(l, now)
		bs[i], waits[i] = b, b.waitFor(who, prio, now)
		wait = max(wait, waits[i])
	}
	if wait > 0 {
		// A place only where it has to wait: a place kept in a bucket
		// with room (the global limit, while the channel is busy) would
		// hold up the callers behind it there for nothing.
		p.arrived++
		for i, b := range bs {
			if waits[i] > 0 {
				b.queue(who, prio, p.arrived, now.Add(wait))
			} else {
				b.leave(who)
			}
		}
		return wait
	}
	for _, b := range bs {
		b.take(now)
	}
	// A caller makes one call at a time (the Notifier names a story's
	// thread and its hand-overs apart): the places it kept for others (an
	// edit it no longer needs) would hold up those behind it.
	for _, b := range p.buckets {
		b.leave(who)
	}
	return 0
}

// Peek returns how long who would wait for a call of every bucket in
// limits, without taking one or queueing.
func (p *Pacer) Peek(limits []Limit, who string, prio Priority) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var wait time.Duration
	for _, l := range limits {
		wait = max(wait, p.bucket(l, now).waitFor(who, prio, now))
	}
	return wait
}

// Buckets returns how many buckets the Pacer keeps.
func (p *Pacer) Buckets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buckets)
}

// Queued reports whether who waits in a queue: it was told to wait for
// its turn and has not taken it yet.
func (p *Pacer) Queued(who string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.buckets {
		if slices.ContainsFunc(b.waiting, func(w *waiter) bool { return w.who == who }) {
			return true
		}
	}
	return false
}

// Forget drops who from every queue: it gave up (its job failed or was
// cut off), so that the callers behind it need not wait for its turn.
func (p *Pacer) Forget(who string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.buckets {
		b.leave(who)
	}
}

// Close closes the bucket key for after: the platform answered 429. Its
// tokens are gone, and every caller waits until it opens again.
func (p *Pacer) Close(l Limit, after time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	b := p.bucket(l, now)
	b.tokens = 0
	if until := now.Add(after); until.After(b.closed) {
		b.closed = until
	}
	if b.window {
		// The platform knows when its window closes: the whole Burst
		// comes back then, not at the end of the window the Pacer
		// counted.
		b.end = b.closed
	}
}

// Report tells the Pacer what the platform said of a Window bucket in an
// answer: remaining calls are left in its window, which closes after
// resetAfter (Discord's X-RateLimit-Remaining and -Reset-After). The
// platform opens its window when the first call arrives, a little after
// the Pacer counted it, and closes it as much later: the Pacer keeps its
// window open until the platform's closes, and counts no more calls than
// the platform has left. An answer about an earlier window (it closes
// before the Pacer's) changes nothing.
func (p *Pacer) Report(l Limit, remaining int, resetAfter time.Duration) {
	if !l.Window || resetAfter <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	b := p.bucket(l, now)
	if end := now.Add(resetAfter); b.end.IsZero() || end.After(b.end) {
		b.end, b.tokens = end, min(b.tokens, float64(max(remaining, 0)))
	}
}

// prune drops the buckets idle for idleAfter: nobody waits, and they
// would have refilled.
func (p *Pacer) prune(now time.Time) {
	for key, b := range p.buckets {
		if len(b.waiting) == 0 && now.Sub(b.at) > idleAfter && now.After(b.closed) {
			delete(p.buckets, key)
		}
	}
}

// bucket returns the bucket of l, its tokens counted at now.
func (p *Pacer) bucket(l Limit, now time.Time) *bucket {
	b, ok := p.buckets[l.Key]
	if !ok {
		b = &bucket{at: now}
		p.buckets[l.Key] = b
		b.tokens = float64(max(l.Burst, 1))
	}
	b.every, b.burst, b.window = max(l.Every, time.Millisecond), float64(max(l.Burst, 1)), l.Window
	if b.window {
		if !b.end.IsZero() && !now.Before(b.end) {
			b.tokens, b.end = b.burst, time.Time{}
		}
		b.at = now
		return b
	}
	if now.After(b.at) {
		from := b.at
		if b.closed.After(from) {
			from = b.closed
		}
		if now.After(from) {
			b.tokens = min(b.burst, b.tokens+float64(now.Sub(from))/float64(b.every))
		}
		b.at = now
	}
	return b
}

// waitFor returns how long who must wait for a token of b: the callers
// queued ahead of it take theirs first.
func (b *bucket) waitFor(who string, prio Priority, now time.Time) time.Duration {
	b.waiting = slices.DeleteFunc(b.waiting, func(w *waiter) bool { return now.Sub(w.due) > staleAfter })
	var seq uint64 // 0: not queued yet, behind all
	if i := slices.IndexFunc(b.waiting, func(w *waiter) bool { return w.who == who }); i >= 0 {
		seq = b.waiting[i].seq
	}
	ahead := 0
	for _, w := range b.waiting {
		switch {
		case w.who == who:
		case w.prio != prio:
			if w.prio < prio {
				ahead++
			}
		case seq == 0 || w.seq < seq:
			ahead++
		}
	}
	var wait time.Duration
	if b.closed.After(now) {
		wait = b.closed.Sub(now)
	}
	short := float64(ahead+1) - b.tokens
	switch {
	case short <= 0:
	case b.window:
		// The rest of this window (or a whole one, opened by the calls
		// ahead), then a window per Burst of the callers still ahead.
		end := b.end
		if end.IsZero() {
			end = now.Add(b.length())
		}
		wait = max(wait, end.Sub(now)) + time.Duration(math.Ceil(short/b.burst)-1)*b.length()
	default:
		wait += time.Duration(short * float64(b.every))
	}
	return wait
}

// length is the length of one of a Window bucket's windows.
func (b *bucket) length() time.Duration { return time.Duration(b.burst) * b.every }

// take spends one call of b at now, opening a window if none is open.
func (b *bucket) take(now time.Time) {
	b.tokens--
	if b.window && b.end.IsZero() {
		b.end = now.Add(b.length())
	}
}

// queue keeps who's place in b, to come back at due; seq is its order
// if it is new there.
func (b *bucket) queue(who string, prio Priority, seq uint64, due time.Time) {
	for _, w := range b.waiting {
		if w.who == who {
			w.prio, w.due = min(w.prio, prio), due
			return
		}
	}
	b.waiting = append(b.waiting, &waiter{who: who, prio: prio, seq: seq, due: due})
}

func (b *bucket) leave(who string) {
	b.waiting = slices.DeleteFunc(b.waiting, func(w *waiter) bool { return w.who == who })
}
