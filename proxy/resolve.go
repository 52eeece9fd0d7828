package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// newResolver returns a resolver that asks the configured upstreams in
// turn, or the system resolvers when there are none. It never follows
// HTTP(S)_PROXY and never asks a resolver the client named.
func newResolver(cfg allowlist.ResolverConfig) Resolver {
	if len(cfg.Upstreams) == 0 {
		return net.DefaultResolver
	}
	ups := append([]string(nil), cfg.Upstreams...)
	var next atomic.Uint32
	d := net.Dialer{Timeout: cfg.Timeout.Duration}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			up := ups[int(next.Add(1)-1)%len(ups)]
			return d.DialContext(ctx, network, up)
		},
	}
}

// WithFallback returns a Resolver that asks r first and, when r finds no
// such name, Go's resolver for cfg (resolver.upstreams, or the system's
// when empty), which also reads the hosts file and applies resolv.conf's
// search list. smgate serve gives the proxy the DNS filter's cache this
// way: names the agency resolvers know come from the cache, and a short
// intranet name or a name only the gateway's hosts file has still
// resolves as it did before the proxy shared that cache.
func WithFallback(r Resolver, cfg allowlist.ResolverConfig) Resolver {
	return &fallbackResolver{first: r, then: newResolver(cfg)}
}

type fallbackResolver struct{ first, then Resolver }

func (f *fallbackResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := f.first.LookupNetIP(ctx, network, host)
	if de, ok := errors.AsType[*net.DNSError](err); ok && de.IsNotFound {
		return f.then.LookupNetIP(ctx, network, host)
	}
	return addrs, err
}

// resolve returns the addresses of a normalised name (or ip itself when
// valid), remembering those of platform names for IP-literal requests.
func (s *Server) resolve(ctx context.Context, snap *allowlist.Snapshot, name string, ip netip.Addr) ([]netip.Addr, error) {
	if ip.IsValid() {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.resolveTimeout)
	defer cancel()
	addrs, err := s.resolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, err
	}
	if platform, _, _ := snap.Lookup(name); platform != "" {
		now := s.now()
		for _, a := range addrs {
			s.addrs.Remember(a, platform, rememberTTL, now)
		}
	}
	return addrs, nil
}

// addrPlatform fills in what the gateway knows of an IP-literal host: the
// platform whose name recently resolved to it and its ASN.
func (s *Server) addrPlatform(r *allowlist.Request, ip netip.Addr, now time.Time) {
	if !ip.IsValid() {
		return
	}
	r.AddrPlatform = s.addrs.Platform(ip, now)
	if s.asn != nil {
		r.ASN = s.asn(ip.Unmap())
	}
}
