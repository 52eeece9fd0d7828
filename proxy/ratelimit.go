package proxy

import (
	"strings"
	"sync"
	"time"
)

// failLimiter is a token bucket per key (a client address or a user name)
// spent by failed authentications: when a key's bucket is empty the proxy
// refuses to run bcrypt for it until a token has come back. It holds at
// most max keys.
type failLimiter struct {
	burst float64
	every time.Duration // one token comes back per every
	max   int

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newFailLimiter(burst int, every time.Duration, max int) *failLimiter {
	return &failLimiter{burst: float64(burst), every: every, max: max, m: map[string]*bucket{}}
}

// take spends a token of key for an attempt about to be checked, and
// reports false, with how long until a token comes back, when there is
// none. The token is taken before the check, not after a failure, so that
// attempts checked at the same moment cannot all pass a bucket that has
// room for one: a flood of concurrent wrong passwords gets as many bcrypt
// runs as the bucket holds, not as many as it has connections. An attempt
// that succeeds gives its token back (refund).
func (l *failLimiter) take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

// refund gives back the token of an attempt that succeeded.
func (l *failLimiter) refund(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.m[key]; b != nil {
		l.refill(b, now)
		b.tokens = min(b.tokens+1, l.burst)
	}
}

// failed spends a token of key for an attempt that failed without a
// check (a malformed credential).
func (l *failLimiter) failed(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, now)
	b.tokens = max(b.tokens-1, 0)
}

// bucketLocked returns key's bucket, refilled to now, making a full one
// when key has none. l.mu must be held.
func (l *failLimiter) bucketLocked(key string, now time.Time) *bucket {
	b := l.m[key]
	if b == nil {
		if len(l.m) >= l.max {
			l.evictLocked(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		// A copy: key may be cut from a much longer string (a user name
		// from the whole credential), which the map would keep alive.
		l.m[strings.Clone(key)] = b
		return b
	}
	l.refill(b, now)
	return b
}

func (l *failLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
		b.at = now
	}
}

// evictLocked drops the buckets that are full again, or, when none is, an
// eighth of the map. l.mu must be held.
func (l *failLimiter) evictLocked(now time.Time) {
	n := 0
	for k, b := range l.m {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.m, k)
			n++
		}
	}
	for k := range l.m {
		if n > l.max/8 {
			break
		}
		delete(l.m, k)
		n++
	}
}
