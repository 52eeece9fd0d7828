package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/smgate/smgate/allowlist"
)

// authResult is the outcome of checking Proxy-Authorization.
type authResult int

const (
	authNone        authResult = iota // no credentials
	authOK                            // verified
	authBadPassword                   // wrong password, or a user without one
	authUnknownUser                   // a name the directory does not have
	authMalformed                     // not Basic, or not base64 user:password
	authLimited                       // too many failures from this client or for this user
)

// Failed-authentication budgets: per client address and per user name.
const (
	failBurstIP   = 20
	failEveryIP   = 3 * time.Second
	failBurstUser = 10
	failEveryUser = 6 * time.Second
	failKeys      = 10000
)

// authenticator verifies Basic credentials against the directory's bcrypt
// hashes, caching what passed and rate-limiting what failed.
type authenticator struct {
	cache  *authCache
	byIP   *failLimiter
	byUser *failLimiter
	sem    chan struct{} // bounds concurrent bcrypt work

	mu       sync.Mutex
	inflight map[[32]byte]*authCall
}

type authCall struct {
	done chan struct{}
	user string
	res  authResult
}

func newAuthenticator(workers int) *authenticator {
	return &authenticator{
		cache:    newAuthCache(authCacheSize),
		byIP:     newFailLimiter(failBurstIP, failEveryIP, failKeys),
		byUser:   newFailLimiter(failBurstUser, failEveryUser, failKeys),
		sem:      make(chan struct{}, max(workers, 1)),
		inflight: map[[32]byte]*authCall{},
	}
}

// parseBasic returns the decoded "user:password" of a Basic
// Proxy-Authorization value, decoded into buf when it fits (the caller's
// stack array: no allocation on the request path).
func parseBasic(h string, buf []byte) ([]byte, bool) {
	const prefix = "basic "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil, false
	}
	enc := strings.TrimSpace(h[len(prefix):])
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(buf, []byte(enc))
	cred := buf[:n]
	if err != nil || bytes.IndexByte(cred, ':') <= 0 {
		return nil, false
	}
	return cred, true
}

// check verifies the Proxy-Authorization value h of a client. It returns
// the user (verified for authOK, as claimed for authUnknownUser and the
// failures) and how long a limited client must wait.
func (a *authenticator) check(h string, snap *allowlist.Snapshot, client netip.Addr, now time.Time) (string, authResult, time.Duration) {
	if h == "" {
		return "", authNone, 0
	}
	var buf [256]byte
	cred, ok := parseBasic(h, buf[:])
	if !ok {
		a.byIP.failed(client.String(), now)
		return "", authMalformed, 0
	}
	key := sha256.Sum256(cred)
	if user, ok := a.cache.get(key, snap.PasswordHash); ok {
		return user, authOK, 0
	}
	user, pass, _ := strings.Cut(string(cred), ":")
	res, wait := a.verifyOnce(key, user, pass, snap, client.String(), now)
	return user, res, wait
}

// verifyOnce runs bcrypt for a credential, once however many requests
// present it at the same moment (a browser opens several connections):
// the others wait for its result and spend nothing. The one that runs it
// first takes a token from the client's and the user's failure budgets,
// and gives both back when the credential is right, so a budget bounds
// the bcrypt runs of wrong credentials even when they all come at once.
func (a *authenticator) verifyOnce(key [32]byte, user, pass string, snap *allowlist.Snapshot, ipKey string, now time.Time) (authResult, time.Duration) {
	a.mu.Lock()
	if c := a.inflight[key]; c != nil {
		a.mu.Unlock()
		<-c.done
		return c.res, 0
	}
	if ok, wait := a.byIP.take(ipKey, now); !ok {
		a.mu.Unlock()
		return authLimited, wait
	}
	// Only a user with a password has a budget of their own: guesses of
	// anyone else's cost no bcrypt, and a budget per name tried would let
	// a client fill the limiter with names of its choosing (each up to
	// the header's size) and push real users' spent budgets out of it.
	if snap.PasswordHash(user) != nil {
		if ok, wait := a.byUser.take(user, now); !ok {
			a.mu.Unlock()
			a.byIP.refund(ipKey, now)
			return authLimited, wait
		}
	}
	c := &authCall{done: make(chan struct{})}
	a.inflight[key] = c
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.inflight, key)
		a.mu.Unlock()
		close(c.done)
	}()
	c.res = a.verify(key, user, pass, snap)
	if c.res == authOK {
		a.byIP.refund(ipKey, now)
		a.byUser.refund(user, now)
	}
	return c.res, 0
}

func (a *authenticator) verify(key [32]byte, user, pass string, snap *allowlist.Snapshot) authResult {
	hash := snap.PasswordHash(user)
	if hash == nil {
		if !snap.UserExists(user) {
			return authUnknownUser
		}
		return authBadPassword
	}
	a.sem <- struct{}{}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	<-a.sem
	if err != nil {
		return authBadPassword
	}
	a.cache.put(key, user, hash)
	return authOK
}
