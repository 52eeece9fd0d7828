package dnsfilter

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Benchmarks of the filter as it serves: a real Server on loopback UDP,
// a real usage log (logs.Writer, group commit and fsync in b.TempDir())
// as the Sink, and an in-process upstream. Run with -benchmem; the
// allocation figures count the client and the upstream too.
//
//	go test -run '^$' -bench . -benchmem ./dnsfilter/

// benchClock returns a clock that starts inside bjones's schedule and
// moves with real time, without the test clock's lock.
func benchClock() func() time.Time {
	start := time.Now()
	return func() time.Time { return wednesday10.Add(time.Since(start)) }
}

// startBenchUpstream starts a lean resolver on loopback that answers every
// A question with one address (TTL 3600), and every other type with an
// empty NOERROR: what the lab's upstream does.
func startBenchUpstream(b *testing.B) string {
	b.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
				A:   net.IPv4(192, 0, 2, 7),
			}}
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), opt.Do())
		}
		_ = w.WriteMsg(m)
	})
	pc, l := listenPair(b)
	servePair(b, pc, l, h)
	return pc.LocalAddr().String()
}

func startBenchFilter(b *testing.B) *fixture {
	b.Helper()
	return startFilter(b, nil, fixtureOpts{upstreams: []string{startBenchUpstream(b)}, now: benchClock()})
}

// packQuery packs an A question for name with EDNS (as dnsperf and
// browsers' stub resolvers send it).
func packQuery(b *testing.B, name string) []byte {
	b.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(EDNSBufferSize, false)
	p, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// uniqueName is the template of the uncached benchmark's names: the
// digits (offset 14 in the packed query, after the header and the first
// label's length byte) are rewritten for every query.
const uniqueName = "q000000000.u.facebook.com."

// serveUDP runs b.N queries against f from src, over one UDP socket per
// goroutine, one query in flight on each. next fills in the query to send
// (its ID is set here). Every answer must be NOERROR with an answer.
func serveUDP(b *testing.B, f *fixture, src string, query []byte, next func(q []byte, i uint64)) {
	b.Helper()
	seq := make(chan uint64, 1)
	seq <- 0
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(f.addr)))
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		q := append([]byte(nil), query...)
		buf := make([]byte, 2048)
		base := <-seq
		seq <- base + 1<<32
		var id uint16
		for i := uint64(0); pb.Next(); i++ {
			if next != nil {
				next(q, base+i)
			}
			id++
			binary.BigEndian.PutUint16(q, id)
			if i%1024 == 0 {
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			}
			if _, err := conn.Write(q); err != nil {
				b.Error(err)
				return
			}
			n, err := conn.Read(buf)
			if err != nil {
				b.Error(err)
				return
			}
			if n < headerLen || binary.BigEndian.Uint16(buf) != id || buf[3]&0xf != dns.RcodeSuccess || binary.BigEndian.Uint16(buf[6:]) == 0 {
				b.Errorf("answer %x to query %d", buf[:min(n, 16)], id)
				return
			}
		}
	})
}

// putDigits writes i, in decimal, over the 9 digits of uniqueName in q.
func putDigits(q []byte, i uint64) {
	for j := 14 + 9 - 1; j >= 14; j-- {
		q[j] = byte('0' + i%10)
		i /= 10
	}
}

// BenchmarkServeUDPCachedSocial: a granted client asks a cached platform
// name: decided and recorded on every query.
func BenchmarkServeUDPCachedSocial(b *testing.B) {
	f := startBenchFilter(b)
	q := packQuery(b, "facebook.com.")
	f.ask(b, bjones, "udp", "facebook.com.", dns.TypeA, true) // fill the cache
	serveUDP(b, f, bjones, q, nil)
}

// BenchmarkServeUDPCachedNotSocial: a cached name that is no platform:
// no decision, no record.
func BenchmarkServeUDPCachedNotSocial(b *testing.B) {
	f := startBenchFilter(b)
	q := packQuery(b, "example.org.")
	f.ask(b, bjones, "udp", "example.org.", dns.TypeA, true)
	serveUDP(b, f, bjones, q, nil)
}

// BenchmarkServeUDPUncached: every query is a new platform name, decided,
// forwarded to the upstream and recorded (what the lab's uncached figure
// sends).
func BenchmarkServeUDPUncached(b *testing.B) {
	f := startBenchFilter(b)
	serveUDP(b, f, bjones, packQuery(b, uniqueName), putDigits)
}

// discardWriter is a dns.ResponseWriter for the handler alone: it keeps
// the size of the last answer.
type discardWriter struct {
	remote net.Addr
	n      int
}

func (w *discardWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *discardWriter) RemoteAddr() net.Addr { return w.remote }
func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	w.n = len(b)
	return err
}
func (w *discardWriter) Write(b []byte) (int, error) { w.n = len(b); return len(b), nil }
func (w *discardWriter) Close() error                { return nil }
func (w *discardWriter) TsigStatus() error           { return nil }
func (w *discardWriter) TsigTimersOnly(bool)         {}
func (w *discardWriter) Hijack()                     {}

// BenchmarkHandler calls ServeDNS directly for cached names: the filter's
// own cost per query without the sockets.
func BenchmarkHandler(b *testing.B) {
	f := startBenchFilter(b)
	cases := []struct {
		name, client, qname string
	}{
		{"social-granted", bjones, "facebook.com."},
		{"social-blocked", tlee, "facebook.com."},
		{"not-social", bjones, "example.org."},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			f.ask(b, c.client, "udp", c.qname, dns.TypeA, true)
			r := new(dns.Msg)
			if err := r.Unpack(packQuery(b, c.qname)); err != nil {
				b.Fatal(err)
			}
			w := &discardWriter{remote: &net.UDPAddr{IP: net.ParseIP(c.client), Port: 5300}}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w.n = 0
				f.s.ServeDNS(w, r)
				if w.n == 0 {
					b.Fatal("no answer")
				}
			}
		})
	}
}

// BenchmarkLookupNetIP resolves one name ("ip": A and AAAA) as the proxy
// does for each new tunnel: from the filter's cache, and, for comparison,
// with the net.Resolver the proxy used before, asking the same upstream
// every time.
func BenchmarkLookupNetIP(b *testing.B) {
	up := startUpstream(b)
	f := startFilter(b, up, fixtureOpts{now: benchClock()})
	ctx := context.Background()
	b.Run("cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.s.LookupNetIP(ctx, "ip", "facebook.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net.Resolver", func(b *testing.B) {
		var d net.Dialer
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, up.addr)
		}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.LookupNetIP(ctx, "ip", "facebook.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
