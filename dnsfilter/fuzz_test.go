package dnsfilter

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// recorder is the dns.ResponseWriter of a handler called directly: it
// keeps what the handler writes.
type recorder struct {
	remote net.Addr
	out    [][]byte
}

func (r *recorder) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = r.Write(b)
	return err
}
func (r *recorder) Write(b []byte) (int, error) {
	r.out = append(r.out, append([]byte(nil), b...))
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// FuzzHandler feeds packets to the handler as the server would (packets
// that do not parse never reach it): it must not panic, and what it
// answers must be one valid response to the query, within the client's
// UDP buffer.
func FuzzHandler(f *testing.F) {
	seed := func(name string, qtype uint16, edns bool) []byte {
		m := new(dns.Msg).SetQuestion(name, qtype)
		if edns {
			m.SetEdns0(4096, true)
		}
		b, _ := m.Pack()
		return b
	}
	for _, s := range [][]byte{
		seed("facebook.com.", dns.TypeA, false),
		seed("FaceBook.com.", dns.TypeHTTPS, true),
		seed("cloak.example.org.", dns.TypeA, true),
		seed("big.example.org.", dns.TypeTXT, false),
		seed("a\\.b.facebook.com.", dns.TypeAAAA, true),
		seed("\\070acebook.com.", dns.TypeA, false),
		seed("use-application-dns.net.", dns.TypeA, true),
		seed("example.org.", dns.TypeANY, false),
		seed(".", dns.TypeNS, false),
	} {
		f.Add(s, uint8(2))
	}
	up := startUpstream(f)
	fx := startFilter(f, up, fixtureOpts{timeout: 50 * time.Millisecond})
	f.Fuzz(func(t *testing.T, b []byte, client uint8) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return
		}
		rec := &recorder{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, client%4), Port: 5353}}
		fx.s.ServeDNS(rec, req)
		if len(rec.out) > 1 {
			t.Fatalf("%d answers", len(rec.out))
		}
		if len(rec.out) == 0 {
			if !req.Response {
				t.Fatalf("no answer to a query: %v", req)
			}
			return
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(rec.out[0]); err != nil {
			t.Fatalf("invalid answer: %v", err)
		}
		if resp.Id != req.Id || !resp.Response {
			t.Fatalf("answer %v to %v", resp.MsgHdr, req.MsgHdr)
		}
		limit := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			limit = max(limit, min(int(o.UDPSize()), EDNSBufferSize))
		}
		if len(rec.out[0]) > limit {
			t.Fatalf("%d-byte answer, the client takes %d", len(rec.out[0]), limit)
		}
		if len(req.Question) == 1 && len(resp.Question) == 1 && resp.Question[0].Name != req.Question[0].Name {
			t.Fatalf("question %q answered as %q", req.Question[0].Name, resp.Question[0].Name)
		}
	})
}

// FuzzParseWire: a packet that parseWire reads as a query is one that the
// server accepts, that unpacks, and that parse reads as the same query.
func FuzzParseWire(f *testing.F) {
	for _, m := range []*dns.Msg{
		new(dns.Msg).SetQuestion("facebook.com.", dns.TypeA),
		new(dns.Msg).SetQuestion("WwW.FaceBook.CoM.", dns.TypeAAAA).SetEdns0(1232, true),
		new(dns.Msg).SetQuestion(`a\.b.example.org.`, dns.TypeHTTPS).SetEdns0(4096, false),
		new(dns.Msg).SetQuestion("example.org.", dns.TypeANY),
	} {
		m.CheckingDisabled = true
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	client := netip.MustParseAddr("127.0.0.2")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var a query
		if !a.parseWire(pkt, client) {
			return
		}
		be := binary.BigEndian
		dh := dns.Header{Id: be.Uint16(pkt), Bits: be.Uint16(pkt[2:]), Qdcount: be.Uint16(pkt[4:]),
			Ancount: be.Uint16(pkt[6:]), Nscount: be.Uint16(pkt[8:]), Arcount: be.Uint16(pkt[10:])}
		if acceptQuery(dh) != dns.MsgAccept {
			t.Fatalf("parseWire read a packet the server does not accept: %+v", dh)
		}
		var m dns.Msg
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("parseWire read a packet that does not unpack: %v", err)
		}
		var b query
		w := &recorder{remote: net.UDPAddrFromAddrPort(netip.AddrPortFrom(client, 5353))}
		if rc := b.parse(w, &m); rc != rcodeOK {
			t.Fatalf("parse answers rcode %d to what parseWire read as %+v", rc, a)
		}
		if a != b {
			t.Fatalf("parseWire %+v\nparse     %+v", a, b)
		}
	})
}
