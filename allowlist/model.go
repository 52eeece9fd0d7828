package allowlist

// Platform is one [[platform]] of the catalogue (platforms.toml).
type Platform struct {
	ID       string   `toml:"id"`
	Name     string   `toml:"name"`
	Category string   `toml:"category"`
	Domains  []string `toml:"domains"`
	// SharedDomains are served for several platforms (Meta's CDNs): a host
	// under one is allowed when any platform that lists it is granted.
	SharedDomains []string `toml:"shared_domains"`
	ASNs          []uint32 `toml:"asns"`
	// Banned platforms are blocked for everyone; no grant overrides it.
	Banned bool `toml:"banned"`
}

// Catalogue is platforms.toml.
type Catalogue struct {
	// BypassDomains are names that take traffic past the gateway (public
	// DNS-over-HTTPS and DNS-over-TLS resolvers, relays); blocked for
	// everyone with blocked-bypass.
	BypassDomains []string   `toml:"bypass_domains"`
	Platforms     []Platform `toml:"platform"`
}

// Account is one [[account]] of the registry of approved agency accounts
// (registry.toml).
type Account struct {
	ID             string   `toml:"id"`
	Agency         string   `toml:"agency"`
	Platform       string   `toml:"platform"`
	Handle         string   `toml:"handle"` // first path segment on the platform
	Purpose        string   `toml:"purpose"`
	Administrators []string `toml:"administrators"`
	ApprovedBy     string   `toml:"approved_by"`
	ApprovedOn     Date     `toml:"approved_on"`
	ExpiresOn      Date     `toml:"expires_on"`
	Status         string   `toml:"status"` // "active" or "decommissioned"
}

// Registry is registry.toml.
type Registry struct {
	Accounts []Account `toml:"account"`
}

// Agency is one [[agency]] of the directory.
type Agency struct {
	ID   string `toml:"id"`
	Name string `toml:"name"`
}

// Role is one [[role]] of the directory: what a job duty grants.
type Role struct {
	ID        string   `toml:"id"`
	Agency    string   `toml:"agency"`
	Accounts  []string `toml:"accounts"`  // account-level grants
	Platforms []string `toml:"platforms"` // platform-level grants
	Actions   []Action `toml:"actions"`   // empty = view
	Schedule  string   `toml:"schedule"`  // empty = always, e.g. "Mon-Fri 07:00-19:00"
}

// User is one [[user]] of the directory.
type User struct {
	ID             string   `toml:"id"`
	Name           string   `toml:"name"`
	Agency         string   `toml:"agency"`
	Roles          []string `toml:"roles"`
	PasswordBcrypt string   `toml:"password_bcrypt"`
	IPs            []Addr   `toml:"ips"`
	AcknowledgedOn Date     `toml:"acknowledged_on"` // zero = not acknowledged
}

// Directory is directory.toml.
type Directory struct {
	Agencies []Agency `toml:"agency"`
	Roles    []Role   `toml:"role"`
	Users    []User   `toml:"user"`
}

// Policy is the three policy files as loaded and validated, before they
// are compiled into a Snapshot.
type Policy struct {
	Catalogue Catalogue
	Registry  Registry
	Directory Directory
}
