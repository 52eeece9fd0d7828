package main

import (
	"fmt"
	"net/netip"

	"github.com/smgate/smgate/allowlist"
)

// validate returns what serve refuses to start with in cfg (errs) and what
// it accepts but an operator should fix (warns), beyond what
// allowlist.Load checks: features this build does not have (unbuilt) and
// the files cfg names besides the policy (checkFiles). check and serve's
// preflight both call it, so that check passes exactly the gateway files
// that serve starts with, with the same messages.
func validate(cfg *allowlist.Config) (errs, warns allowlist.Problems) {
	errs = unbuilt(cfg)
	ferrs, warns := checkFiles(cfg)
	return append(errs, ferrs...), append(warns, risky(cfg)...)
}

// risky returns a warning for each proxy setting that serve runs with
// but that an operator is unlikely to mean: no port allowed for social
// media, or a deny list that lets clients reach the gateway host's other
// services or a cloud metadata address.
func risky(cfg *allowlist.Config) allowlist.Problems {
	if cfg.Proxy.Listen == "" {
		return nil
	}
	var warns allowlist.Problems
	warn := func(key, msg string) {
		warns = append(warns, &allowlist.Problem{File: cfg.Path, Line: cfg.Line(key), Key: key, Msg: msg})
	}
	if len(cfg.Proxy.AllowedPorts) == 0 {
		warn("proxy.allowed_ports", "is empty: every social-media request through the proxy is blocked with blocked-port")
	}
	if cfg.Proxy.DenyDestinations == nil {
		return warns // not set: the default list, which covers them all
	}
	denied := func(a string) bool {
		ip := netip.MustParseAddr(a)
		for _, p := range cfg.Proxy.DenyDestinations {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ addr, what string }{
		{"127.0.0.1", "loopback (127.0.0.0/8): clients can reach services of the gateway host through the proxy (its own listeners stay refused)"},
		{"::1", "IPv6 loopback (::1): clients can reach services of the gateway host through the proxy (its own listeners stay refused)"},
		{"169.254.169.254", "link-local (169.254.0.0/16): clients can reach a cloud metadata service through the proxy"},
	} {
		if !denied(c.addr) {
			warn("proxy.deny_destinations", "does not cover "+c.what)
		}
	}
	return warns
}

// unbuilt returns a problem for each feature that cfg asks for and this
// build does not have.
func unbuilt(cfg *allowlist.Config) allowlist.Problems {
	var errs allowlist.Problems
	if v := cfg.Proxy.TransparentListen; v != "" {
		// An open port that nobody serves would hang every client sent to
		// it; refuse to start instead.
		errs = append(errs, &allowlist.Problem{File: cfg.Path, Line: cfg.Line("proxy.transparent_listen"), Key: "proxy.transparent_listen",
			Msg: fmt.Sprintf("is set to %q, but this build has no transparent mode; leave it empty", v)})
	}
	if cfg.Proxy.Intercept.Enabled {
		// Account-level rules would silently fall back to platform level;
		// an operator who asked for interception must know it is not there.
		errs = append(errs, &allowlist.Problem{File: cfg.Path, Line: cfg.Line("proxy.intercept.enabled"), Key: "proxy.intercept.enabled",
			Msg: "is true, but this build has no TLS interception; set it to false (account grants are then applied at platform level, see proxy.unverified_accounts)"})
	}
	return errs
}
