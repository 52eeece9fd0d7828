package dnsfilter

import (
	"net/netip"
	"sync"
)

// maxLimited bounds how many clients the rate limiter tracks.
const maxLimited = 65536

// limiter is a token bucket per client address: rate tokens a second, a
// burst of one second's worth. The map is bounded: when full, buckets that
// have refilled (idle clients) are dropped, then any eighth.
type limiter struct {
	mu sync.Mutex
	m  map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill
}

// allow reports whether a query from ip at now (unix nanoseconds) is within
// rate queries a second.
func (l *limiter) allow(ip netip.Addr, rate int, now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[netip.Addr]*bucket)
	}
	b := l.m[ip]
	if b == nil {
		if len(l.m) >= maxLimited {
			l.evictLocked(rate, now)
		}
		b = &bucket{tokens: float64(rate), last: now}
		l.m[ip] = b
	}
	if now > b.last {
		b.tokens = min(float64(rate), b.tokens+float64(now-b.last)*float64(rate)/1e9)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evictLocked drops full buckets, then, if none was, an eighth of the map
// (map order is random). l.mu must be held.
func (l *limiter) evictLocked(rate int, now int64) {
	n := 0
	for ip, b := range l.m {
		if b.tokens+float64(now-b.last)*float64(rate)/1e9 >= float64(rate) {
			delete(l.m, ip)
			n++
		}
	}
	if n > 0 {
		return
	}
	for ip := range l.m {
		if n > maxLimited/8 {
			return
		}
		delete(l.m, ip)
		n++
	}
}
