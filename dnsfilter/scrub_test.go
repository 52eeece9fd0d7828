package dnsfilter

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// scrubScript answers names of no platform with records for other names
// beside them, in every section.
var scrubScript = map[string]scripted{
	"extra.example.org.": {
		answer: []string{"extra.example.org. 300 IN A 192.0.2.80"},
		extra:  []string{"facebook.com. 300 IN A 6.6.6.6"},
	},
	"other.example.org.": {answer: []string{"facebook.com. 300 IN A 6.6.6.6"}},
	"auth.example.org.": {
		answer: []string{"auth.example.org. 300 IN A 192.0.2.81"},
		ns:     []string{"auth.example.org. 300 IN CNAME www.facebook.com.", "www.facebook.com. 300 IN A 6.6.6.6"},
		extra:  []string{"www.facebook.com. 300 IN A 6.6.6.6"},
	},
	"side.example.org.": {answer: []string{
		"side.example.org. 300 IN CNAME Edge.Example.NET.",
		"side.example.org. 300 IN CNAME www.facebook.com.",
		"facebook.com. 300 IN A 6.6.6.6",
		"EDGE.example.net. 300 IN A 192.0.2.82",
	}},
	"x.dn.example.org.": {answer: []string{
		"dn.example.org. 300 IN DNAME example.net.",
		"x.dn.example.org. 300 IN CNAME x.example.net.",
		"x.example.net. 300 IN A 192.0.2.83",
		"dn.example.org. 300 IN A 6.6.6.6",
		"y.example.net. 300 IN A 6.6.6.6",
	}},
	"gone.example.org.": {rcode: dns.RcodeNameError, ns: []string{
		"example.org. 300 IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 30",
		"gone.example.org. 300 IN CNAME www.facebook.com.",
		"facebook.com. 300 IN A 6.6.6.6",
	}},
}

// sectionTypes returns the record types of r's answer, authority and
// additional (OPT left out) sections, as "A,A|SOA|".
func sectionTypes(r *dns.Msg) string {
	var secs []string
	for _, sec := range [][]dns.RR{r.Answer, r.Ns, r.Extra} {
		var types []string
		for _, rr := range sec {
			if rr.Header().Rrtype != dns.TypeOPT {
				types = append(types, dns.TypeToString[rr.Header().Rrtype])
			}
		}
		secs = append(secs, strings.Join(types, ","))
	}
	return strings.Join(secs, "|")
}

// TestRecordsOffTheChainDropped: a client gets, and the cache keeps, only
// the records that answer its question: those of the question name and
// its alias chain, an SOA for a negative answer; records for other names
// in any section, and aliases in the authority section, are dropped, so
// that no platform address reaches a client without a grant and none is
// learned for a platform.
func TestRecordsOffTheChainDropped(t *testing.T) {
	f := startFilter(t, nil, fixtureOpts{upstreams: []string{startScriptedUp(t, scrubScript)}})
	cases := []struct {
		name, qname string
		rcode       int
		sections    string
		addr        string
	}{
		{"address of another name in additional", "extra.example.org.", dns.RcodeSuccess, "A||", "192.0.2.80"},
		{"answer only for another name", "other.example.org.", dns.RcodeSuccess, "||", ""},
		{"alias and address in authority", "auth.example.org.", dns.RcodeSuccess, "A||", "192.0.2.81"},
		{"records beside a chain", "side.example.org.", dns.RcodeSuccess, "CNAME,A||", "192.0.2.82"},
		{"DNAME chain", "x.dn.example.org.", dns.RcodeSuccess, "DNAME,CNAME,A||", "192.0.2.83"},
		{"negative answer keeps its SOA alone", "gone.example.org.", dns.RcodeNameError, "|SOA|", ""},
	}
	for _, nw := range []string{"udp", "tcp"} { // from the upstream, then from the cache
		for _, c := range cases {
			t.Run(nw+"/"+c.name, func(t *testing.T) {
				r := f.ask(t, tlee, nw, c.qname, dns.TypeA, true)
				if r.Rcode != c.rcode || sectionTypes(r) != c.sections || firstAddr(r) != c.addr {
					t.Errorf("%s, sections %q, address %q; want %s, %q, %q\n%v", dns.RcodeToString[r.Rcode],
						sectionTypes(r), firstAddr(r), dns.RcodeToString[c.rcode], c.sections, c.addr, r)
				}
			})
		}
	}
	if recs := f.records(t); len(recs) != 0 {
		t.Errorf("records for names of no platform: %+v", recs)
	}
	if got := f.addrs.Platform(netip.MustParseAddr("6.6.6.6"), f.clock.Now()); got != "" {
		t.Errorf("6.6.6.6 learned as %q", got)
	}
	addrs, err := f.s.LookupNetIP(t.Context(), "ip4", "other.example.org")
	if err == nil || len(addrs) != 0 {
		t.Errorf("LookupNetIP: %v, %v", addrs, err)
	}
}
