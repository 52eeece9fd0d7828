package allowlist

// Mode is gateway.mode.
type Mode string

// Gateway modes.
const (
	ModeEnforce Mode = "enforce"
	ModeReport  Mode = "report"
)

// Config is the gateway file (smgate.toml). Paths in it are resolved
// relative to the file by LoadConfig.
type Config struct {
	Path     string         `toml:"-"` // the file it was read from
	Gateway  GatewayConfig  `toml:"gateway"`
	Proxy    ProxyConfig    `toml:"proxy"`
	DNS      DNSConfig      `toml:"dns"`
	Resolver ResolverConfig `toml:"resolver"`
	Admin    AdminConfig    `toml:"admin"`
	Logs     LogsConfig     `toml:"logs"`
	GeoIP    GeoIPConfig    `toml:"geoip"`
	Policy   PolicyConfig   `toml:"policy"`

	relative map[string]bool // keys whose path was written relative to Path
	lines    *lazyLines      // of the file at Path, for problems found later
}

// GatewayConfig is [gateway].
type GatewayConfig struct {
	Name     string `toml:"name"`     // in every log record; empty = host name
	Timezone string `toml:"timezone"` // IANA name for schedules and dates; empty = UTC
	DataDir  string `toml:"data_dir"` // suspensions, holds; empty = "./var"
	Mode     Mode   `toml:"mode"`     // enforce (default) or report
}

// ProxyConfig is [proxy].
type ProxyConfig struct {
	Listen             string          `toml:"listen"`              // explicit proxy; empty = disabled
	TransparentListen  string          `toml:"transparent_listen"`  // empty = disabled
	Auth               []string        `toml:"auth"`                // "basic", "ip"; in order
	UnverifiedAccounts string          `toml:"unverified_accounts"` // "allow" (default) or "block"
	AllowedPorts       []uint16        `toml:"allowed_ports"`       // default 80, 443
	DenyDestinations   []Prefix        `toml:"deny_destinations"`   // nil = loopback and link-local
	Intercept          InterceptConfig `toml:"intercept"`
	// MaxConns caps concurrent client connections; 0 = 10000.
	MaxConns int `toml:"max_conns"`
	// DialTimeout bounds an upstream dial; zero = 10s.
	DialTimeout Duration `toml:"dial_timeout"`
	// HeaderTimeout bounds reading a request header; zero = 10s.
	HeaderTimeout Duration `toml:"header_timeout"`
	// IdleTimeout closes idle keep-alive connections, and half-closed
	// tunnels whose open side is silent that long; zero = 120s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// LogNotSocial also logs requests to hosts that are not social media.
	LogNotSocial bool `toml:"log_not_social"`
}

// InterceptConfig is [proxy.intercept].
type InterceptConfig struct {
	Enabled   bool     `toml:"enabled"`
	CACert    string   `toml:"ca_cert"`
	CAKey     string   `toml:"ca_key"`
	Platforms []string `toml:"platforms"`
}

// DNSConfig is [dns].
type DNSConfig struct {
	Listen       string `toml:"listen"`        // empty = disabled
	BlockAnswer  string `toml:"block_answer"`  // "nxdomain" (default) or "sinkhole"
	SinkholeIPv4 string `toml:"sinkhole_ipv4"` // required for sinkhole A answers
	SinkholeIPv6 string `toml:"sinkhole_ipv6"`
	// CacheSize bounds the answer cache in entries; 0 = 100000.
	CacheSize int `toml:"cache_size"`
	// RateLimit is queries per second per client; 0 = unlimited.
	RateLimit int `toml:"rate_limit"`
	// LogNotSocial also logs queries for names that are not social media.
	LogNotSocial bool `toml:"log_not_social"`
}

// ResolverConfig is [resolver].
type ResolverConfig struct {
	Upstreams []string `toml:"upstreams"` // host:port; empty = system resolvers
	Timeout   Duration `toml:"timeout"`   // zero = 2s
}

// AdminConfig is [admin].
type AdminConfig struct {
	Listen    string `toml:"listen"`     // empty = disabled
	TokenFile string `toml:"token_file"` // bearer token for /api/
}

// LogsConfig is [logs].
type LogsConfig struct {
	Dir           string `toml:"dir"`            // empty = data_dir/logs
	RetentionDays int    `toml:"retention_days"` // 0 = 1095
	HMACKeyFile   string `toml:"hmac_key_file"`  // optional
	QueueSize     int    `toml:"queue_size"`     // 0 = 65536
}

// GeoIPConfig is [geoip].
type GeoIPConfig struct {
	CountryDB string `toml:"country_db"`
	ASNDB     string `toml:"asn_db"`
}

// PolicyConfig is [policy].
type PolicyConfig struct {
	Platforms string `toml:"platforms"` // empty = built-in catalogue
	Registry  string `toml:"registry"`
	Directory string `toml:"directory"`
}
