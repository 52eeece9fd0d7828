package dnsfilter

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

func hasECH(r *dns.Msg) bool {
	for _, rr := range r.Answer {
		if s := svcbOf(rr); s != nil {
			for _, kv := range s.Value {
				if kv.Key() == dns.SVCB_ECHCONFIG {
					return true
				}
			}
		}
	}
	return false
}

func TestECHStrippedForSocialNames(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	cases := []struct {
		name, client, qname string
		ech                 bool
	}{
		{"granted social name", bjones, "facebook.com.", false},
		{"not social", tlee, "example.org.", true},
		{"not social, after a social query", bjones, "example.org.", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // from upstream, then from the cache
				r := f.ask(t, c.client, "udp", c.qname, dns.TypeHTTPS, true)
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					t.Fatalf("%v", r)
				}
				if hasECH(r) != c.ech {
					t.Errorf("ech present %v, want %v\n%v", hasECH(r), c.ech, r)
				}
			}
		})
	}
}

func TestStripECHMandatory(t *testing.T) {
	rr, err := dns.NewRR(`a.example. 60 IN HTTPS 1 . mandatory=alpn,ech alpn="h2" ech="AEX+DQBBpQAgACBhZWQ="`)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.Answer = []dns.RR{rr}
	c := withoutECH(m)
	if c == nil || hasECH(c) || !hasECH(m) {
		t.Fatalf("withoutECH: %v", c)
	}
	got := c.Answer[0].(*dns.HTTPS).Value
	if len(got) != 2 || got[0].(*dns.SVCBMandatory).Code[0] != dns.SVCB_ALPN || len(got[0].(*dns.SVCBMandatory).Code) != 1 {
		t.Errorf("values %v", got)
	}
	if _, err := c.Pack(); err != nil {
		t.Errorf("pack: %v", err)
	}
	if withoutECH(c) != nil {
		t.Error("a message without ech was copied")
	}
}

func TestUsageRecords(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	f.ask(t, bjones, "udp", "FaceBook.com.", dns.TypeA, false)
	f.ask(t, tlee, "tcp", "facebook.com.", dns.TypeAAAA, true)
	f.ask(t, tlee, "udp", "cloak.example.org.", dns.TypeA, true)
	f.ask(t, tlee, "udp", "example.org.", dns.TypeA, true) // not social: no record
	f.ask(t, bjones, "udp", "use-application-dns.net.", dns.TypeA, true)
	got := f.records(t)
	want := []logs.Record{
		{Outcome: logs.OutcomeAllowed, Reason: string(allowlist.ReasonAllowedGrant), User: "bjones", Roles: []string{"dcf-investigations"},
			Agency: "DCF", SourceIP: netip.MustParseAddr(bjones), Domain: "facebook.com", Platform: "facebook",
			Role: "dcf-investigations"},
		{Outcome: logs.OutcomeBlocked, Reason: string(allowlist.ReasonNoGrant), User: "tlee", Roles: []string{"dot-communications"},
			Agency: "DOT", SourceIP: netip.MustParseAddr(tlee), Domain: "facebook.com", Platform: "facebook"},
		{Outcome: logs.OutcomeBlocked, Reason: string(allowlist.ReasonNoGrant), User: "tlee", Roles: []string{"dot-communications"},
			Agency: "DOT", SourceIP: netip.MustParseAddr(tlee), Domain: "cloak.example.org", Platform: "facebook",
			Message: "cname target scontent.xx.fbcdn.net"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Mode != "dns" || g.Action != logs.ActionDNSQuery || g.Observer != gwName || !g.Time.Equal(wednesday10) || g.NotEnforced {
			t.Errorf("record %d: %+v", i, g)
		}
		if g.Outcome != w.Outcome || g.Reason != w.Reason || g.User != w.User || !slices.Equal(g.Roles, w.Roles) ||
			g.Agency != w.Agency || g.SourceIP != w.SourceIP || g.Domain != w.Domain || g.Platform != w.Platform ||
			g.Role != w.Role || g.Message != w.Message {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestReportModeLetsThroughAndRecords(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{edits: []string{`mode = "enforce"`, `mode = "report"`}})
	r := f.ask(t, tlee, "udp", "facebook.com.", dns.TypeA, true)
	if r.Rcode != dns.RcodeSuccess || firstAddr(r) != "157.240.1.35" {
		t.Fatalf("report mode blocked: %v", r)
	}
	recs := f.records(t)
	if len(recs) != 1 || recs[0].Outcome != logs.OutcomeBlocked || recs[0].Reason != string(allowlist.ReasonNoGrant) || !recs[0].NotEnforced {
		t.Fatalf("records %+v", recs)
	}
}

// TestUnwritableLogBlocks: when the usage log cannot take records, social
// names are blocked (report mode too), other names still resolve.
func TestUnwritableLogBlocks(t *testing.T) {
	up := startUpstream(t)
	for _, mode := range []string{"enforce", "report"} {
		t.Run(mode, func(t *testing.T) {
			f := startFilter(t, up, fixtureOpts{edits: []string{`mode = "enforce"`, `mode = "` + mode + `"`}})
			if err := f.log.Close(); err != nil {
				t.Fatal(err)
			}
			r := f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, true)
			if r.Rcode != dns.RcodeNameError || edeOf(r) != string(allowlist.ReasonPolicyUnavailable) {
				t.Errorf("granted name with a closed log: %v", r)
			}
			if r := f.ask(t, bjones, "udp", "example.org.", dns.TypeA, true); r.Rcode != dns.RcodeSuccess {
				t.Errorf("not social with a closed log: %v", r)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{edits: []string{"rate_limit = 0", "rate_limit = 3"}})
	rcodes := func(src string, n int) []int {
		var out []int
		for range n {
			out = append(out, f.ask(t, src, "udp", "example.org.", dns.TypeA, false).Rcode)
		}
		return out
	}
	ok, refused := dns.RcodeSuccess, dns.RcodeRefused
	if got := rcodes(bjones, 5); !slices.Equal(got, []int{ok, ok, ok, refused, refused}) {
		t.Errorf("burst: %v", got)
	}
	if got := rcodes(tlee, 1); got[0] != ok {
		t.Errorf("another client was limited: %v", got)
	}
	f.clock.Advance(time.Second)
	if got := rcodes(bjones, 4); !slices.Equal(got, []int{ok, ok, ok, refused}) {
		t.Errorf("after a second: %v", got)
	}
}

func TestAddressesRemembered(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, false)
	f.ask(t, tlee, "udp", "cloak.example.org.", dns.TypeA, false) // blocked, still facebook's
	f.ask(t, tlee, "udp", "example.org.", dns.TypeA, false)
	f.ask(t, bjones, "udp", "instagram.com.", dns.TypeHTTPS, false) // hints are addresses too
	now := f.clock.Now()
	for addr, want := range map[string]string{"157.240.1.35": "facebook", "157.240.1.40": "facebook", "93.184.215.14": "",
		"157.240.9.9": "instagram", "2a03:2880::9": "instagram"} {
		if got := f.addrs.Platform(netip.MustParseAddr(addr), now); got != want {
			t.Errorf("%s: platform %q, want %q", addr, got, want)
		}
	}
}

// TestSuspensionBlocksNextQuery: after Engine.Suspend the next query of
// the agency's user is blocked, over UDP and TCP, whether the name is
// cached, never asked (then not forwarded at all), or a non-social alias
// of a platform; another agency's user is untouched, and each blocked
// query is recorded with the suspension's reason.
func TestSuspensionBlocksNextQuery(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	for _, name := range []string{"facebook.com.", "cloak.example.org."} {
		if r := f.ask(t, bjones, "udp", name, dns.TypeA, true); r.Rcode != dns.RcodeSuccess {
			t.Fatalf("%s before the suspension: %v", name, r)
		}
	}
	if _, err := f.engine.Suspend(allowlist.ScopeAgency, "DCF", "incident 42", "soc"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, qname string }{
		{"cached name", "facebook.com."},
		{"cached alias of a platform", "cloak.example.org."},
		{"name never asked", "instagram.com."},
	}
	n := 0
	for _, nw := range []string{"udp", "tcp"} {
		for _, c := range cases {
			t.Run(nw+"/"+c.name, func(t *testing.T) {
				r := f.ask(t, bjones, nw, c.qname, dns.TypeA, true)
				checkAnswer(t, r, c.qname, blocked(allowlist.ReasonAgencySuspended))
				n++
			})
		}
	}
	if got := up.count("udp", "instagram.com.", dns.TypeA) + up.count("tcp", "instagram.com.", dns.TypeA); got != 0 {
		t.Errorf("a suspended agency's query was forwarded %d times", got)
	}
	if r := f.ask(t, tlee, "udp", "facebook.com.", dns.TypeA, true); edeOf(r) != string(allowlist.ReasonNoGrant) {
		t.Errorf("another agency's user: %v", r)
	}
	var suspended int
	for _, rec := range f.records(t) {
		if rec.Reason == string(allowlist.ReasonAgencySuspended) {
			suspended++
			if rec.User != "bjones" || rec.Agency != "DCF" || rec.Outcome != logs.OutcomeBlocked {
				t.Errorf("record %+v", rec)
			}
		}
	}
	if suspended != n {
		t.Errorf("%d records with reason %s, want %d", suspended, allowlist.ReasonAgencySuspended, n)
	}
}

// TestSuspensionDuringUpstreamWait: a query that was let through on
// arrival and then waits for the upstream is answered under the policy in
// force when the answer comes back: a suspension meanwhile blocks it, over
// UDP and TCP, for a platform name and for a non-social alias of one, and
// the record says what was applied.
func TestSuspensionDuringUpstreamWait(t *testing.T) {
	for _, nw := range []string{"udp", "tcp"} {
		for _, qname := range []string{"instagram.com.", "cloak.example.org."} {
			t.Run(nw+"/"+qname, func(t *testing.T) {
				up := startUpstream(t)
				f := startFilter(t, up, fixtureOpts{timeout: 5 * time.Second})
				hold := make(chan struct{})
				release := sync.OnceFunc(func() { close(hold) })
				t.Cleanup(release)
				up.mu.Lock()
				up.hold = hold
				up.mu.Unlock()
				type reply struct {
					r   *dns.Msg
					err error
				}
				got := make(chan reply, 1)
				go func() {
					m := new(dns.Msg).SetQuestion(qname, dns.TypeA)
					m.SetEdns0(EDNSBufferSize, false)
					r, err := f.exchange(bjones, nw, m)
					got <- reply{r, err}
				}()
				waitFor(t, "the upstream to get the query", func() bool { return up.count("udp", qname, dns.TypeA) == 1 })
				if _, err := f.engine.Suspend(allowlist.ScopeAgency, "DCF", "incident 43", "soc"); err != nil {
					t.Fatal(err)
				}
				release()
				rep := <-got
				if rep.err != nil {
					t.Fatal(rep.err)
				}
				checkAnswer(t, rep.r, qname, blocked(allowlist.ReasonAgencySuspended))
				recs := f.records(t)
				if len(recs) != 1 || recs[0].Reason != string(allowlist.ReasonAgencySuspended) ||
					recs[0].Outcome != logs.OutcomeBlocked || recs[0].User != "bjones" {
					t.Errorf("records %+v, want one blocked %s", recs, allowlist.ReasonAgencySuspended)
				}
			})
		}
	}
}
