package main

import (
	"fmt"

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
	return append(errs, ferrs...), warns
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
