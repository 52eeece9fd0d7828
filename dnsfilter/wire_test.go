package dnsfilter

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

func TestLayout(t *testing.T) {
	m := new(dns.Msg).SetQuestion("www.facebook.com.", dns.TypeA)
	m.Response = true
	for _, s := range []string{
		"www.facebook.com. 300 IN CNAME star-mini.c10r.facebook.com.",
		"star-mini.c10r.facebook.com. 60 IN A 157.240.1.36",
	} {
		rr, _ := dns.NewRR(s)
		m.Answer = append(m.Answer, rr)
	}
	m.Ns = []dns.RR{soa("facebook.com.")}
	m.SetEdns0(EDNSBufferSize, true)
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	qEnd, ttls, err := layout(b)
	if err != nil {
		t.Fatal(err)
	}
	if qEnd != headerLen+len("www.facebook.com.")+1+4 {
		t.Errorf("qEnd %d", qEnd)
	}
	want := []uint32{300, 60, 300} // OPT skipped
	if len(ttls) != len(want) {
		t.Fatalf("ttls %v", ttls)
	}
	for i, f := range ttls {
		if f.ttl != want[i] || binary.BigEndian.Uint32(b[f.off:]) != want[i] {
			t.Errorf("ttl %d: %+v", i, f)
		}
	}
}

func TestRender(t *testing.T) {
	m := new(dns.Msg).SetQuestion("facebook.com.", dns.TypeA)
	rr, _ := dns.NewRR("facebook.com. 300 IN A 157.240.1.35")
	m.Answer = []dns.RR{rr}
	e, err := newEntry(m, "facebook.com.", dns.TypeA, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		q       query
		elapsed uint32
		check   func(t *testing.T, r *dns.Msg)
	}{
		{"case, ID, RD, TTL", query{id: 7, name: "FaCeBook.com.", plain: true, rd: true, limit: 512}, 100, func(t *testing.T, r *dns.Msg) {
			if r.Id != 7 || !r.RecursionDesired || r.Question[0].Name != "FaCeBook.com." || r.Answer[0].Header().Ttl != 200 || r.IsEdns0() != nil {
				t.Errorf("%v", r)
			}
		}},
		{"EDNS with DO", query{id: 8, name: "facebook.com.", plain: true, edns: true, key: cacheKey{do: true}, limit: 1232}, 0, func(t *testing.T, r *dns.Msg) {
			if o := r.IsEdns0(); o == nil || !o.Do() || o.UDPSize() != EDNSBufferSize || r.Answer[0].Header().Ttl != 300 {
				t.Errorf("%v", r)
			}
		}},
		{"past the TTL", query{id: 9, name: "facebook.com.", plain: true, limit: 512}, 400, func(t *testing.T, r *dns.Msg) {
			if r.Answer[0].Header().Ttl != 0 {
				t.Errorf("%v", r)
			}
		}},
		{"too large", query{id: 10, name: "facebook.com.", plain: true, edns: true, limit: 40}, 0, func(t *testing.T, r *dns.Msg) {
			if !r.Truncated || len(r.Answer) != 0 || r.IsEdns0() == nil {
				t.Errorf("%v", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := render(nil, &c.q, &e.plain, c.elapsed)
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatal(err)
			}
			c.check(t, r)
		})
	}
	if n := testing.AllocsPerRun(100, func() {
		q := query{id: 1, name: "FACEBOOK.com.", plain: true, limit: 512, edns: true}
		var buf [512]byte
		render(buf[:0], &q, &e.plain, 5)
	}); n != 0 {
		t.Errorf("render allocates %v times", n)
	}
}

// FuzzLayout: the wire walker never panics and its offsets are in range.
func FuzzLayout(f *testing.F) {
	m := new(dns.Msg).SetQuestion("facebook.com.", dns.TypeA)
	rr, _ := dns.NewRR("facebook.com. 300 IN A 157.240.1.35")
	m.Answer = []dns.RR{rr}
	m.SetEdns0(1232, false)
	b, _ := m.Pack()
	f.Add(b)
	f.Add(b[:20])
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c})
	f.Fuzz(func(t *testing.T, b []byte) {
		qEnd, ttls, err := layout(b)
		if err != nil {
			return
		}
		if qEnd > len(b) {
			t.Fatalf("qEnd %d past %d", qEnd, len(b))
		}
		for _, f := range ttls {
			if f.off+4 > len(b) {
				t.Fatalf("ttl at %d past %d", f.off, len(b))
			}
		}
	})
}
