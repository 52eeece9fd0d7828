package proxy

import (
	"context"
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
