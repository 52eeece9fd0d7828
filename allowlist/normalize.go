package allowlist

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadHost is returned by NormalizeHost for a host that is no valid DNS
// name or IP address.
var ErrBadHost = errors.New("invalid host")

// idnaProfile maps and validates names as a resolver lookup would (case
// folding, full-width dots, Punycode), without the STD3 restriction so that
// underscores (_dns.resolver.arpa) pass.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// NormalizeHost returns host in the form the catalogue is keyed by: lower
// case ASCII (IDNA), no trailing dot, no brackets; and, when host is an IP
// literal in any spelling (dotted, decimal, octal, hex, short, IPv6,
// IPv4-mapped IPv6), its canonical address with ip valid. It does not
// allocate for a host that is already canonical.
func NormalizeHost(host string) (name string, ip netip.Addr, err error) {
	if isCanonicalName(host) {
		return host, netip.Addr{}, nil
	}
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	} else {
		h = strings.TrimSuffix(h, ".")
	}
	if ip, ok := parseIPLiteral(h); ok {
		return ip.String(), ip, nil
	}
	if h == "" || len(h) > 253 {
		return "", netip.Addr{}, ErrBadHost
	}
	if !utf8.ValidString(h) {
		return "", netip.Addr{}, ErrBadHost
	}
	a, err := idnaProfile.ToASCII(h)
	if err != nil || !validName(a) {
		return "", netip.Addr{}, ErrBadHost
	}
	if strings.Contains(a, "xn--") { // the Punycode must itself be valid
		if b, err := idnaProfile.ToASCII(a); err != nil || b != a {
			return "", netip.Addr{}, ErrBadHost
		}
	}
	if ip, ok := parseIPLiteral(a); ok { // full-width digits map to an address
		return ip.String(), ip, nil
	}
	if numericLabel(a[strings.LastIndexByte(a, '.')+1:]) {
		return "", netip.Addr{}, ErrBadHost // ends in a number but is no address
	}
	return a, netip.Addr{}, nil
}

// isCanonicalName reports whether s is a lower-case ASCII DNS name whose
// last label is no number (as URL parsers read "0x7f" or "1" as IPv4), with
// no empty label and no Punycode label to check: such a name is its own
// normal form.
func isCanonicalName(s string) bool {
	if len(s) == 0 || len(s) > 253 || s[0] == '.' || s[0] == '-' {
		return false
	}
	last := 0
	prev := byte('.')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			if prev == '.' {
				return false
			}
		case c == '.':
			if prev == '.' || prev == '-' || i-last > 63 {
				return false
			}
			last = i + 1
		default:
			return false
		}
		prev = c
	}
	if prev == '.' || prev == '-' || len(s)-last > 63 || numericLabel(s[last:]) {
		return false
	}
	return !strings.Contains(s, "xn--")
}

// numericLabel reports whether a label would be read as a number by an
// IPv4 parser: decimal digits, or 0x and hex digits.
func numericLabel(l string) bool {
	if len(l) >= 2 && l[0] == '0' && l[1] == 'x' {
		l = l[2:]
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validName reports whether s, already ASCII, is a syntactically valid host.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parseIPLiteral parses IPv6 (unmapping IPv4-mapped addresses) and every
// IPv4 spelling that inet_aton accepts: 1 to 4 parts, each decimal, octal
// (leading 0) or hex (0x), the last part filling the remaining bytes
// ("127.1", "2130706433", "0x7f.1", "0177.0.0.01").
func parseIPLiteral(s string) (netip.Addr, bool) {
	if strings.IndexByte(s, ':') >= 0 {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return parseInetAton(s)
}

func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v [4]uint64
	for i, p := range parts {
		n, ok := parseAtonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		v[i] = n
	}
	last := len(parts) - 1
	for i := 0; i < last; i++ {
		if v[i] > 0xff {
			return netip.Addr{}, false
		}
	}
	if v[last] >= 1<<(8*uint(4-last)) {
		return netip.Addr{}, false
	}
	var n uint64
	for i := 0; i < last; i++ {
		n |= v[i] << (8 * uint(3-i))
	}
	n |= v[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseAtonPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	if p == "0x" || p == "0X" {
		return 0, true
	}
	base := 10
	switch {
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	for i := 0; i < len(p); i++ { // ParseUint would accept "+" and "_"
		c := p[i]
		if !(c >= '0' && c <= '9' || base == 16 && (c|0x20 >= 'a' && c|0x20 <= 'f')) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}
