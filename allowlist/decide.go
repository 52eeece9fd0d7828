package allowlist

import (
	"path"
	"strings"
	"time"
)

// Decide decides one request. It does no I/O and, for a host already in
// canonical form, no allocation. Every exit sets Allow and Reason together.
func (s *Snapshot) Decide(r *Request) Decision {
	d := Decision{Enforced: !s.report}
	host, ip, err := NormalizeHost(r.Host)
	if err != nil {
		d.Reason = ReasonPolicyUnavailable
		return d
	}
	d.Host = host
	if ip.IsValid() {
		return s.decideAddr(r, d)
	}
	e := s.lookup(host)
	if e == nil {
		return allow(d, ReasonAllowedNotSocial)
	}
	d.Social = true
	if e.bypass {
		return block(s.attribute(r, d), ReasonBypass)
	}
	d.Platform = e.platforms[0].id
	return s.decideSocial(r, e, d)
}

// decideAddr decides a request to an IP literal: as the platform the front
// door matched it to (recently resolved addresses, ASN), with
// blocked-bypass instead of blocked-no-grant.
func (s *Snapshot) decideAddr(r *Request, d Decision) Decision {
	p := s.platforms[r.AddrPlatform]
	if p == nil {
		p = s.asns[r.ASN]
	}
	if p == nil {
		return allow(d, ReasonAllowedNotSocial)
	}
	d.Social, d.Platform = true, p.id
	d = s.decideSocial(r, &domainEntry{platforms: []*platformInfo{p}}, d)
	if !d.Allow && d.Reason == ReasonNoGrant {
		d.Reason = ReasonBypass
	}
	return d
}

func allow(d Decision, r Reason) Decision {
	d.Allow, d.Reason = true, r
	return d
}

func block(d Decision, r Reason) Decision {
	d.Allow, d.Reason = false, r
	return d
}

// decideSocial decides a request for a platform host (e).
func (s *Snapshot) decideSocial(r *Request, e *domainEntry, d Decision) Decision {
	if allBanned(e.platforms) {
		return block(s.attribute(r, d), ReasonPlatformBanned)
	}
	if len(s.susp.platforms) > 0 && s.allSuspended(e.platforms) {
		return block(s.attribute(r, d), ReasonPlatformSuspended)
	}
	if r.Port != 0 && s.ports[r.Port/64]&(1<<(r.Port%64)) == 0 {
		return block(s.attribute(r, d), ReasonPort)
	}
	u, reason := s.identify(r)
	if u != nil {
		d.User, d.Agency, d.Roles = u.id, u.agency, u.roleIDs
	}
	if reason != "" {
		return block(d, reason)
	}
	if len(s.susp.agencies) > 0 && s.susp.agencies[u.agency] != nil {
		return block(d, ReasonAgencySuspended)
	}
	if !u.acknowledged {
		return block(d, ReasonNotAcknowledged)
	}
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	m := matcher{s: s, path: cleanPath(r.Path), action: r.Action, now: now, e: e}
	if !u.ackFrom.IsZero() && m.day().Before(u.ackFrom) {
		return block(d, ReasonNotAcknowledged) // an acknowledgement dated later counts from its day
	}
	return m.match(u, d)
}

func allBanned(ps []*platformInfo) bool {
	for _, p := range ps {
		if !p.banned {
			return false
		}
	}
	return true
}

func (s *Snapshot) allSuspended(ps []*platformInfo) bool {
	for _, p := range ps {
		if s.susp.platforms[p.id] == nil {
			return false
		}
	}
	return true
}

// attribute fills in the user of a request blocked before identity
// matters (a banned platform, a bypass service), when the request
// identifies one without doubt, so that monitoring staff find the attempt
// under the user and agency.
func (s *Snapshot) attribute(r *Request, d Decision) Decision {
	if u, reason := s.identify(r); u != nil && reason == "" {
		d.User, d.Agency, d.Roles = u.id, u.agency, u.roleIDs
	}
	return d
}

// identify returns the user a request is attributed to, or the reason it
// cannot be.
func (s *Snapshot) identify(r *Request) (*userInfo, Reason) {
	ip := r.ClientIP.Unmap()
	if r.User != "" && r.Source != SourceDNS {
		u := s.users[r.User]
		if u == nil {
			return nil, ReasonUnknownUser
		}
		if bound := s.byIP[ip]; bound != nil && bound != u {
			return u, ReasonIdentityMismatch
		}
		return u, ""
	}
	if s.authIP || r.Source == SourceDNS {
		if u := s.byIP[ip]; u != nil {
			return u, ""
		}
	}
	return nil, ReasonUnauthenticated
}

// Reason ranks of a grant that matched the platform or account but failed;
// the lowest rank found is reported.
var failRank = map[Reason]int{
	ReasonPlatformSuspended:     1,
	ReasonAccountSuspended:      2,
	ReasonAccountDecommissioned: 3,
	ReasonApprovalExpired:       4,
	ReasonOutsideSchedule:       5,
	ReasonActionNotGranted:      6,
	ReasonNoGrant:               7,
}

// matcher finds a grant of a user's roles for one request.
type matcher struct {
	s *Snapshot
	// path and action of the request, copied: a pointer to the Request
	// here would let escape analysis move every caller's Request to the
	// heap, since the Decision returned is built from the matcher.
	path   string
	action Action
	now    time.Time
	today  Date // computed on first use
	e      *domainEntry
	fail   Reason
}

func (m *matcher) failed(r Reason) {
	if m.fail == "" || failRank[r] < failRank[m.fail] {
		m.fail = r
	}
}

func (m *matcher) match(u *userInfo, d Decision) Decision {
	m.fail = ReasonNoGrant
	acct := m.pathAccount()
	if acct != nil {
		d.Account = acct.id
		if len(m.s.susp.accounts) > 0 && m.s.susp.accounts[acct.id] != nil {
			return block(d, ReasonAccountSuspended)
		}
	}
	for _, ro := range u.roles {
		if g, ok := m.role(ro, acct); ok {
			d.Role, d.Grant = ro.id, g.grantName
			if g.account != nil {
				d.Account = g.account.id
				if acct == nil {
					d.Account = UnverifiedAccount
				}
			}
			if len(m.e.platforms) > 1 {
				d.Platform = g.platform.id
			}
			return allow(d, ReasonAllowedGrant)
		}
	}
	return block(d, m.fail)
}

// cleanPath resolves the dot segments of the path part of p (before any
// '?' or '#'), as a server that normalises paths would: an account grant
// for /CTDCF must not reach /CTDCF/../zuck, which such a server serves as
// /zuck. The front doors pass the decoded path, so %2e%2e and %2F are
// resolved too. A path with nothing to resolve is returned as it is,
// without allocating.
func cleanPath(p string) string {
	if !strings.Contains(p, "/.") && !strings.Contains(p, "//") {
		return p
	}
	rest := ""
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p, rest = p[:i], p[i:]
	}
	if p == "" || p[0] != '/' {
		return p + rest
	}
	c := path.Clean(p)
	if c != "/" && strings.HasSuffix(p, "/") {
		c += "/"
	}
	return c + rest
}

// pathAccount returns the registry account named by the first path segment
// when the path is visible and the host is a platform's own domain.
func (m *matcher) pathAccount() *accountInfo {
	if m.path == "" || m.e.shared {
		return nil
	}
	seg := strings.TrimPrefix(m.path, "/")
	if i := strings.IndexAny(seg, "/?#"); i >= 0 {
		seg = seg[:i]
	}
	if seg == "" {
		return nil
	}
	h := m.e.platforms[0].handles
	if a := h[seg]; a != nil {
		return a
	}
	if strings.ToLower(seg) != seg {
		return h[strings.ToLower(seg)]
	}
	return nil
}

// pathHidden reports whether the request shows no account: no path (CONNECT
// without interception, DNS), the platform's root, or a shared CDN domain.
func (m *matcher) pathHidden() bool {
	return m.path == "" || m.e.shared || strings.TrimLeft(m.path, "/") == "" || m.path[0] == '?'
}

type grant struct {
	grantName string
	platform  *platformInfo
	account   *accountInfo
}

// role returns the grant of ro that lets the request through, if any.
func (m *matcher) role(ro *roleInfo, acct *accountInfo) (grant, bool) {
	for _, p := range ro.platforms {
		if m.onHost(p) && m.usable(ro, p) {
			return grant{p.grantName, p, nil}, true
		}
	}
	for _, a := range ro.accounts {
		if !m.onHost(a.platform) {
			continue
		}
		switch {
		case acct != nil && a != acct:
			continue
		case acct == nil && !m.pathHidden():
			continue // a page that is no approved account
		case acct == nil && !m.s.unverifiedAllow:
			continue
		}
		if m.accountUsable(a) && m.usable(ro, a.platform) {
			return grant{a.grantName, a.platform, a}, true
		}
	}
	return grant{}, false
}

// onHost reports whether p is a platform of the request's host.
func (m *matcher) onHost(p *platformInfo) bool {
	for _, q := range m.e.platforms {
		if q == p {
			return true
		}
	}
	return false
}

// usable reports whether ro's grant on p applies now to the request's
// action; otherwise it records why not.
func (m *matcher) usable(ro *roleInfo, p *platformInfo) bool {
	switch {
	case p.banned:
		m.failed(ReasonPlatformBanned)
	case len(m.s.susp.platforms) > 0 && m.s.susp.platforms[p.id] != nil:
		m.failed(ReasonPlatformSuspended)
	case ro.actions&actionBit(m.action) == 0:
		m.failed(ReasonActionNotGranted)
	case !ro.schedule.Contains(m.now, m.s.loc):
		m.failed(ReasonOutsideSchedule)
	default:
		return true
	}
	return false
}

// day returns the date of the request in the gateway's time zone.
func (m *matcher) day() Date {
	if m.today.IsZero() {
		m.today = DateOf(m.now.In(m.s.loc))
	}
	return m.today
}

// accountUsable reports whether approved account a may be used today.
func (m *matcher) accountUsable(a *accountInfo) bool {
	m.day()
	switch {
	case len(m.s.susp.accounts) > 0 && m.s.susp.accounts[a.id] != nil:
		m.failed(ReasonAccountSuspended)
	case a.decommissioned:
		m.failed(ReasonAccountDecommissioned)
	case m.today.Before(a.approved) || !m.today.Before(a.expires):
		m.failed(ReasonApprovalExpired)
	default:
		return true
	}
	return false
}
