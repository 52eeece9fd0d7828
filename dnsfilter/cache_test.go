package dnsfilter

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
)

func TestCacheTTLExpiry(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	ttlOf := func() uint32 {
		r := f.ask(t, tlee, "udp", "ttl.example.org.", dns.TypeA, false)
		if len(r.Answer) != 1 {
			t.Fatalf("answer %v", r)
		}
		return r.Answer[0].Header().Ttl
	}
	steps := []struct {
		advance time.Duration
		ttl     uint32
		asked   int
	}{
		{0, 10, 1},
		{4 * time.Second, 6, 1},
		{5 * time.Second, 1, 1},
		{time.Second, 10, 2}, // expired at 10 s: asked again
		{3 * time.Second, 7, 2},
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		if got := ttlOf(); got != s.ttl {
			t.Errorf("step %d: TTL %d, want %d", i, got, s.ttl)
		}
		if got := up.count("udp", "ttl.example.org.", dns.TypeA); got != s.asked {
			t.Errorf("step %d: upstream asked %d times, want %d", i, got, s.asked)
		}
	}
}

func TestNegativeCache(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	for i, s := range []struct {
		advance time.Duration
		asked   int
		soaTTL  uint32
	}{
		{0, 1, 30}, // SOA TTL 300, MINIMUM 30: kept and served as 30 s (RFC 2308)
		{20 * time.Second, 1, 10},
		{11 * time.Second, 2, 30},
	} {
		f.clock.Advance(s.advance)
		r := f.ask(t, bjones, "udp", "a.nx.example.org.", dns.TypeA, true)
		if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
			t.Fatalf("step %d: %v", i, r)
		}
		if got := r.Ns[0].Header().Ttl; got != s.soaTTL {
			t.Errorf("step %d: SOA TTL %d, want %d", i, got, s.soaTTL)
		}
		if got := up.count("udp", "a.nx.example.org.", dns.TypeA); got != s.asked {
			t.Errorf("step %d: upstream asked %d times, want %d", i, got, s.asked)
		}
	}
	// NODATA is negative too.
	f.ask(t, bjones, "udp", "example.org.", dns.TypeMX, false)
	f.ask(t, bjones, "udp", "example.org.", dns.TypeMX, false)
	if got := up.count("udp", "example.org.", dns.TypeMX); got != 1 {
		t.Errorf("NODATA asked %d times, want 1", got)
	}
}

// TestCacheHoldsAnswersNotDecisions: a name cached for a granted client is
// decided again for the next, and a suspension applies to it at once.
func TestCacheHoldsAnswersNotDecisions(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	if r := f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, true); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("granted: %v", r)
	}
	if r := f.ask(t, tlee, "udp", "facebook.com.", dns.TypeA, true); r.Rcode != dns.RcodeNameError || edeOf(r) != string(allowlist.ReasonNoGrant) {
		t.Fatalf("other client got the cached answer: %v", r)
	}
	if _, err := f.engine.Suspend(allowlist.ScopeAgency, "DCF", "incident 42", "soc"); err != nil {
		t.Fatal(err)
	}
	r := f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, true)
	if r.Rcode != dns.RcodeNameError || edeOf(r) != string(allowlist.ReasonAgencySuspended) {
		t.Fatalf("suspended agency: %v", r)
	}
	if _, err := f.engine.Reinstate(allowlist.ScopeAgency, "DCF", "soc"); err != nil {
		t.Fatal(err)
	}
	if r := f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, true); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("reinstated: %v", r)
	}
	f.clock.Advance(10 * time.Hour) // 20:00: outside bjones's schedule
	if r := f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, true); edeOf(r) != string(allowlist.ReasonOutsideSchedule) {
		t.Fatalf("outside schedule: %v", r)
	}
	if got := up.count("udp", "facebook.com.", dns.TypeA); got != 1 {
		t.Errorf("upstream asked %d times, want 1 (from cache)", got)
	}
}

func TestCollapseConcurrentMisses(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	hold := make(chan struct{})
	up.mu.Lock()
	up.hold = hold
	up.mu.Unlock()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := new(dns.Msg)
			m.SetQuestion("example.org.", dns.TypeA)
			r, err := f.exchange([]string{bjones, tlee, nobody}[i%3], "udp", m)
			if err == nil && (r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1) {
				err = fmt.Errorf("answer %v", r)
			}
			errs <- err
		}()
	}
	k := cacheKey{name: "example.org.", qtype: dns.TypeA}
	waitFor(t, "all queries to join one flight", func() bool { return f.s.flights.waiting(k) == n-1 })
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := up.count("udp", "example.org.", dns.TypeA); got != 1 {
		t.Errorf("upstream asked %d times, want 1", got)
	}
}

func TestCacheEviction(t *testing.T) {
	c := newCache(cacheShards * 2) // two entries a shard
	now := int64(1e9)
	mk := func() *entry { return &entry{stored: now, expires: now + 100e9} }
	keys := make([]cacheKey, 200)
	for i := range keys {
		keys[i] = cacheKey{name: fmt.Sprintf("n%d.example.", i), qtype: dns.TypeA}
		c.put(keys[i], mk(), now)
		if got := c.len(); got > cacheShards*2 {
			t.Fatalf("after %d puts the cache holds %d entries, more than %d", i+1, got, cacheShards*2)
		}
	}
	if c.get(keys[199], now) == nil {
		t.Error("the last entry put is not there")
	}
	if c.get(keys[199], now+100e9) != nil {
		t.Error("an expired entry was returned")
	}
	var nilCache *cache
	nilCache.put(keys[0], mk(), now)
	if nilCache.get(keys[0], now) != nil || nilCache.len() != 0 {
		t.Error("a nil cache holds something")
	}
}

// TestCacheSecondChance: an entry that is hit survives the next eviction
// in its shard; one that is not is evicted first.
func TestCacheSecondChance(t *testing.T) {
	c := newCache(cacheShards * 2)
	now := int64(1e9)
	var same []cacheKey // keys of one shard
	for i := 0; len(same) < 3; i++ {
		k := cacheKey{name: fmt.Sprintf("s%d.example.", i), qtype: dns.TypeA}
		if c.shard(&k) == &c.shards[0] {
			same = append(same, k)
		}
	}
	c.put(same[0], &entry{stored: now, expires: now + 100e9}, now)
	c.put(same[1], &entry{stored: now, expires: now + 100e9}, now)
	c.get(same[0], now)
	c.put(same[2], &entry{stored: now, expires: now + 100e9}, now)
	if c.get(same[0], now) == nil || c.get(same[1], now) != nil || c.get(same[2], now) == nil {
		t.Error("CLOCK evicted the entry that was hit")
	}
}
