package dnsfilter

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/logs"
)

// Defaults used when neither the Options nor the gateway config set a value.
const (
	DefaultCacheSize = 100000
	DefaultTimeout   = 2 * time.Second
	// EDNSBufferSize is the UDP payload size the filter advertises to
	// clients and upstreams (the DNS flag day 2020 value, which avoids IP
	// fragmentation).
	EDNSBufferSize = 1232
)

// Options configure a Server.
type Options struct {
	// Engine holds the policy in force; required. Its snapshot is loaded
	// once per query, and dns.* settings that can change on reload
	// (block_answer, sinkhole addresses, rate_limit, log_not_social) are
	// read from it per query.
	Engine *allowlist.Engine
	// Sink takes the usage records; required. When it is unhealthy or
	// refuses a record, social-media names get the block answer.
	Sink logs.Sink
	// Logger receives operational messages; the zero Logger discards them.
	Logger zerolog.Logger
	// Registerer takes the filter's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Addrs remembers the addresses answered for platform names; nil
	// remembers none.
	Addrs *addrmem.Memory
	// Now is the clock for TTLs, schedules and records; nil means time.Now.
	Now func() time.Time
	// Upstreams overrides resolver.upstreams (host:port); nil means the
	// config's, and the system resolvers of /etc/resolv.conf when those
	// are empty too.
	Upstreams []string
	// Timeout overrides resolver.timeout for one upstream exchange; zero
	// means the config's, and DefaultTimeout when that is zero too.
	Timeout time.Duration
	// CacheSize overrides dns.cache_size (entries); zero means the
	// config's, and DefaultCacheSize when that is zero too. Negative
	// disables the cache.
	CacheSize int
}

// ErrNoUpstream is returned by New when no upstream resolver is configured
// and none can be read from /etc/resolv.conf.
var ErrNoUpstream = errors.New("dnsfilter: no upstream resolver")

func (o *Options) withDefaults(cfg *allowlist.Config) (Options, error) {
	c := *o
	if c.Engine == nil || c.Sink == nil {
		return c, errors.New("dnsfilter: Engine and Sink are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Upstreams == nil {
		c.Upstreams = cfg.Resolver.Upstreams
	}
	if len(c.Upstreams) == 0 {
		c.Upstreams = systemResolvers("/etc/resolv.conf")
	}
	if len(c.Upstreams) == 0 {
		return c, ErrNoUpstream
	}
	if c.Timeout == 0 {
		c.Timeout = cfg.Resolver.Timeout.Duration
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.CacheSize == 0 {
		c.CacheSize = cfg.DNS.CacheSize
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c, nil
}
