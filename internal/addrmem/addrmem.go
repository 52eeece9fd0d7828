// Package addrmem remembers which platform the addresses that the gateway
// resolved for platform names belong to, for their TTL, so that a later
// request to a bare IP address is recognised as that platform. The proxy's
// resolver and the DNS filter share one Memory.
package addrmem

import (
	"net/netip"
	"sync"
	"time"
)

// MinTTL and MaxTTL bound how long an address is remembered, whatever the
// answer's TTL: a zero TTL would forget it before the client connects.
const (
	MinTTL = 60 * time.Second
	MaxTTL = 24 * time.Hour
)

type entry struct {
	platform string
	expires  time.Time
}

// Memory is a bounded, concurrency-safe map from address to platform id.
type Memory struct {
	mu  sync.RWMutex
	m   map[netip.Addr]entry
	max int
}

// New returns a Memory holding at most max addresses (0 means 65536).
func New(max int) *Memory {
	if max <= 0 {
		max = 65536
	}
	return &Memory{m: make(map[netip.Addr]entry), max: max}
}

// Remember records that a resolves for platform, for ttl from now.
func (m *Memory) Remember(a netip.Addr, platform string, ttl time.Duration, now time.Time) {
	ttl = min(max(ttl, MinTTL), MaxTTL)
	a = a.Unmap()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[a]; !ok && len(m.m) >= m.max {
		m.evictLocked(now)
	}
	m.m[a] = entry{platform: platform, expires: now.Add(ttl)}
}

// evictLocked drops expired entries, or, when none has expired, an eighth
// of the map (map order is random). m.mu must be held.
func (m *Memory) evictLocked(now time.Time) {
	n := 0
	for a, e := range m.m {
		if now.After(e.expires) {
			delete(m.m, a)
			n++
		}
	}
	for a := range m.m {
		if n >= m.max/8+1 {
			break
		}
		delete(m.m, a)
		n++
	}
}

// Platform returns the platform a resolves for, or "" when it is unknown
// or its TTL has passed.
func (m *Memory) Platform(a netip.Addr, now time.Time) string {
	m.mu.RLock()
	e, ok := m.m[a.Unmap()]
	m.mu.RUnlock()
	if !ok || now.After(e.expires) {
		return ""
	}
	return e.platform
}

// Len returns the number of addresses held.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}
