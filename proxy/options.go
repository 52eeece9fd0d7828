package proxy

import (
	"context"
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/logs"
)

// Resolver resolves destination names. *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Server. Engine and Sink are required.
type Options struct {
	// Engine holds the policy in force; the proxy loads one snapshot per
	// request and re-decides open tunnels on every swap.
	Engine *allowlist.Engine
	// Sink takes one record per social-media decision. When it is not
	// healthy, or Log fails, social-media requests are blocked with
	// blocked-policy-unavailable.
	Sink logs.Sink
	// Logger receives operational messages; the zero Logger discards them.
	Logger zerolog.Logger
	// Registerer takes the proxy's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Addrs is the memory of addresses resolved for platform names, shared
	// with the DNS filter; nil means a private one.
	Addrs *addrmem.Memory
	// Self lists every listener of this gateway (proxy, DNS, admin). The
	// proxy never connects to them; an unspecified address (0.0.0.0:3128)
	// stands for every local address on its port. The listeners given to
	// Serve are added.
	Self []netip.AddrPort
	// Now is the clock for decisions and records; nil means time.Now.
	Now func() time.Time
	// Resolver resolves destination names; nil means resolver.upstreams of
	// the configuration at New (the system resolvers when empty).
	Resolver Resolver
	// ASN returns the autonomous system of an address for IP-literal
	// destinations, 0 when unknown; nil means none.
	ASN func(netip.Addr) uint32
	// Country returns the ISO country code of an address for the
	// destination.geo field of records, "" when unknown; nil means none.
	Country func(netip.Addr) string
	// UpstreamTLS is the TLS configuration for https:// requests forwarded
	// in absolute form; nil means the system roots. Certificates are
	// always verified.
	UpstreamTLS *tls.Config
	// TunnelLifetime closes a CONNECT tunnel that has been open this long;
	// 0 means 23 hours. A tunnel's record is stamped when it opens and
	// written when it closes, and logs.Search reads one day past a period
	// for such late records: under a day, none is missed.
	TunnelLifetime time.Duration
}

// Defaults of the limits that the configuration does not set.
const (
	maxHeaderBytes   = 64 << 10
	maxIdlePerHost   = 256
	maxIdle          = 4096
	upstreamIdle     = 90 * time.Second
	defaultIdle      = 120 * time.Second // proxy.idle_timeout when unset
	tunnelLifetime   = 23 * time.Hour
	tlsHandshake     = 10 * time.Second
	rememberTTL      = 5 * time.Minute
	authCacheSize    = 10000
	maxRejecting     = 64 // connections being answered 503 at once
	rejectReadWindow = 200 * time.Millisecond
)
