package dnsfilter

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Results of parse besides an rcode to answer with.
const (
	rcodeDrop = -1 // no answer at all
	rcodeOK   = -2 // a query to resolve
)

// query is what the filter reads from one request.
type query struct {
	id     uint16
	name   string // question name as the client wrote it (0x20 case kept)
	key    cacheKey
	host   string // hostOf(name): what the name is decided as
	plain  bool   // name has no escapes: case can be patched on the wire
	rd     bool
	ad     bool
	edns   bool
	limit  int // largest response the client takes
	client netip.Addr
}

// parse reads r, sent by w's client, into q. It returns rcodeOK when r is
// a query to resolve, otherwise the rcode to answer with, or rcodeDrop.
func (q *query) parse(w dns.ResponseWriter, r *dns.Msg) int {
	if r.Response {
		return rcodeDrop
	}
	q.id, q.rd, q.ad = r.Id, r.RecursionDesired, r.AuthenticatedData
	q.client, q.limit = clientOf(w)
	if opt := r.IsEdns0(); opt != nil {
		q.edns, q.key.do = true, opt.Do()
		if opt.Version() != 0 {
			return dns.RcodeBadVers
		}
		if q.limit < dns.MaxMsgSize {
			q.limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), EDNSBufferSize)
		}
	}
	if r.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented
	}
	if len(r.Question) != 1 {
		return dns.RcodeFormatError
	}
	qq := r.Question[0]
	if qq.Qclass != dns.ClassINET || refusedType(qq.Qtype) {
		return dns.RcodeRefused
	}
	q.name = qq.Name
	q.key.name = strings.ToLower(qq.Name)
	q.key.qtype = qq.Qtype
	q.key.cd = r.CheckingDisabled
	q.host, q.plain = hostOf(qq.Name)
	return rcodeOK
}

// parseWire reads a plain query from client straight from its wire
// bytes, without unpacking a dns.Msg (that took a third of what a cached
// query allocated): a QUERY with one question of class IN and a type the
// filter answers, nothing in the answer and authority sections, and at
// most an OPT record of version 0 without options. It reports false for
// anything else, which the full unpacking and parse then handle, errors
// included. FuzzParseWire checks that both read the same query.
func (q *query) parseWire(pkt []byte, client netip.Addr) bool {
	if len(pkt) < headerLen {
		return false
	}
	bits := binary.BigEndian.Uint16(pkt[2:])
	if bits&(1<<15) != 0 || (bits>>11)&0xf != dns.OpcodeQuery {
		return false
	}
	be := binary.BigEndian
	if be.Uint16(pkt[4:]) != 1 || be.Uint16(pkt[6:]) != 0 || be.Uint16(pkt[8:]) != 0 {
		return false
	}
	ar := be.Uint16(pkt[10:])
	if ar > 1 {
		return false
	}
	name, off, err := dns.UnpackDomainName(pkt, headerLen)
	if err != nil || off+4 > len(pkt) {
		return false
	}
	qtype, qclass := be.Uint16(pkt[off:]), be.Uint16(pkt[off+2:])
	if qclass != dns.ClassINET || refusedType(qtype) {
		return false
	}
	off += 4
	q.limit = dns.MinMsgSize
	if ar == 1 {
		// OPT: the root name, type, UDP size, extended rcode, version,
		// flags and an empty RDATA.
		if off+11 != len(pkt) || pkt[off] != 0 || be.Uint16(pkt[off+1:]) != dns.TypeOPT ||
			pkt[off+6] != 0 || be.Uint16(pkt[off+9:]) != 0 {
			return false
		}
		q.edns, q.key.do = true, be.Uint16(pkt[off+7:])&(1<<15) != 0
		q.limit = min(max(int(be.Uint16(pkt[off+3:])), dns.MinMsgSize), EDNSBufferSize)
	} else if off != len(pkt) {
		return false
	}
	q.id = be.Uint16(pkt)
	q.rd, q.ad, q.key.cd = bits&(1<<8) != 0, bits&(1<<5) != 0, bits&(1<<4) != 0
	q.client = client
	q.name = name
	q.key.name = strings.ToLower(name)
	q.key.qtype = qtype
	q.host, q.plain = hostOf(name)
	return true
}

// refusedType reports whether qtype is one the filter refuses: ANY (RFC
// 8482 lets a resolver decline it; REFUSED, as the issue asks and as a
// filter that cannot decide "every type" at once should), zone transfers
// and the meta types that are no question.
func refusedType(t uint16) bool {
	switch t {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB,
		dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone:
		return true
	}
	return false
}

// clientOf returns the client's address and the largest answer its
// transport takes without EDNS: 512 over UDP, 65535 over TCP.
func clientOf(w dns.ResponseWriter) (netip.Addr, int) {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), dns.MinMsgSize
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), dns.MaxMsgSize
	}
	return netip.Addr{}, dns.MinMsgSize
}

// acceptQuery is the server's first check on a header: answers are
// ignored, opcodes other than QUERY get NOTIMP (NOTIFY included: the
// filter is no secondary), and a count of questions other than one, or
// sections a query does not have, FORMERR.
func acceptQuery(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	if int(dh.Bits>>11)&0xf != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	if dh.Qdcount != 1 || dh.Ancount > 1 || dh.Nscount > 1 || dh.Arcount > 2 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}
