package dnsfilter

import (
	"strings"

	"github.com/miekg/dns"
)

// scrub keeps in the upstream response m only what answers the question
// lname (lower case FQDN), and returns its alias chain (aliases). Anything
// else an upstream adds would reach the client, and the cache, without
// being decided: a platform's address under another owner name, an alias
// in the authority section. It keeps
//   - in the answer section, the records owned by a name on the chain, and
//     of the CNAME and DNAME records only those that make the chain (with
//     their signatures);
//   - in the authority section, what a negative answer or a delegation
//     holds: SOA and NS records and their DNSSEC proofs, never an address
//     or an alias;
//   - in the additional section, nothing: the filter writes its own OPT,
//     and none of its answers relies on additional records (clients ask
//     for an HTTPS target's addresses, and that name is decided then).
func scrub(m *dns.Msg, lname string) []string {
	names := aliases(m.Answer, lname)
	ans := m.Answer[:0]
	for _, rr := range m.Answer {
		if onChain(rr, names) {
			ans = append(ans, rr)
		}
	}
	clear(m.Answer[len(ans):])
	m.Answer = ans
	ns := m.Ns[:0]
	for _, rr := range m.Ns {
		t := rr.Header().Rrtype
		if s, ok := rr.(*dns.RRSIG); ok {
			t = s.TypeCovered
		}
		switch t {
		case dns.TypeSOA, dns.TypeNS, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeDS:
			ns = append(ns, rr)
		}
	}
	clear(m.Ns[len(ns):])
	m.Ns = ns
	m.Extra = nil
	return names
}

// onChain reports whether the answer record rr belongs to the alias chain
// names (lower case, the question name first).
func onChain(rr dns.RR, names []string) bool {
	owner := rr.Header().Name
	switch v := rr.(type) {
	case *dns.CNAME:
		for i := 0; i+1 < len(names); i++ {
			if strings.EqualFold(names[i], owner) && strings.EqualFold(names[i+1], v.Target) {
				return true
			}
		}
		return false
	case *dns.DNAME:
		for i := 0; i+1 < len(names); i++ {
			if dnameStep(names[i], names[i+1], v) {
				return true
			}
		}
		return false
	case *dns.RRSIG:
		if v.TypeCovered == dns.TypeDNAME {
			o := strings.ToLower(owner)
			for _, n := range names {
				if strings.HasSuffix(n, "."+o) {
					return true
				}
			}
			return false
		}
	}
	return indexOf(names, owner) >= 0
}

// dnameStep reports whether the DNAME d rewrites cur into next, as
// nextName follows it.
func dnameStep(cur, next string, d *dns.DNAME) bool {
	o := strings.ToLower(d.Hdr.Name)
	if len(cur) <= len(o) || !strings.HasSuffix(cur, "."+o) {
		return false
	}
	prefix := cur[:len(cur)-len(o)]
	return strings.HasPrefix(next, prefix) && strings.EqualFold(next[len(prefix):], d.Target)
}

// indexOf returns the index of name in names (lower case), compared
// without regard to case, or -1.
func indexOf(names []string, name string) int {
	for i, n := range names {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}
