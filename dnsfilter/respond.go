package dnsfilter

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// render appends to b the answer a for q, aged by elapsed seconds: the
// packed bytes with the client's ID, RD and CD bits, AD only when the
// client asked for it (RFC 6840 5.8), the question in the client's case,
// TTLs decremented, and an OPT record when the client sent one. An answer
// larger than the client takes is cut to its question with TC set.
func render(b []byte, q *query, a *answer, elapsed uint32) []byte {
	b = append(b, a.wire...)
	binary.BigEndian.PutUint16(b, q.id)
	b[2] &^= flagRD | flagAA | flagTC
	if q.rd {
		b[2] |= flagRD
	}
	ad := b[3]&flagAD != 0 && (q.ad || q.key.do)
	b[3] &^= flagAD | flagCD
	if ad {
		b[3] |= flagAD
	}
	if q.key.cd {
		b[3] |= flagCD
	}
	if q.plain {
		patchName(b, q.name)
	}
	if elapsed > 0 {
		for _, t := range a.ttls {
			binary.BigEndian.PutUint32(b[t.off:], t.ttl-min(t.ttl, elapsed))
		}
	}
	opt := 0
	if q.edns {
		opt = 11
	}
	if len(b)+opt > q.limit {
		b = b[:a.qEnd]
		b[2] |= flagTC
		clear(b[6:headerLen])
	}
	if q.edns {
		b = appendOPT(b, q.key.do)
	}
	return b
}

// writeAnswer renders a for q and writes it.
func (s *Server) writeAnswer(w dns.ResponseWriter, q *query, a *answer, e *entry, now int64) {
	bp := s.bufs.Get().(*[]byte)
	b := render((*bp)[:0], q, a, e.age(now))
	if !q.plain {
		b = withName(b, q.name)
	}
	_, _ = w.Write(b)
	*bp = b[:0]
	s.bufs.Put(bp)
}

// withName returns b with its question name set to name: the slow path
// for names with escapes, whose wire bytes differ from their text.
func withName(b []byte, name string) []byte {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil || len(m.Question) != 1 {
		return b
	}
	m.Question[0].Name = name
	out, err := m.PackBuffer(b[len(b):cap(b)][:0])
	if err != nil {
		return b
	}
	return out
}

// age returns how many whole seconds e has been held at now.
func (e *entry) age(now int64) uint32 {
	if now <= e.stored {
		return 0
	}
	return uint32((now - e.stored) / 1e9)
}

// writeRcode answers r with rcode alone (FORMERR, NOTIMP, REFUSED,
// SERVFAIL, BADVERS), its question repeated when it has one.
func writeRcode(w dns.ResponseWriter, r *dns.Msg, q *query, rcode int) {
	m := new(dns.Msg)
	if r != nil {
		m.SetRcode(r, rcode)
	} else { // q was read from the wire: a QUERY with its one question
		m.Id, m.Response, m.Opcode, m.Rcode = q.id, true, dns.OpcodeQuery, rcode
		m.RecursionDesired, m.CheckingDisabled = q.rd, q.key.cd
		m.Question = []dns.Question{{Name: q.name, Qtype: q.key.qtype, Qclass: dns.ClassINET}}
	}
	m.RecursionAvailable = true
	if q.edns || rcode > 0xf {
		m.SetEdns0(EDNSBufferSize, q.key.do)
	}
	_ = w.WriteMsg(m)
}
