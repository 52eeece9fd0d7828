package dnsfilter

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// deadPort returns a loopback UDP address nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	_ = pc.Close()
	return addr
}

func TestUpstreamFailureIsServfail(t *testing.T) {
	up := startUpstream(t)
	cases := []struct {
		name      string
		upstreams func() []string
		qname     string
	}{
		{"upstream down", func() []string { return []string{deadPort(t)} }, "example.org."},
		{"upstream down, granted social name", func() []string { return []string{deadPort(t)} }, "facebook.com."},
		{"upstream timeout", func() []string { return []string{up.addr} }, "drop.example.org."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startFilter(t, up, fixtureOpts{upstreams: c.upstreams(), timeout: 200 * time.Millisecond})
			for _, nw := range []string{"udp", "tcp"} {
				r := f.ask(t, bjones, nw, c.qname, dns.TypeA, true)
				if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
					t.Errorf("%s: %v", nw, r)
				}
			}
			// A granted social name's records say what the client got.
			recs := f.records(t)
			if want := map[bool]int{true: 2}[c.qname == "facebook.com."]; len(recs) != want {
				t.Errorf("%d records, want %d", len(recs), want)
			}
			for _, rec := range recs {
				if rec.Outcome != "allowed" || rec.Message != noteServfail {
					t.Errorf("record %+v: want the allowed decision noted %q", rec, noteServfail)
				}
			}
		})
	}
}

// TestUpstreamFailover: a dead first upstream does not fail the query
// while another answers.
func TestUpstreamFailover(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{upstreams: []string{deadPort(t), up.addr}, timeout: 500 * time.Millisecond})
	for i := range 4 { // the rotation starts at each upstream in turn
		name := []string{"example.org.", "ttl.example.org.", "facebook.com.", "instagram.com."}[i]
		if r := f.ask(t, bjones, "udp", name, dns.TypeA, false); r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: %v", name, r)
		}
	}
}

func TestTruncatedUpstreamRetriedOverTCP(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	r := f.ask(t, tlee, "tcp", "big.example.org.", dns.TypeTXT, true)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 60 || r.Truncated {
		t.Fatalf("over TCP: rcode %s, %d records, TC %v", dns.RcodeToString[r.Rcode], len(r.Answer), r.Truncated)
	}
	if up.count("udp", "big.example.org.", dns.TypeTXT) != 1 || up.count("tcp", "big.example.org.", dns.TypeTXT) != 1 {
		t.Errorf("upstream asked udp %d, tcp %d times; want 1 and 1",
			up.count("udp", "big.example.org.", dns.TypeTXT), up.count("tcp", "big.example.org.", dns.TypeTXT))
	}
	// A UDP client gets TC and its question, within its buffer.
	for _, edns := range []bool{false, true} {
		m := new(dns.Msg)
		m.SetQuestion("big.example.org.", dns.TypeTXT)
		if edns {
			m.SetEdns0(4096, false)
		}
		c := dns.Client{Net: "udp", UDPSize: 4096, Timeout: 5 * time.Second}
		r, _, err := c.Exchange(m, f.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Truncated || len(r.Answer) != 0 || len(r.Question) != 1 || (r.IsEdns0() != nil) != edns {
			t.Errorf("edns %v: %v", edns, r)
		}
	}
}
