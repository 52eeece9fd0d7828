package dnsfilter

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// chainScript answers names whose alias chains pass through more than one
// platform: facebook names lead to tiktok (banned) or to instagram.
var chainScript = map[string]scripted{
	"evil.example.org.": {answer: []string{
		"evil.example.org. 300 IN CNAME star.facebook.com.",
		"star.facebook.com. 300 IN CNAME www.tiktok.com.",
		"www.tiktok.com. 300 IN A 23.38.130.11",
	}},
	"m.facebook.com.": {answer: []string{
		"m.facebook.com. 300 IN CNAME star.facebook.com.",
		"star.facebook.com. 300 IN CNAME www.tiktok.com.",
		"www.tiktok.com. 300 IN A 23.38.130.11",
	}},
	"mixed.example.org.": {answer: []string{
		"mixed.example.org. 300 IN CNAME Star.FaceBook.com.",
		"STAR.facebook.COM. 300 IN CNAME www.TikTok.com.",
		"WWW.tiktok.com. 300 IN A 23.38.130.11",
	}},
	"fbig.example.org.": {answer: []string{
		"fbig.example.org. 300 IN CNAME a.facebook.com.",
		"a.facebook.com. 300 IN CNAME b.instagram.com.",
		"b.instagram.com. 300 IN A 157.240.9.9",
	}},
}

// TestChainDecidedWhole: every platform name on an alias chain is
// decided, whether the question name is a platform name or not; the
// answer passes only if each decision does, the record names the
// platform that blocked, and the addresses are remembered as the platform
// of the name they belong to.
func TestChainDecidedWhole(t *testing.T) {
	f := startFilter(t, nil, fixtureOpts{upstreams: []string{startScriptedUp(t, chainScript)}})
	banned := blocked(allowlist.ReasonPlatformBanned)
	cases := []struct {
		name, client, qname string
		want                want
		reason              allowlist.Reason
		platform, via       string
	}{
		{"alias through facebook to banned tiktok", bjones, "evil.example.org.", banned,
			allowlist.ReasonPlatformBanned, "tiktok", "www.tiktok.com"},
		{"granted platform name aliased to a banned one", bjones, "m.facebook.com.", banned,
			allowlist.ReasonPlatformBanned, "tiktok", "www.tiktok.com"},
		{"chain in mixed case", bjones, "mixed.example.org.", banned,
			allowlist.ReasonPlatformBanned, "tiktok", "www.tiktok.com"},
		{"every platform on the chain granted", bjones, "fbig.example.org.",
			want{rcode: dns.RcodeSuccess, answer: []string{"CNAME", "CNAME", "A"}, addr: "157.240.9.9"},
			allowlist.ReasonAllowedGrant, "facebook", "a.facebook.com"},
		{"first platform on the chain not granted", tlee, "fbig.example.org.", blocked(allowlist.ReasonNoGrant),
			allowlist.ReasonNoGrant, "facebook", "a.facebook.com"},
	}
	for _, nw := range []string{"udp", "tcp"} { // from the upstream, then from the cache
		for _, c := range cases {
			t.Run(nw+"/"+c.name, func(t *testing.T) {
				checkAnswer(t, f.ask(t, c.client, nw, c.qname, dns.TypeA, true), c.qname, c.want)
			})
		}
	}
	recs := f.records(t)
	for _, c := range cases {
		host, _ := hostOf(c.qname)
		n := 0
		for _, r := range recs {
			if r.Domain != host || r.SourceIP != netip.MustParseAddr(c.client) {
				continue
			}
			n++
			outcome := logs.OutcomeBlocked
			if c.reason == allowlist.ReasonAllowedGrant {
				outcome = logs.OutcomeAllowed
			}
			if r.Reason != string(c.reason) || r.Outcome != outcome || r.Platform != c.platform || r.Message != "cname target "+c.via {
				t.Errorf("%s: record %+v, want %s %s via %s", c.name, r, c.reason, c.platform, c.via)
			}
		}
		if n != 2 {
			t.Errorf("%s: %d records, want 2", c.name, n)
		}
	}
	now := f.clock.Now()
	for addr, want := range map[string]string{"23.38.130.11": "tiktok", "157.240.9.9": "instagram"} {
		if got := f.addrs.Platform(netip.MustParseAddr(addr), now); got != want {
			t.Errorf("%s remembered as %q, want %q", addr, got, want)
		}
	}
}
