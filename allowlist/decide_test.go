package allowlist

import (
	"strings"
	"testing"
	"time"
)

func TestDecideReasons(t *testing.T) {
	e := newTestEngine(t, nil)
	tests := []struct {
		name string
		req  Request
		want Reason
		// optional expectations
		platform, account, role, grant, user string
	}{
		{name: "platform grant by IP binding", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10},
			want: ReasonAllowedGrant, platform: "facebook", role: "dcf-investigations", grant: "platform:facebook", user: "bjones"},
		{name: "platform grant by basic auth", req: Request{User: "bjones", ClientIP: ip("192.0.2.9"), Host: "www.instagram.com", Port: 443, Time: monday10},
			want: ReasonAllowedGrant, platform: "instagram", user: "bjones"},
		{name: "account grant unverified without path", req: Request{User: "jsmith", ClientIP: ip("10.20.0.15"), Host: "facebook.com", Port: 443, Time: monday10},
			want: ReasonAllowedGrant, account: UnverifiedAccount, grant: "account:dcf-facebook"},
		{name: "account grant with path", req: Request{User: "jsmith", ClientIP: ip("10.20.0.15"), Host: "facebook.com", Port: 80, Path: "/CTDCF/posts", Action: ActionPost, Time: monday10},
			want: ReasonAllowedGrant, account: "dcf-facebook", grant: "account:dcf-facebook"},
		{name: "account handle case-insensitive", req: Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/ctdcf", Time: monday10},
			want: ReasonAllowedGrant, account: "dcf-facebook"},
		{name: "dot segments leave the account", req: Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/CTDCF/../zuck", Time: monday10},
			want: ReasonNoGrant, platform: "facebook"},
		{name: "decoded slash and dots leave the account", req: Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/ctdcf/./x/../../zuck/?a=/../CTDCF", Time: monday10},
			want: ReasonNoGrant, platform: "facebook"},
		{name: "dot segments into the account", req: Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/zuck/../CTDCF/posts", Time: monday10},
			want: ReasonAllowedGrant, account: "dcf-facebook"},
		{name: "platform grant sees account page", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Path: "/CTDCF", Time: monday10},
			want: ReasonAllowedGrant, account: "dcf-facebook", grant: "platform:facebook"},
		{name: "shared domain allowed through any sharing platform", req: Request{ClientIP: ip("10.20.0.16"), Host: "scontent.xx.fbcdn.net", Port: 443, Time: monday10},
			want: ReasonAllowedGrant, platform: "facebook"},
		{name: "not social", req: Request{Host: "example.com", Port: 443}, want: ReasonAllowedNotSocial},
		{name: "lookalike is not the platform", req: Request{Host: "notfacebook.com", Port: 443}, want: ReasonAllowedNotSocial},
		{name: "unknown IP literal is not social", req: Request{Host: "192.0.2.1", Port: 443}, want: ReasonAllowedNotSocial},
		{name: "unauthenticated", req: Request{ClientIP: ip("192.0.2.50"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonUnauthenticated, platform: "facebook"},
		{name: "unknown user", req: Request{User: "ghost", ClientIP: ip("192.0.2.50"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonUnknownUser},
		{name: "identity mismatch", req: Request{User: "jsmith", ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonIdentityMismatch, user: "jsmith"},
		{name: "identity mismatch IPv4-mapped", req: Request{User: "jsmith", ClientIP: ip("::ffff:10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonIdentityMismatch},
		{name: "no grant", req: Request{ClientIP: ip("10.30.0.5"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonNoGrant, user: "tlee"},
		{name: "no roles", req: Request{ClientIP: ip("10.20.0.18"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonNoGrant},
		{name: "account grant on a page that is no approved account", req: Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/someone.personal", Time: monday10}, want: ReasonNoGrant},
		{name: "another agency's account", req: Request{ClientIP: ip("10.20.0.15"), Host: "youtube.com", Path: "/CTDOT", Time: monday10}, want: ReasonNoGrant, account: "dot-youtube"},
		{name: "not acknowledged", req: Request{ClientIP: ip("10.20.0.17"), Host: "facebook.com", Port: 443, Time: monday10}, want: ReasonNotAcknowledged},
		{name: "approval expired", req: Request{ClientIP: ip("10.20.0.15"), Host: "x.com", Path: "/CTDCF", Time: monday10}, want: ReasonApprovalExpired, account: "dcf-x"},
		{name: "approval expired unverified", req: Request{ClientIP: ip("10.20.0.15"), Host: "twitter.com", Port: 443, Time: monday10}, want: ReasonApprovalExpired},
		{name: "approval not yet valid", req: Request{ClientIP: ip("10.30.0.5"), Host: "youtube.com", Path: "/CTDOT", Time: monday10.AddDate(0, -10, 0)}, want: ReasonApprovalExpired},
		{name: "decommissioned", req: Request{ClientIP: ip("10.20.0.15"), Host: "instagram.com", Path: "/ctdcf_old", Time: monday10}, want: ReasonAccountDecommissioned, account: "dcf-old"},
		{name: "outside schedule", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: sunday10}, want: ReasonOutsideSchedule},
		{name: "before overnight shift", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: saturday21}, want: ReasonOutsideSchedule},
		{name: "in overnight shift after midnight", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: sunday3am}, want: ReasonAllowedGrant},
		{name: "action not granted", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 80, Path: "/", Action: ActionPost, Time: monday10}, want: ReasonActionNotGranted},
		{name: "port", req: Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 8443, Time: monday10}, want: ReasonPort, user: "bjones"},
		{name: "bypass domain", req: Request{ClientIP: ip("10.20.0.16"), Host: "dns.google", Port: 443}, want: ReasonBypass, user: "bjones"},
		{name: "bypass subdomain", req: Request{Host: "chrome.cloudflare-dns.com", Port: 443}, want: ReasonBypass},
		{name: "IP literal of a platform without grant", req: Request{ClientIP: ip("10.30.0.5"), Host: "157.240.1.35", Port: 443, AddrPlatform: "facebook", Time: monday10}, want: ReasonBypass, platform: "facebook"},
		{name: "IP literal by ASN without grant", req: Request{ClientIP: ip("10.30.0.5"), Host: "0x9df00123", Port: 443, ASN: 32934, Time: monday10}, want: ReasonBypass, platform: "facebook"},
		{name: "IP literal of a granted platform", req: Request{ClientIP: ip("10.20.0.16"), Host: "157.240.1.35", Port: 443, AddrPlatform: "facebook", Time: monday10}, want: ReasonAllowedGrant},
		{name: "banned", req: Request{ClientIP: ip("10.20.0.16"), Host: "www.tiktok.com", Port: 443}, want: ReasonPlatformBanned, platform: "tiktok", user: "bjones"},
		{name: "banned even unauthenticated", req: Request{Host: "tiktok.com", Port: 443}, want: ReasonPlatformBanned},
		{name: "banned by a signed-in user", req: Request{User: "jsmith", ClientIP: ip("192.0.2.9"), Host: "tiktok.com", Port: 443}, want: ReasonPlatformBanned, user: "jsmith"},
		{name: "invalid host", req: Request{Host: "exa mple.com", Port: 443}, want: ReasonPolicyUnavailable},
		{name: "DNS uses the IP binding only", req: Request{User: "jsmith", ClientIP: ip("10.20.0.16"), Host: "facebook.com", Source: SourceDNS, Time: monday10}, want: ReasonAllowedGrant, user: "bjones"},
		{name: "IPv6 binding", req: Request{ClientIP: ip("2001:db8::5"), Host: "youtu.be", Port: 443, Time: monday10}, want: ReasonAllowedGrant, user: "tlee"},
	}
	snap := e.Snapshot()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := snap.Decide(&tc.req)
			if d.Reason != tc.want {
				t.Fatalf("Reason = %s, want %s (decision %+v)", d.Reason, tc.want, d)
			}
			if d.Allow != tc.want.Allowed() {
				t.Errorf("Allow = %v with reason %s", d.Allow, d.Reason)
			}
			if !d.Enforced {
				t.Errorf("Enforced = false in enforce mode")
			}
			for _, c := range []struct{ field, got, want string }{
				{"Platform", d.Platform, tc.platform}, {"Account", d.Account, tc.account},
				{"Role", d.Role, tc.role}, {"Grant", d.Grant, tc.grant}, {"User", d.User, tc.user},
			} {
				if c.want != "" && c.got != c.want {
					t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
				}
			}
		})
	}
}

func TestDecideSuspensions(t *testing.T) {
	tests := []struct {
		name  string
		scope Scope
		id    string
		req   Request
		want  Reason
	}{
		{"agency", ScopeAgency, "DCF", Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10}, ReasonAgencySuspended},
		{"platform", ScopePlatform, "instagram", Request{ClientIP: ip("10.20.0.16"), Host: "instagram.com", Port: 443, Time: monday10}, ReasonPlatformSuspended},
		{"account", ScopeAccount, "dcf-facebook", Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/CTDCF", Time: monday10}, ReasonAccountSuspended},
		{"account unverified", ScopeAccount, "dcf-facebook", Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Port: 443, Time: monday10}, ReasonAccountSuspended},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, nil)
			if d := e.Snapshot().Decide(&tc.req); !d.Allow {
				t.Fatalf("before suspension: %s", d.Reason)
			}
			if _, err := e.Suspend(tc.scope, tc.id, "compromised", "security-unit"); err != nil {
				t.Fatal(err)
			}
			if d := e.Snapshot().Decide(&tc.req); d.Allow || d.Reason != tc.want {
				t.Fatalf("after suspension: %+v, want %s", d, tc.want)
			}
			// A platform suspension leaves the other sharers of a CDN domain.
			if tc.scope == ScopePlatform {
				cdn := Request{ClientIP: ip("10.20.0.16"), Host: "fbcdn.net", Port: 443, Time: monday10}
				if d := e.Snapshot().Decide(&cdn); !d.Allow || d.Platform != "facebook" {
					t.Errorf("shared CDN after suspending one sharer: %+v", d)
				}
			}
			if _, err := e.Reinstate(tc.scope, tc.id, "security-unit"); err != nil {
				t.Fatal(err)
			}
			if d := e.Snapshot().Decide(&tc.req); !d.Allow {
				t.Fatalf("after reinstatement: %s", d.Reason)
			}
		})
	}
}

func TestDecideReportMode(t *testing.T) {
	cfg := strings.Replace(readTestdata(t, "smgate.toml"), `mode = "enforce"`, `mode = "report"`, 1)
	e := newTestEngine(t, map[string]string{"smgate.toml": cfg})
	d := e.Snapshot().Decide(&Request{ClientIP: ip("10.30.0.5"), Host: "facebook.com", Port: 443, Time: monday10})
	if d.Allow || d.Reason != ReasonNoGrant {
		t.Fatalf("report mode must still compute the decision: %+v", d)
	}
	if d.Enforced || !d.Pass() {
		t.Fatalf("report mode: Enforced = %v, Pass = %v; want not enforced and let through", d.Enforced, d.Pass())
	}
}

func TestDecideUnverifiedBlock(t *testing.T) {
	cfg := strings.Replace(readTestdata(t, "smgate.toml"), `unverified_accounts = "allow"`, `unverified_accounts = "block"`, 1)
	e := newTestEngine(t, map[string]string{"smgate.toml": cfg})
	s := e.Snapshot()
	if d := s.Decide(&Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Port: 443, Time: monday10}); d.Allow || d.Reason != ReasonNoGrant {
		t.Errorf("account grant without path and unverified_accounts=block: %+v", d)
	}
	if d := s.Decide(&Request{ClientIP: ip("10.20.0.15"), Host: "facebook.com", Path: "/CTDCF", Time: monday10}); !d.Allow {
		t.Errorf("account grant with path must still pass: %+v", d)
	}
	if d := s.Decide(&Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10}); !d.Allow {
		t.Errorf("platform grant is not affected: %+v", d)
	}
}

func TestDecideHostSpellings(t *testing.T) {
	e := newTestEngine(t, nil)
	s := e.Snapshot()
	for _, h := range []string{"FaceBook.COM", "facebook.com.", "M.Facebook.Com.", "ｆａｃｅｂｏｏｋ．ｃｏｍ"} {
		t.Run(h, func(t *testing.T) {
			d := s.Decide(&Request{ClientIP: ip("10.30.0.5"), Host: h, Port: 443, Time: monday10})
			if d.Platform != "facebook" || d.Reason != ReasonNoGrant {
				t.Fatalf("%q decided as %+v, want facebook/no-grant", h, d)
			}
		})
	}
	d := s.Decide(&Request{ClientIP: ip("10.30.0.5"), Host: "bücher.example", Port: 443, Time: monday10})
	if d.Platform != "buecher" || d.Host != "xn--bcher-kva.example" {
		t.Fatalf("IDNA host decided as %+v", d)
	}
}

func TestDecideDefaultsToNow(t *testing.T) {
	e := newTestEngine(t, nil)
	// tlee's grant has no schedule and is valid from 2026-03-01 to 2027-03-01.
	d := e.Snapshot().Decide(&Request{ClientIP: ip("10.30.0.5"), Host: "youtube.com", Port: 443})
	if d.Reason == "" {
		t.Fatalf("decision without time has no reason: %+v", d)
	}
}

// TestAcknowledgementDatedLater: an acknowledged_on after the day of the
// request counts from its day, in the gateway's time zone, as approved_on
// does; check warns about it.
func TestAcknowledgementDatedLater(t *testing.T) {
	dir := strings.Replace(readTestdata(t, "directory.toml"), "acknowledged_on = 2026-02-01", "acknowledged_on = 2026-11-24", 1)
	e := newTestEngine(t, map[string]string{"directory.toml": dir})
	for _, c := range []struct {
		at   time.Time
		want Reason
	}{
		{monday10, ReasonNotAcknowledged},
		{time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC), ReasonNotAcknowledged}, // still the 23rd in New York
		{time.Date(2026, 11, 24, 10, 0, 0, 0, nyc), ReasonAllowedGrant},
	} {
		d := e.Snapshot().Decide(&Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: c.at})
		if d.Reason != c.want {
			t.Errorf("at %s: %s, want %s", c.at, d.Reason, c.want)
		}
	}
	l, err := LoadAt(copyTestdata(t, map[string]string{"directory.toml": dir}), monday10)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(problemStrings(l.Warnings), "\n"), `user "bjones": acknowledged_on: 2026-11-24 is after today`) {
		t.Errorf("warnings %q", problemStrings(l.Warnings))
	}
}
