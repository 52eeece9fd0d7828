package dnsfilter

import "github.com/miekg/dns"

// withoutECH returns a copy of m whose HTTPS and SVCB records carry no ech
// SvcParam (and no mention of it in mandatory), or nil when m has none:
// without ECH the TLS ClientHello keeps showing the server name that the
// gateway decided on.
func withoutECH(m *dns.Msg) *dns.Msg {
	if !anyECH(m.Answer) && !anyECH(m.Extra) {
		return nil
	}
	c := m.Copy()
	for _, sec := range [][]dns.RR{c.Answer, c.Extra} {
		for _, rr := range sec {
			if s := svcbOf(rr); s != nil {
				s.Value = stripECH(s.Value)
			}
		}
	}
	return c
}

func anyECH(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if s := svcbOf(rr); s != nil {
			for _, kv := range s.Value {
				if kv.Key() == dns.SVCB_ECHCONFIG {
					return true
				}
			}
		}
	}
	return false
}

func svcbOf(rr dns.RR) *dns.SVCB {
	switch v := rr.(type) {
	case *dns.SVCB:
		return v
	case *dns.HTTPS:
		return &v.SVCB
	}
	return nil
}

// stripECH removes ech from kvs and from its mandatory list (RFC 9460
// 8: a key listed as mandatory must be present).
func stripECH(kvs []dns.SVCBKeyValue) []dns.SVCBKeyValue {
	out := kvs[:0]
	for _, kv := range kvs {
		switch v := kv.(type) {
		case *dns.SVCBECHConfig:
			continue
		case *dns.SVCBMandatory:
			keys := v.Code[:0]
			for _, k := range v.Code {
				if k != dns.SVCB_ECHCONFIG {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 {
				continue
			}
			v.Code = keys
		}
		out = append(out, kv)
	}
	return out
}
