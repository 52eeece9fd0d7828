package dnsfilter

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// LookupNetIP returns the addresses of host ("ip": A and AAAA, "ip4": A,
// "ip6": AAAA) from the filter's cache, asking its upstreams on a miss.
// It decides nothing: the caller does. The proxy resolves destination
// names with it when the filter runs, so that a tunnel to a name the cache
// holds costs no upstream query, identical lookups in flight are asked
// once, and the proxy and the filter see one answer for a name until its
// TTL runs out. Errors are *net.DNSError, as net.Resolver returns them.
func (s *Server) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var types []uint16
	switch network {
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	default:
		return nil, &net.DNSError{Err: "unsupported network " + network, Name: host}
	}
	name := dns.Fqdn(strings.ToLower(host))
	if _, ok := dns.IsDomainName(name); !ok || strings.HasPrefix(name, ".") {
		return nil, &net.DNSError{Err: "invalid domain name", Name: host, IsNotFound: true}
	}
	if name == "localhost." || strings.HasSuffix(name, ".localhost.") {
		return localhost(types), nil // RFC 6761 6.3, never asked upstream
	}
	if len(types) == 1 {
		addrs, err := s.lookupType(ctx, host, name, types[0])
		if err == nil && len(addrs) == 0 {
			err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return addrs, err
	}
	// Both families at once, as net.Resolver does: addresses from either
	// answer the lookup; it fails only when both fail.
	type result struct {
		addrs []netip.Addr
		err   error
	}
	six := make(chan result, 1)
	go func() {
		a, err := s.lookupType(ctx, host, name, dns.TypeAAAA)
		six <- result{a, err}
	}()
	addrs, err4 := s.lookupType(ctx, host, name, dns.TypeA)
	r6 := <-six
	addrs = append(addrs, r6.addrs...)
	if len(addrs) > 0 {
		return addrs, nil
	}
	for _, err := range []error{err4, r6.err} {
		if err != nil && !isNotFound(err) {
			return nil, err // a failure says more than "no such host"
		}
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// lookupType returns the addresses of one type for name (lower-case
// FQDN): nil and no error when the name exists without such records.
func (s *Server) lookupType(ctx context.Context, host, name string, qtype uint16) ([]netip.Addr, error) {
	q := query{key: cacheKey{name: name, qtype: qtype}}
	e := s.cached(&q, s.now().UnixNano())
	if e == nil {
		type result struct {
			e   *entry
			err error
		}
		done := make(chan result, 1)
		go func() {
			e, err := s.fetch(&q, s.now().UnixNano())
			done <- result{e, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				// An upstream that did not answer in time is a timeout,
				// as net.Resolver says it (the proxy answers 504).
				return nil, &net.DNSError{Err: r.err.Error(), Name: host, IsTemporary: true,
					IsTimeout: errors.Is(r.err, errTimeout), UnwrapErr: r.err}
			}
			e = r.e
		case <-ctx.Done():
			// The query goes on for whoever asks next; this caller gives up.
			err := ctx.Err()
			return nil, &net.DNSError{Err: err.Error(), Name: host,
				IsTimeout: errors.Is(err, context.DeadlineExceeded), UnwrapErr: err}
		}
	}
	switch e.rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	default:
		return nil, &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[e.rcode], Name: host,
			IsTemporary: e.rcode == dns.RcodeServerFailure}
	}
	addrs := make([]netip.Addr, 0, len(e.addrs))
	for _, a := range e.addrs {
		if a.addr.Is4() == (qtype == dns.TypeA) {
			addrs = append(addrs, a.addr)
		}
	}
	return addrs, nil
}

// localhost returns the loopback addresses of the types asked.
func localhost(types []uint16) []netip.Addr {
	var out []netip.Addr
	for _, t := range types {
		if t == dns.TypeA {
			out = append(out, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
		} else {
			out = append(out, netip.IPv6Loopback())
		}
	}
	return out
}

func isNotFound(err error) bool {
	de, ok := err.(*net.DNSError)
	return ok && de.IsNotFound
}
