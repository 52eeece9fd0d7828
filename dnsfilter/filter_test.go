package dnsfilter

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
)

// want is the expected answer to one question.
type want struct {
	rcode  int
	answer []string // record types of the answer section, in order
	addr   string   // first A or AAAA of the answer, when set
	ede    string   // EDE Blocked extra text (the reason), "" for none
	soa    bool     // an SOA in the authority section
}

type answerCase struct {
	name   string
	client string
	qname  string
	qtype  uint16
	nx     want // in nxdomain mode
	sink   *want
}

var (
	allowedA     = want{rcode: dns.RcodeSuccess, answer: []string{"A"}, addr: "157.240.1.35"}
	allowedAAAA  = want{rcode: dns.RcodeSuccess, answer: []string{"AAAA"}}
	allowedHTTPS = want{rcode: dns.RcodeSuccess, answer: []string{"HTTPS"}}
)

func blocked(reason allowlist.Reason) want {
	return want{rcode: dns.RcodeNameError, ede: string(reason), soa: true}
}

func sunk(qtype uint16, reason allowlist.Reason) *want {
	switch qtype {
	case dns.TypeA:
		return &want{rcode: dns.RcodeSuccess, answer: []string{"A"}, addr: "192.0.2.1", ede: string(reason)}
	case dns.TypeAAAA:
		return &want{rcode: dns.RcodeSuccess, answer: []string{"AAAA"}, addr: "2001:db8::1", ede: string(reason)}
	}
	return &want{rcode: dns.RcodeSuccess, ede: string(reason), soa: true}
}

func answerCases() []answerCase {
	var cs []answerCase
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS} {
		tn := dns.TypeToString[qt]
		ok := map[uint16]want{dns.TypeA: allowedA, dns.TypeAAAA: allowedAAAA, dns.TypeHTTPS: allowedHTTPS}[qt]
		cs = append(cs,
			answerCase{name: "granted " + tn, client: bjones, qname: "facebook.com.", qtype: qt, nx: ok},
			answerCase{name: "no grant " + tn, client: tlee, qname: "facebook.com.", qtype: qt,
				nx: blocked(allowlist.ReasonNoGrant), sink: sunk(qt, allowlist.ReasonNoGrant)},
			answerCase{name: "unbound client " + tn, client: nobody, qname: "facebook.com.", qtype: qt,
				nx: blocked(allowlist.ReasonUnauthenticated), sink: sunk(qt, allowlist.ReasonUnauthenticated)},
			answerCase{name: "banned " + tn, client: bjones, qname: "tiktok.com.", qtype: qt,
				nx: blocked(allowlist.ReasonPlatformBanned), sink: sunk(qt, allowlist.ReasonPlatformBanned)},
			answerCase{name: "bypass resolver " + tn, client: bjones, qname: "dns.google.", qtype: qt,
				nx: blocked(allowlist.ReasonBypass), sink: sunk(qt, allowlist.ReasonBypass)},
		)
	}
	nxCanary := blocked(allowlist.ReasonBypass)
	cs = append(cs,
		answerCase{name: "0x20 case and no grant", client: tlee, qname: "FaCeBoOk.CoM.", qtype: dns.TypeA,
			nx: blocked(allowlist.ReasonNoGrant), sink: sunk(dns.TypeA, allowlist.ReasonNoGrant)},
		answerCase{name: "0x20 case granted", client: bjones, qname: "fAcEbOoK.cOm.", qtype: dns.TypeA, nx: allowedA},
		answerCase{name: "subdomain through CNAME granted", client: bjones, qname: "www.facebook.com.", qtype: dns.TypeA,
			nx: want{rcode: dns.RcodeSuccess, answer: []string{"CNAME", "A"}, addr: "157.240.1.36"}},
		answerCase{name: "not social", client: tlee, qname: "example.org.", qtype: dns.TypeA,
			nx: want{rcode: dns.RcodeSuccess, answer: []string{"A"}, addr: "93.184.215.14"}},
		answerCase{name: "CNAME cloaking blocked", client: tlee, qname: "cloak.example.org.", qtype: dns.TypeA,
			nx: blocked(allowlist.ReasonNoGrant), sink: sunk(dns.TypeA, allowlist.ReasonNoGrant)},
		answerCase{name: "CNAME cloaking granted", client: bjones, qname: "cloak.example.org.", qtype: dns.TypeA,
			nx: want{rcode: dns.RcodeSuccess, answer: []string{"CNAME", "CNAME", "A"}, addr: "157.240.1.40"}},
		answerCase{name: "HTTPS alias to a platform blocked", client: tlee, qname: "alias.example.org.", qtype: dns.TypeHTTPS,
			nx: blocked(allowlist.ReasonNoGrant), sink: sunk(dns.TypeHTTPS, allowlist.ReasonNoGrant)},
		answerCase{name: "DoH canary", client: bjones, qname: "use-application-dns.net.", qtype: dns.TypeA, nx: nxCanary, sink: &nxCanary},
		answerCase{name: "DoH canary AAAA", client: tlee, qname: "Use-Application-DNS.net.", qtype: dns.TypeAAAA, nx: nxCanary, sink: &nxCanary},
		answerCase{name: "private relay canary", client: bjones, qname: "mask.icloud.com.", qtype: dns.TypeA, nx: nxCanary, sink: &nxCanary},
		answerCase{name: "private relay h2 canary", client: bjones, qname: "mask-h2.icloud.com.", qtype: dns.TypeHTTPS, nx: nxCanary, sink: &nxCanary},
		answerCase{name: "DDR canary", client: nobody, qname: "_dns.resolver.arpa.", qtype: dns.TypeSVCB, nx: nxCanary, sink: &nxCanary},
		answerCase{name: "other type of a blocked name", client: tlee, qname: "facebook.com.", qtype: dns.TypeTXT,
			nx: blocked(allowlist.ReasonNoGrant), sink: sunk(dns.TypeTXT, allowlist.ReasonNoGrant)},
	)
	return cs
}

func TestAnswers(t *testing.T) {
	up := startUpstream(t)
	for _, mode := range []string{BlockNXDOMAIN, BlockSinkhole} {
		t.Run(mode, func(t *testing.T) {
			f := startFilter(t, up, fixtureOpts{edits: []string{`block_answer = "nxdomain"`, `block_answer = "` + mode + `"`}})
			for _, nw := range []string{"udp", "tcp"} {
				for _, c := range answerCases() {
					t.Run(nw+"/"+c.name, func(t *testing.T) {
						w := c.nx
						if mode == BlockSinkhole && c.sink != nil {
							w = *c.sink
						}
						r := f.ask(t, c.client, nw, c.qname, c.qtype, true)
						checkAnswer(t, r, c.qname, w)
					})
				}
			}
		})
	}
}

func checkAnswer(t *testing.T, r *dns.Msg, qname string, w want) {
	t.Helper()
	if r.Rcode != w.rcode {
		t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[w.rcode], r)
	}
	if len(r.Question) != 1 || r.Question[0].Name != qname {
		t.Errorf("question %v, want %s as written", r.Question, qname)
	}
	var types []string
	for _, rr := range r.Answer {
		types = append(types, dns.TypeToString[rr.Header().Rrtype])
	}
	if strings.Join(types, ",") != strings.Join(w.answer, ",") {
		t.Errorf("answer types %v, want %v\n%v", types, w.answer, r)
	}
	if w.addr != "" {
		if got := firstAddr(r); got != w.addr {
			t.Errorf("address %s, want %s", got, w.addr)
		}
	}
	if got := edeOf(r); got != w.ede {
		t.Errorf("EDE %q, want %q", got, w.ede)
	}
	hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
	if hasSOA != w.soa {
		t.Errorf("SOA in authority %v, want %v\n%v", hasSOA, w.soa, r)
	}
	if !r.RecursionAvailable || !r.Response {
		t.Errorf("flags: %v", r.MsgHdr)
	}
}

func firstAddr(r *dns.Msg) string {
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			return v.A.String()
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(v.AAAA)
			return a.String()
		}
	}
	return ""
}

// edeOf returns the extra text of an EDE Blocked option, "" when none.
func edeOf(r *dns.Msg) string {
	opt := r.IsEdns0()
	if opt == nil {
		return ""
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == dns.ExtendedErrorCodeBlocked {
			return e.ExtraText
		}
	}
	return ""
}
