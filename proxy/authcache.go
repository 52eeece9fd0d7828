package proxy

import (
	"bytes"
	"sync"
)

// authCache remembers credentials that passed bcrypt, keyed by the SHA-256
// of the whole "user:password" credential (never by the user alone), with
// the hash they matched. An entry counts only while the directory still
// holds that same hash for the user, so a changed password, a removed user
// or a reload that changes either invalidates it; a reload or suspension
// that leaves the hash alone does not make every user pay bcrypt again.
type authCache struct {
	max int

	mu sync.RWMutex
	m  map[[32]byte]authEntry
}

type authEntry struct {
	user string
	hash []byte
}

func newAuthCache(max int) *authCache {
	return &authCache{max: max, m: make(map[[32]byte]authEntry)}
}

// get returns the user of a credential verified against current, the
// user's hash in force.
func (c *authCache) get(key [32]byte, current func(user string) []byte) (string, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || e.hash == nil || !bytes.Equal(current(e.user), e.hash) {
		return "", false
	}
	return e.user, true
}

func (c *authCache) put(key [32]byte, user string, hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		n := 0
		for k := range c.m { // map order is random: drop an eighth
			if n > c.max/8 {
				break
			}
			delete(c.m, k)
			n++
		}
	}
	c.m[key] = authEntry{user: user, hash: hash}
}
