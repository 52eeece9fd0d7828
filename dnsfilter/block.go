package dnsfilter

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
)

// blockTTL is the TTL of block answers and of their SOA's negative TTL:
// short, so that a grant that starts (a schedule, a lifted suspension)
// reaches clients within a minute.
const blockTTL = 60

// Block answer modes (dns.block_answer).
const (
	BlockNXDOMAIN = "nxdomain"
	BlockSinkhole = "sinkhole"
)

// writeBlock answers q as blocked for reason: NXDOMAIN with an SOA, or in
// sinkhole mode the sinkhole address for A and AAAA and NODATA with an SOA
// for every other type (so that no type of a blocked name says more than
// another). With EDNS, the Extended DNS Error "Blocked" (RFC 8914, code
// 15) carries the reason code, as CoreDNS acl does.
func writeBlock(w dns.ResponseWriter, q *query, cfg *allowlist.DNSConfig, reason allowlist.Reason) {
	m := reply(q)
	if cfg.BlockAnswer == BlockSinkhole {
		sinkhole(m, q, cfg)
	} else {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{blockSOA(q.name)}
	}
	if q.edns {
		opt := optRR(q)
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeBlocked, ExtraText: string(reason)})
		m.Extra = append(m.Extra, opt)
	}
	_ = w.WriteMsg(m)
}

// reply returns an empty answer to q.
func reply(q *query) *dns.Msg {
	m := new(dns.Msg)
	m.Id = q.id
	m.Response = true
	m.RecursionDesired = q.rd
	m.RecursionAvailable = true
	m.CheckingDisabled = q.key.cd
	m.Question = []dns.Question{{Name: q.name, Qtype: q.key.qtype, Qclass: dns.ClassINET}}
	return m
}

func optRR(q *query) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(EDNSBufferSize)
	o.SetDo(q.key.do)
	return o
}

func sinkhole(m *dns.Msg, q *query, cfg *allowlist.DNSConfig) {
	hdr := dns.RR_Header{Name: q.name, Rrtype: q.key.qtype, Class: dns.ClassINET, Ttl: blockTTL}
	switch q.key.qtype {
	case dns.TypeA:
		if a, err := netip.ParseAddr(cfg.SinkholeIPv4); err == nil && a.Is4() {
			m.Answer = []dns.RR{&dns.A{Hdr: hdr, A: a.AsSlice()}}
			return
		}
	case dns.TypeAAAA:
		if a, err := netip.ParseAddr(cfg.SinkholeIPv6); err == nil && a.Is6() {
			m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}}
			return
		}
	}
	m.Ns = []dns.RR{blockSOA(q.name)}
}

// blockSOA is the SOA of a block answer: a negative TTL of blockTTL.
func blockSOA(name string) *dns.SOA {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: blockTTL},
		Ns:  "smgate.invalid.", Mbox: "hostmaster.smgate.invalid.",
		Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: blockTTL,
	}
}

// isCanary reports whether host is a canary name, whose NXDOMAIN makes
// clients keep to the gateway's resolver: Firefox's DNS-over-HTTPS canary,
// iCloud Private Relay, and the discovery of designated resolvers (DDR,
// RFC 9462).
func isCanary(host string) bool {
	switch host {
	case "use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com", "_dns.resolver.arpa":
		return true
	}
	return false
}

// writeBlockNX answers q with NXDOMAIN whatever dns.block_answer says:
// for canary names, whose meaning is NXDOMAIN.
func writeBlockNX(w dns.ResponseWriter, q *query, reason allowlist.Reason) {
	writeBlock(w, q, &allowlist.DNSConfig{BlockAnswer: BlockNXDOMAIN}, reason)
}
