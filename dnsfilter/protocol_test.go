package dnsfilter

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestProtocolErrors(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	cases := []struct {
		name  string
		msg   func() *dns.Msg
		rcode int
	}{
		{"two questions", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("example.org.", dns.TypeA)
			m.Question = append(m.Question, dns.Question{Name: "facebook.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
			return m
		}, dns.RcodeFormatError},
		{"no question", func() *dns.Msg {
			m := new(dns.Msg)
			m.Id = dns.Id()
			return m
		}, dns.RcodeFormatError},
		{"ANY", func() *dns.Msg { return new(dns.Msg).SetQuestion("example.org.", dns.TypeANY) }, dns.RcodeRefused},
		{"ANY for a social name", func() *dns.Msg { return new(dns.Msg).SetQuestion("facebook.com.", dns.TypeANY) }, dns.RcodeRefused},
		{"AXFR", func() *dns.Msg { return new(dns.Msg).SetQuestion("facebook.com.", dns.TypeAXFR) }, dns.RcodeRefused},
		{"CHAOS class", func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("version.bind.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}, dns.RcodeRefused},
		{"NOTIFY", func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("example.org.", dns.TypeSOA)
			m.Opcode = dns.OpcodeNotify
			return m
		}, dns.RcodeNotImplemented},
		{"UPDATE", func() *dns.Msg { return new(dns.Msg).SetUpdate("example.org.") }, dns.RcodeNotImplemented},
		{"EDNS version 1", func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("example.org.", dns.TypeA)
			m.SetEdns0(EDNSBufferSize, false)
			m.IsEdns0().SetVersion(1)
			return m
		}, dns.RcodeBadVers},
	}
	for _, nw := range []string{"udp", "tcp"} {
		for _, c := range cases {
			t.Run(nw+"/"+c.name, func(t *testing.T) {
				r, err := f.exchange(bjones, nw, c.msg())
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != c.rcode || len(r.Answer) != 0 {
					t.Errorf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode], r)
				}
			})
		}
	}
}

// TestMalformedPackets: garbage gets no answer that amplifies it, and the
// filter keeps serving.
func TestMalformedPackets(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	conn, err := net.Dial("udp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good, _ := new(dns.Msg).SetQuestion("example.org.", dns.TypeA).Pack()
	packets := [][]byte{
		{},
		{0x12},
		make([]byte, 11),
		append(append([]byte{}, good[:12]...), 0xff, 0xff),                         // question cut
		append(append([]byte{}, good[:12]...), 0xc0, 0x0c, 0, 1, 0, 1),             // pointer loop
		func() []byte { b := append([]byte{}, good...); b[2] |= 0x80; return b }(), // a response
	}
	buf := make([]byte, 4096)
	for i, p := range packets {
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
		// The answer to a good query after it shows the filter still serves
		// and that any answer to the bad one was no larger than it.
		id := uint16(1000 + i)
		q := append([]byte{}, good...)
		q[0], q[1] = byte(id>>8), byte(id)
		if _, err := conn.Write(q); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("packet %d: no answer to the good query after it: %v", i, err)
			}
			var m dns.Msg
			if err := m.Unpack(buf[:n]); err != nil {
				t.Fatalf("packet %d: unparsable answer: %v", i, err)
			}
			if m.Id == id {
				if m.Rcode != dns.RcodeSuccess {
					t.Errorf("packet %d: good query got %s", i, dns.RcodeToString[m.Rcode])
				}
				break
			}
			if n > max(len(p), headerLen)+4+255 {
				t.Errorf("packet %d: %d-byte answer to a %d-byte packet", i, n, len(p))
			}
		}
	}
}

// TestWildcardUDPAnswersFromQueriedAddress: a filter on a wildcard socket
// (0.0.0.0 over IPv4 alone, and Go's dual-stack socket for "udp" on all
// addresses) answers from the address each query was sent to. The client
// socket is connected, so the kernel drops an answer from any other
// address and the exchange would time out: here the query goes to
// 127.0.0.53, while the route back to the client would pick 127.0.0.1.
func TestWildcardUDPAnswersFromQueriedAddress(t *testing.T) {
	for _, c := range []struct{ name, network, addr string }{
		{"ipv4", "udp4", "0.0.0.0:0"},
		{"dual-stack", "udp", ":0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := startUpstream(t)
			f := startFilter(t, up, fixtureOpts{listen: func(t testing.TB) (net.PacketConn, net.Listener) {
				pc, err := net.ListenPacket(c.network, c.addr)
				if err != nil {
					t.Skipf("cannot listen on %s %s: %v", c.network, c.addr, err)
				}
				return pc, nil
			}})
			_, port, err := net.SplitHostPort(f.addr)
			if err != nil {
				t.Fatal(err)
			}
			for _, to := range []string{"127.0.0.1", "127.0.0.53"} {
				f.addr = net.JoinHostPort(to, port)
				r := f.ask(t, bjones, "udp", "facebook.com.", dns.TypeA, false)
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					t.Errorf("query to %s: %s with %d answers", to, dns.RcodeToString[r.Rcode], len(r.Answer))
				}
			}
		})
	}
}
