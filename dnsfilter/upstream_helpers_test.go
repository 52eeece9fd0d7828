package dnsfilter

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// testZone is what the test upstream knows. Names under nx.example.org
// do not exist (negative TTL 30); drop.example.org is never answered;
// big.example.org's TXT answer does not fit in UDP.
const testZone = `
facebook.com.                 300 IN A     157.240.1.35
facebook.com.                 300 IN AAAA  2a03:2880:f101:83:face:b00c:0:25de
facebook.com.                 300 IN HTTPS 1 . alpn="h2,h3" ech="AEX+DQBBpQAgACBhZWQ="
www.facebook.com.             300 IN CNAME star-mini.c10r.facebook.com.
star-mini.c10r.facebook.com.  60  IN A     157.240.1.36
instagram.com.                300 IN A     157.240.1.174
instagram.com.                300 IN HTTPS 1 . alpn="h2" ipv4hint=157.240.9.9 ipv6hint=2a03:2880::9
tiktok.com.                   300 IN A     23.38.130.11
youtube.com.                  300 IN A     142.250.80.46
dns.google.                   300 IN A     8.8.8.8
example.org.                  300 IN A     93.184.215.14
example.org.                  300 IN HTTPS 1 . alpn="h2" ech="AEX+DQBBpQAgACBhZWQ="
cloak.example.org.            300 IN CNAME edge.cdn.example.net.
edge.cdn.example.net.         300 IN CNAME scontent.xx.fbcdn.net.
scontent.xx.fbcdn.net.        300 IN A     157.240.1.40
alias.example.org.            300 IN HTTPS 0 www.facebook.com.
ttl.example.org.              10  IN A     192.0.2.10
use-application-dns.net.      300 IN A     192.0.2.53
`

// upstream is an in-process resolver on loopback (UDP and TCP, one port)
// answering from testZone, counting the questions it gets.
type upstream struct {
	addr string
	zone map[string][]dns.RR // by lower-case owner

	mu     sync.Mutex
	counts map[string]int // "udp|tcp name type"
	hold   chan struct{}  // when set, answers wait until it is closed
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{zone: map[string][]dns.RR{}, counts: map[string]int{}}
	for _, line := range strings.Split(testZone, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("zone %q: %v", line, err)
		}
		u.add(rr)
	}
	for i := range 60 {
		rr, _ := dns.NewRR("big.example.org. 300 IN TXT \"" + strings.Repeat("x", 200) + string(rune('a'+i%26)) + "\"")
		u.add(rr)
	}
	pc, l := listenPair(t)
	u.addr = pc.LocalAddr().String()
	servePair(t, pc, l, u)
	return u
}

func (u *upstream) add(rr dns.RR) {
	k := strings.ToLower(rr.Header().Name)
	u.zone[k] = append(u.zone[k], rr)
}

// count returns how often name/qtype was asked over nw.
func (u *upstream) count(nw, name string, qtype uint16) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[nw+" "+strings.ToLower(name)+" "+dns.TypeToString[qtype]]
}

func (u *upstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	nw := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		nw = "tcp"
	}
	u.mu.Lock()
	u.counts[nw+" "+name+" "+dns.TypeToString[q.Qtype]]++
	hold := u.hold
	u.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if name == "drop.example.org." {
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	u.answer(m, name, q.Qtype)
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	if nw == "udp" {
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

func (u *upstream) answer(m *dns.Msg, name string, qtype uint16) {
	if strings.HasSuffix(name, ".nx.example.org.") || name == "nx.example.org." {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{soa("example.org.")}
		return
	}
	for range 8 {
		next := ""
		for _, rr := range u.zone[name] {
			switch {
			case rr.Header().Rrtype == qtype:
				m.Answer = append(m.Answer, rr)
			case rr.Header().Rrtype == dns.TypeCNAME:
				m.Answer = append(m.Answer, rr)
				next = strings.ToLower(rr.(*dns.CNAME).Target)
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{soa("example.org.")}
	}
}

func soa(zone string) dns.RR {
	rr, _ := dns.NewRR(zone + " 300 IN SOA ns." + zone + " hostmaster." + zone + " 1 3600 600 86400 30")
	return rr
}

// servePair serves h on pc (UDP) and l (TCP) until the test ends.
func servePair(t testing.TB, pc net.PacketConn, l net.Listener, h dns.Handler) {
	t.Helper()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = srv.Shutdown()
			<-errc
		})
	}
}

// startProbeUp starts an upstream on loopback (UDP and TCP, one port)
// that answers every query with h, and returns its address.
func startProbeUp(t testing.TB, h func(w dns.ResponseWriter, r *dns.Msg)) string {
	t.Helper()
	pc, l := listenPair(t)
	servePair(t, pc, l, dns.HandlerFunc(h))
	return pc.LocalAddr().String()
}

// scripted is what a probe upstream answers to one question name: the
// rcode and the records of each section, in zone file syntax.
type scripted struct {
	rcode             int
	answer, ns, extra []string
}

// startScriptedUp starts a probe upstream that answers each question name
// (lower case) as script says, and an empty NOERROR to any other.
func startScriptedUp(t testing.TB, script map[string]scripted) string {
	t.Helper()
	type msg struct {
		rcode             int
		answer, ns, extra []dns.RR
	}
	rrs := func(lines []string) []dns.RR {
		var out []dns.RR
		for _, l := range lines {
			rr, err := dns.NewRR(l)
			if err != nil {
				t.Fatalf("script %q: %v", l, err)
			}
			out = append(out, rr)
		}
		return out
	}
	byName := make(map[string]msg, len(script))
	for name, s := range script {
		byName[name] = msg{s.rcode, rrs(s.answer), rrs(s.ns), rrs(s.extra)}
	}
	return startProbeUp(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if len(r.Question) == 1 {
			s := byName[strings.ToLower(r.Question[0].Name)]
			m.Rcode, m.Answer, m.Ns, m.Extra = s.rcode, s.answer, s.ns, s.extra
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), opt.Do())
		}
		_ = w.WriteMsg(m)
	})
}
