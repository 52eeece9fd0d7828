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

// TestPlainUDP: a socket bound to one address is served without control
// messages (see boundUDP); the filter's tests all run over one.
func TestPlainUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, ok := plainUDP(pc).(boundUDP); !ok {
		t.Errorf("a socket bound to 127.0.0.1 is served as %T", plainUDP(pc))
	}
	unspec := &net.UDPConn{}
	if got := plainUDP(unspec); got != net.PacketConn(unspec) {
		t.Errorf("a socket without a local address is served as %T", got)
	}
}
