package dnsfilter

import (
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
)

// Cache bounds.
const (
	// maxCachedWire bounds one cached answer, so that CacheSize entries
	// bound the cache's memory; larger answers are answered, not kept.
	maxCachedWire = 8 << 10
	// maxTTL caps how long an answer is kept, whatever its TTLs.
	maxTTL = 24 * 60 * 60
	// maxChain bounds how many CNAME or DNAME steps are followed.
	maxChain = 16
)

// answer is an upstream response packed once: ID 0, RD and CD clear, no
// OPT, the question name in lower case. Rendering it for a client copies
// the bytes and patches ID, flags, name case and TTLs.
type answer struct {
	wire []byte
	qEnd int        // offset after the question
	ttls []ttlField // every record's TTL, OPT excluded
}

type addrTTL struct {
	addr netip.Addr
	ttl  uint32
	at   uint8 // index in entry.path of the record's owner
}

// entry is one upstream answer for a (name, type, DO, CD) key: what the
// cache holds. It holds no decision: the chain of names it leads to is
// decided for each client.
type entry struct {
	rcode int
	plain answer
	// noECH is plain with the ech SvcParam removed from HTTPS and SVCB
	// records; nil when there is none to remove.
	noECH *answer
	// chain holds the hosts (as hostOf returns them) that the answer leads
	// to, the question's own host excepted: its CNAME and DNAME chain from
	// the question name in order, then every other CNAME, DNAME, HTTPS and
	// SVCB target. Every social-media host among them is decided.
	chain []string
	// path holds the hosts of the alias chain: path[0] is the question's
	// host, path[i] the host path[i-1] is an alias for.
	path    []string
	addrs   []addrTTL // A and AAAA records of the answer section
	stored  int64     // unix nanoseconds
	expires int64     // unix nanoseconds; not after stored when not cacheable
	ref     atomic.Bool
	// gen is the snapshot generation the addresses were last remembered
	// for in the address memory.
	gen atomic.Uint64
}

// newEntry packs the upstream response m to the question (lname, qtype)
// received at now (unix nanoseconds). m is modified.
func newEntry(m *dns.Msg, lname string, qtype uint16, now int64) (*entry, error) {
	names := normalize(m, lname, qtype)
	e := &entry{rcode: m.Rcode, stored: now, addrs: addrsOf(m, names)}
	e.path, e.chain = chainOf(m, names)
	if err := e.plain.pack(m); err != nil {
		return nil, err
	}
	if c := withoutECH(m); c != nil {
		e.noECH = new(answer)
		if err := e.noECH.pack(c); err != nil {
			return nil, err
		}
	}
	ttl := cacheTTL(m)
	if len(e.plain.wire) <= maxCachedWire {
		e.expires = now + int64(ttl)*1e9
	}
	return e, nil
}

// cacheable reports whether e may be kept in the cache.
func (e *entry) cacheable() bool { return e.expires > e.stored }

func (a *answer) pack(m *dns.Msg) error {
	w, err := m.Pack()
	if err != nil {
		return err
	}
	q, ttls, err := layout(w)
	if err != nil {
		return err
	}
	a.wire, a.qEnd, a.ttls = w, q, ttls
	return nil
}

// normalize turns an upstream response into the form the cache keeps,
// scrubbed, and returns the question's alias chain.
func normalize(m *dns.Msg, lname string, qtype uint16) []string {
	m.Id = 0
	m.Response = true
	m.Opcode = dns.OpcodeQuery
	m.Authoritative = false
	m.Truncated = false
	m.RecursionDesired = false
	m.RecursionAvailable = true
	m.CheckingDisabled = false
	m.Zero = false
	m.Compress = true
	m.Question = []dns.Question{{Name: lname, Qtype: qtype, Qclass: dns.ClassINET}}
	names := scrub(m, lname)
	if m.Rcode == dns.RcodeNameError || len(m.Answer) == 0 {
		for _, rr := range m.Ns { // the negative TTL, as RFC 2308 5 serves it
			if s, ok := rr.(*dns.SOA); ok {
				s.Hdr.Ttl = min(s.Hdr.Ttl, s.Minttl)
			}
		}
	}
	return names
}

// cacheTTL returns how long m may be kept, in seconds: the least TTL of
// its records, with an SOA counting as min(TTL, MINIMUM) (RFC 2308); a
// negative answer without an SOA is not kept.
func cacheTTL(m *dns.Msg) uint32 {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return 0
	}
	negative := m.Rcode == dns.RcodeNameError || len(m.Answer) == 0
	ttl, soa := uint32(maxTTL), false
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			t := rr.Header().Ttl
			if s, ok := rr.(*dns.SOA); ok {
				soa = true
				t = min(t, s.Minttl)
			}
			ttl = min(ttl, t)
		}
	}
	if negative && !soa {
		return 0
	}
	return ttl
}

// aliases returns the alias chain of qname (lower case FQDN) in ans:
// qname, then each name the one before is an alias for, lower case.
func aliases(ans []dns.RR, qname string) []string {
	names := []string{qname}
	for cur := qname; len(names) <= maxChain; {
		next := nextName(ans, cur)
		if next == "" {
			break
		}
		cur = strings.ToLower(next)
		names = append(names, cur)
	}
	return names
}

// chainOf returns the hosts of the alias chain names of m, and the hosts
// that m leads to besides the question's own (entry.chain).
func chainOf(m *dns.Msg, names []string) (path, chain []string) {
	path = make([]string, len(names))
	for i, n := range names {
		path[i], _ = hostOf(n)
	}
	for _, n := range names[1:] {
		chain = appendHost(chain, n)
	}
	for _, rr := range m.Answer {
		chain = appendHost(chain, targetOf(rr))
	}
	if i := slices.Index(chain, path[0]); i >= 0 { // decided as the question
		chain = slices.Delete(chain, i, i+1)
	}
	return path, chain
}

// platformAt returns the platform of the last host of e.path, up to its
// i-th, that belongs to one, or "".
func (e *entry) platformAt(snap *allowlist.Snapshot, i int) string {
	for i = min(i, len(e.path)-1); i >= 0; i-- {
		if platform, _, _ := snap.Lookup(e.path[i]); platform != "" {
			return platform
		}
	}
	return ""
}

// nextName returns the name that cur is an alias for in ans, or "".
func nextName(ans []dns.RR, cur string) string {
	for _, rr := range ans {
		switch v := rr.(type) {
		case *dns.CNAME:
			if strings.EqualFold(v.Hdr.Name, cur) {
				return v.Target
			}
		case *dns.DNAME:
			owner := strings.ToLower(v.Hdr.Name)
			if len(cur) > len(owner) && strings.HasSuffix(cur, "."+owner) {
				return cur[:len(cur)-len(owner)] + v.Target
			}
		}
	}
	return ""
}

// targetOf returns the name rr points to, or "".
func targetOf(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.CNAME:
		return v.Target
	case *dns.DNAME:
		return v.Target
	case *dns.SVCB:
		return v.Target
	case *dns.HTTPS:
		return v.Target
	}
	return ""
}

func appendHost(out []string, name string) []string {
	h, _ := hostOf(name)
	if h == "" {
		return out
	}
	for _, o := range out {
		if o == h {
			return out
		}
	}
	return append(out, h)
}

// addrsOf returns the addresses of m's answer section, each with the
// index in names (its alias chain) of its owner. scrub left no address
// off the chain; one would count as owned by the chain's last name.
func addrsOf(m *dns.Msg, names []string) []addrTTL {
	var out []addrTTL
	add := func(rr dns.RR, ip []byte) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			at := indexOf(names, rr.Header().Name)
			if at < 0 {
				at = len(names) - 1
			}
			out = append(out, addrTTL{addr: a.Unmap(), ttl: rr.Header().Ttl, at: uint8(at)})
		}
	}
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			add(rr, v.A)
		case *dns.AAAA:
			add(rr, v.AAAA)
		case *dns.HTTPS:
			hintAddrs(rr, v.Value, add)
		case *dns.SVCB:
			hintAddrs(rr, v.Value, add)
		}
	}
	return out
}

// hintAddrs passes the ipv4hint and ipv6hint addresses of an HTTPS or SVCB
// record to add: a browser may connect to them without asking for A or
// AAAA, so they are the platform's addresses as much as those are.
func hintAddrs(rr dns.RR, kvs []dns.SVCBKeyValue, add func(dns.RR, []byte)) {
	for _, kv := range kvs {
		switch h := kv.(type) {
		case *dns.SVCBIPv4Hint:
			for _, ip := range h.Hint {
				add(rr, ip.To4())
			}
		case *dns.SVCBIPv6Hint:
			for _, ip := range h.Hint {
				add(rr, ip)
			}
		}
	}
}
