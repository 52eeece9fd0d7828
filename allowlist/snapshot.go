package allowlist

import (
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// Snapshot is one immutable policy: the gateway config, the compiled policy
// files and the suspensions in force. Decide reads it without locks; a
// reload or a suspension builds a new Snapshot and swaps it.
type Snapshot struct {
	cfg      *Config
	policy   *Policy
	gen      uint64
	loadedAt time.Time

	loc             *time.Location
	report          bool
	unverifiedAllow bool
	authBasic       bool
	authIP          bool
	ports           [1024]uint64 // bit set of allowed ports

	domains   map[string]*domainEntry
	platforms map[string]*platformInfo
	asns      map[uint32]*platformInfo
	accounts  map[string]*accountInfo
	users     map[string]*userInfo
	byIP      map[netip.Addr]*userInfo
	agencies  map[string]string // id → name
	susp      *suspensionSet
}

type platformInfo struct {
	id, name  string
	banned    bool
	grantName string                  // "platform:ID"
	handles   map[string]*accountInfo // by handle as written and lower-cased
}

type accountInfo struct {
	id, agency     string
	platform       *platformInfo
	approved       Date
	expires        Date
	decommissioned bool
	grantName      string // "account:ID"
}

type roleInfo struct {
	id, agency string
	platforms  []*platformInfo
	accounts   []*accountInfo
	actions    uint8 // bit set of actionBit
	schedule   *Schedule
}

type userInfo struct {
	id, name, agency string
	roles            []*roleInfo
	roleIDs          []string
	hash             []byte
	acknowledged     bool
	// ackFrom is acknowledged_on when it was not yet past on the day the
	// snapshot was compiled: the user is blocked before that day. Zero
	// for the acknowledgements already past, which no decision then
	// needs to compare with its date.
	ackFrom Date
}

type domainEntry struct {
	platforms []*platformInfo // one, or every platform sharing the domain
	shared    bool
	bypass    bool
}

var snapshotGen atomic.Uint64

func actionBit(a Action) uint8 {
	switch a {
	case "", ActionView:
		return 1
	case ActionPost:
		return 2
	case ActionUpload:
		return 4
	case ActionMessage:
		return 8
	}
	return 0
}

// compile builds a Snapshot from a validated config and policy.
func compile(cfg *Config, p *Policy, susp *suspensionSet, now time.Time) *Snapshot {
	s := &Snapshot{
		cfg: cfg, policy: p, gen: snapshotGen.Add(1), loadedAt: now,
		loc:             cfg.Location(),
		report:          cfg.Gateway.Mode == ModeReport,
		unverifiedAllow: cfg.Proxy.UnverifiedAccounts != "block",
		authBasic:       contains(cfg.Proxy.Auth, "basic"),
		authIP:          contains(cfg.Proxy.Auth, "ip"),
		susp:            susp,
	}
	if s.susp == nil {
		s.susp = &suspensionSet{}
	}
	for _, port := range cfg.Proxy.AllowedPorts {
		s.ports[port/64] |= 1 << (port % 64)
	}
	s.compileCatalogue(&p.Catalogue)
	s.compileRegistry(&p.Registry)
	s.compileDirectory(&p.Directory)
	return s
}

func (s *Snapshot) compileCatalogue(c *Catalogue) {
	s.domains = make(map[string]*domainEntry)
	s.platforms = make(map[string]*platformInfo, len(c.Platforms))
	s.asns = make(map[uint32]*platformInfo)
	for i := range c.Platforms {
		pl := &c.Platforms[i]
		pi := &platformInfo{id: pl.ID, name: pl.Name, banned: pl.Banned,
			grantName: "platform:" + pl.ID, handles: map[string]*accountInfo{}}
		s.platforms[pl.ID] = pi
		for _, d := range pl.Domains {
			s.domains[d] = &domainEntry{platforms: []*platformInfo{pi}}
		}
		for _, d := range pl.SharedDomains {
			e := s.domains[d]
			if e == nil {
				e = &domainEntry{shared: true}
				s.domains[d] = e
			}
			e.platforms = append(e.platforms, pi)
		}
		for _, asn := range pl.ASNs {
			s.asns[asn] = pi
		}
	}
	for _, d := range c.BypassDomains {
		s.domains[d] = &domainEntry{bypass: true}
	}
}

func (s *Snapshot) compileRegistry(r *Registry) {
	s.accounts = make(map[string]*accountInfo, len(r.Accounts))
	for i := range r.Accounts {
		a := &r.Accounts[i]
		ai := &accountInfo{id: a.ID, agency: a.Agency, platform: s.platforms[a.Platform],
			approved: a.ApprovedOn, expires: a.ExpiresOn,
			decommissioned: a.Status == "decommissioned", grantName: "account:" + a.ID}
		s.accounts[a.ID] = ai
		ai.platform.handles[a.Handle] = ai
		ai.platform.handles[strings.ToLower(a.Handle)] = ai
	}
}

func (s *Snapshot) compileDirectory(d *Directory) {
	compiledOn := DateOf(s.loadedAt.In(s.loc))
	s.agencies = make(map[string]string, len(d.Agencies))
	for _, a := range d.Agencies {
		s.agencies[a.ID] = a.Name
	}
	roles := make(map[string]*roleInfo, len(d.Roles))
	for i := range d.Roles {
		ro := &d.Roles[i]
		ri := &roleInfo{id: ro.ID, agency: ro.Agency}
		for _, id := range ro.Platforms {
			ri.platforms = append(ri.platforms, s.platforms[id])
		}
		for _, id := range ro.Accounts {
			ri.accounts = append(ri.accounts, s.accounts[id])
		}
		for _, a := range ro.Actions {
			ri.actions |= actionBit(a)
		}
		if len(ro.Actions) == 0 {
			ri.actions = actionBit(ActionView)
		}
		if ro.Schedule != "" {
			ri.schedule, _ = ParseSchedule(ro.Schedule) // validated
		}
		roles[ro.ID] = ri
	}
	s.users = make(map[string]*userInfo, len(d.Users))
	s.byIP = make(map[netip.Addr]*userInfo)
	for i := range d.Users {
		u := &d.Users[i]
		ui := &userInfo{id: u.ID, name: u.Name, agency: u.Agency, roleIDs: u.Roles,
			acknowledged: !u.AcknowledgedOn.IsZero()}
		if ui.acknowledged && !u.AcknowledgedOn.Before(compiledOn) {
			ui.ackFrom = u.AcknowledgedOn
		}
		if u.PasswordBcrypt != "" {
			ui.hash = []byte(u.PasswordBcrypt)
		}
		for _, id := range u.Roles {
			ui.roles = append(ui.roles, roles[id])
		}
		s.users[u.ID] = ui
		for _, ip := range u.IPs {
			s.byIP[ip.Addr] = ui
		}
	}
}

// withSuspensions returns a copy of s with another suspension set.
func (s *Snapshot) withSuspensions(susp *suspensionSet) *Snapshot {
	c := *s
	c.susp = susp
	c.gen = snapshotGen.Add(1)
	return &c
}

// Config returns the gateway configuration of the snapshot.
func (s *Snapshot) Config() *Config { return s.cfg }

// Policy returns the policy files the snapshot was compiled from. Callers
// must not modify it.
func (s *Snapshot) Policy() *Policy { return s.policy }

// Gen returns the snapshot's generation: it changes with every reload and
// every suspension, so caches keyed on policy can tell they are stale.
func (s *Snapshot) Gen() uint64 { return s.gen }

// LoadedAt returns when the policy files of the snapshot were loaded.
func (s *Snapshot) LoadedAt() time.Time { return s.loadedAt }

// PasswordHash returns the bcrypt hash of user, or nil when the user is
// unknown or has no password.
func (s *Snapshot) PasswordHash(user string) []byte {
	if u := s.users[user]; u != nil {
		return u.hash
	}
	return nil
}

// UserExists reports whether the directory has user.
func (s *Snapshot) UserExists(user string) bool { return s.users[user] != nil }

// AgencyName returns the name of agency id, or "" when unknown.
func (s *Snapshot) AgencyName(id string) string { return s.agencies[id] }

// PlatformName returns the display name of platform id, or id.
func (s *Snapshot) PlatformName(id string) string {
	if p := s.platforms[id]; p != nil {
		return p.name
	}
	return id
}

// PlatformOfASN returns the platform whose catalogue lists asn, or "".
func (s *Snapshot) PlatformOfASN(asn uint32) string {
	if p := s.asns[asn]; p != nil {
		return p.id
	}
	return ""
}

// Lookup returns the platform of a normalised host by longest suffix, with
// shared reporting a domain shared by several platforms (the first is
// returned) and bypass a bypass domain.
func (s *Snapshot) Lookup(host string) (platform string, shared, bypass bool) {
	e := s.lookup(host)
	switch {
	case e == nil:
		return "", false, false
	case e.bypass:
		return "", false, true
	}
	return e.platforms[0].id, e.shared, false
}

// lookup finds the longest suffix of host (on label boundaries) in the
// catalogue. It does not allocate.
func (s *Snapshot) lookup(host string) *domainEntry {
	for h := host; ; {
		if e, ok := s.domains[h]; ok {
			return e
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return nil
		}
		h = h[i+1:]
	}
}
