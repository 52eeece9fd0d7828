package dnsfilter

import (
	"hash/maphash"
	"sync"
)

const cacheShards = 16

// cacheKey identifies an upstream answer: the question in lower case and
// the request bits that change what the upstream returns.
type cacheKey struct {
	name  string // lower-case FQDN as written (escapes kept)
	qtype uint16
	do    bool // DNSSEC OK: signatures included
	cd    bool // checking disabled
}

// cache holds upstream answers, at most max entries, evicting with CLOCK
// (second chance): a hit marks an entry, and the eviction hand passes over
// marked entries once.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]shard
}

type shard struct {
	mu   sync.RWMutex
	m    map[cacheKey]*entry
	ring []cacheKey // every key of m once; hand walks it
	hand int
	max  int
}

// newCache returns a cache of at most size entries, or nil when size is
// not positive (no cache).
func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed()}
	per := max(size/cacheShards, 1)
	for i := range c.shards {
		c.shards[i] = shard{m: make(map[cacheKey]*entry), max: per}
	}
	return c
}

func (c *cache) shard(k *cacheKey) *shard {
	return &c.shards[maphash.String(c.seed, k.name)%cacheShards]
}

// get returns the entry for k when it has not expired at now (unix
// nanoseconds).
func (c *cache) get(k cacheKey, now int64) *entry {
	if c == nil {
		return nil
	}
	s := c.shard(&k)
	s.mu.RLock()
	e := s.m[k]
	s.mu.RUnlock()
	if e == nil || now >= e.expires {
		return nil
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// put stores e under k, evicting another entry when the shard is full.
func (c *cache) put(k cacheKey, e *entry, now int64) {
	if c == nil || !e.cacheable() {
		return
	}
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		s.m[k] = e
		return
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, k)
		s.m[k] = e
		return
	}
	i := s.victimLocked(now)
	delete(s.m, s.ring[i])
	s.ring[i] = k
	s.m[k] = e
}

// victimLocked moves the hand to the slot to evict: the first expired or
// unmarked entry, clearing marks on the way. s.mu must be held.
func (s *shard) victimLocked(now int64) int {
	for {
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ring)
		e := s.m[s.ring[i]]
		if now >= e.expires || !e.ref.Load() {
			return i
		}
		e.ref.Store(false)
	}
}

// len returns the number of entries held.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
