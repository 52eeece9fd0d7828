package proxy

import (
	"net/netip"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// verdict is what the proxy does with a decided request.
type verdict int

const (
	verdictForward   verdict = iota // go upstream
	verdictBlock                    // 403 block page
	verdictChallenge                // 407 with a Basic challenge
	verdictLimited                  // 429: too many failed sign-ins
)

// decide identifies the client of f and decides f.req (Host, Port, Path
// and Action already set) on snap. It sets f.d and f.record and returns
// what to do. Credentials are checked only for social-media hosts, the
// only ones whose decision depends on who asks.
func (s *Server) decide(f *flow, snap *allowlist.Snapshot, authz string) verdict {
	start := time.Now()
	defer func() { s.m.decision.Observe(time.Since(start).Seconds()) }()
	f.d = snap.Decide(&f.req)
	f.record = f.d.Social || snap.Config().Proxy.LogNotSocial
	if !f.d.Social {
		return verdictForward
	}
	v := verdictForward
	if authz != "" && basicEnabled(snap) {
		v = s.decideWithCredentials(f, snap, authz)
	}
	if err := s.sink.Healthy(); err != nil {
		s.log.Warn().Err(err).Str(fieldID, f.id).Msg("usage log unavailable: blocking social-media request")
		f.d = blockNow(f.d, allowlist.ReasonPolicyUnavailable)
		return verdictBlock
	}
	switch {
	case f.d.Pass():
		return verdictForward
	case v == verdictLimited:
		return verdictLimited
	case f.d.Reason == allowlist.ReasonUnauthenticated && basicEnabled(snap):
		return verdictChallenge
	}
	return verdictBlock
}

// decideWithCredentials decides f again as the user its Proxy-Authorization
// names, once verified. Failed credentials block the request as
// unauthenticated (a new challenge), unless it was blocked already for a
// reason that no identity changes.
func (s *Server) decideWithCredentials(f *flow, snap *allowlist.Snapshot, authz string) verdict {
	user, res, wait := s.auth.check(authz, snap, f.client, f.start)
	switch res {
	case authOK:
		f.req.User = user
		f.d = snap.Decide(&f.req)
		return verdictForward
	case authUnknownUser:
		s.authFailed(f, authCauseUnknownUser, user)
		f.req.User = user
		f.d = snap.Decide(&f.req)
		return verdictForward
	case authLimited:
		s.authFailed(f, authCauseLimited, user)
		f.retry = wait
	case authMalformed:
		s.authFailed(f, authCauseMalformed, "")
	default:
		s.authFailed(f, authCausePassword, user)
	}
	if !f.d.Allow && identityIrrelevant(f.d.Reason) {
		return verdictBlock // banned, wrong port, platform suspended: no identity helps
	}
	f.d = blockNow(f.d, allowlist.ReasonUnauthenticated)
	f.d.User, f.d.Agency, f.d.Roles, f.d.Role, f.d.Grant, f.d.Account = "", "", nil, "", "", ""
	if res == authLimited {
		return verdictLimited
	}
	return verdictForward
}

// identityIrrelevant reports whether a request blocked for r stays
// blocked whoever signs in. (blocked-bypass is not among them: an IP
// literal of a platform is allowed to a user whose role grants it.)
func identityIrrelevant(r allowlist.Reason) bool {
	switch r {
	case allowlist.ReasonPlatformBanned, allowlist.ReasonPlatformSuspended, allowlist.ReasonPort:
		return true
	}
	return false
}

// authFailed counts and logs a failed sign-in. The name tried is cut to
// maxLoggedName bytes: it is the client's, as long as the header allows
// (about 48 KiB, several times that once escaped), and every failure is
// logged, a rate-limited one too.
func (s *Server) authFailed(f *flow, cause, user string) {
	s.m.authFailures.WithLabelValues(cause).Inc()
	if len(user) > maxLoggedName {
		user = user[:maxLoggedName] + "..."
	}
	s.log.Warn().Str(fieldID, f.id).Str(fieldClient, f.client.String()).
		Str(fieldUser, user).Str(fieldCause, cause).Msg("proxy authentication failed")
}

// maxLoggedName bounds a user name tried, as the operational log shows
// it.
const maxLoggedName = 128

// blockNow returns d blocked for r. The gateway enforces
// blocked-policy-unavailable even in report mode: a request it cannot
// record does not go through.
func blockNow(d allowlist.Decision, r allowlist.Reason) allowlist.Decision {
	d.Allow, d.Reason = false, r
	if r == allowlist.ReasonPolicyUnavailable {
		d.Enforced = true
	}
	return d
}

func basicEnabled(snap *allowlist.Snapshot) bool {
	for _, a := range snap.Config().Proxy.Auth {
		if a == "basic" {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the peer of r.
func clientAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Operational log field names.
const (
	fieldID     = "request_id"
	fieldClient = "client"
	fieldUser   = "user"
	fieldCause  = "cause"
	fieldHost   = "host"
	fieldReason = "reason"
	fieldDest   = "dest"
)
