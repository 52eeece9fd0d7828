package proxy

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// wireCase is one request sent to the proxy as raw bytes.
type wireCase struct {
	name       string
	user, pass string // Proxy-Authorization; none when user is ""
	from       string // client loopback address; 127.0.0.1 when ""
	method     string
	target     string // URL, or host:port for CONNECT; {H} {T} are the origins' ports
	setup      func(*env) func()
	status     int
	reason     allowlist.Reason
}

func (e *env) request(c wireCase) string {
	target := strings.NewReplacer("{H}", portOf(e.origin.addr), "{T}", portOf(e.tlsOrigin.addr)).Replace(c.target)
	host := target
	if c.method != http.MethodConnect {
		host = strings.SplitN(strings.SplitN(target, "://", 2)[1], "/", 2)[0]
	}
	var b strings.Builder
	b.WriteString(c.method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
	if c.user != "" {
		b.WriteString("Proxy-Authorization: " + basic(c.user, c.pass) + "\r\n")
	}
	if c.method == http.MethodPost {
		b.WriteString("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b")
	} else {
		b.WriteString("\r\n")
	}
	return b.String()
}

func TestEveryReasonOverTheWire(t *testing.T) {
	e := newEnv(t, envConfig{})
	suspend := func(sc allowlist.Scope, id string) func(*env) func() {
		return func(e *env) func() {
			if _, err := e.engine.Suspend(sc, id, "test", "tester"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := e.engine.Reinstate(sc, id, "tester"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	cases := []wireCase{
		{name: "account grant", user: "jsmith", pass: "secret", method: "GET", target: "http://facebook.com:{H}/CTDCF", status: 200, reason: allowlist.ReasonAllowedGrant},
		{name: "account grant does not reach past dot segments", user: "jsmith", pass: "secret", method: "GET", target: "http://facebook.com:{H}/CTDCF/../zuck", status: 403, reason: allowlist.ReasonNoGrant},
		{name: "nor past encoded ones", user: "jsmith", pass: "secret", method: "GET", target: "http://facebook.com:{H}/CTDCF%2F%2e%2e%2Fzuck", status: 403, reason: allowlist.ReasonNoGrant},
		{name: "platform grant connect", user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}", status: 200, reason: allowlist.ReasonAllowedGrant},
		{name: "ip binding", from: "127.0.0.3", method: "GET", target: "http://instagram.com:{H}/", status: 200, reason: allowlist.ReasonAllowedGrant},
		{name: "no identity", method: "GET", target: "http://facebook.com:{H}/", status: 407, reason: allowlist.ReasonUnauthenticated},
		{name: "no identity connect", method: "CONNECT", target: "facebook.com:{T}", status: 407, reason: allowlist.ReasonUnauthenticated},
		{name: "unknown user", user: "ghost", pass: "boo", method: "GET", target: "http://facebook.com:{H}/", status: 403, reason: allowlist.ReasonUnknownUser},
		{name: "identity mismatch", user: "jsmith", pass: "secret", from: "127.0.0.3", method: "GET", target: "http://facebook.com:{H}/", status: 403, reason: allowlist.ReasonIdentityMismatch},
		{name: "no grant", user: "tlee", pass: "roads", method: "GET", target: "http://facebook.com:{H}/", status: 403, reason: allowlist.ReasonNoGrant},
		{name: "agency suspended", user: "tlee", pass: "roads", method: "GET", target: "http://youtube.com:{H}/CTDOT", setup: suspend(allowlist.ScopeAgency, "DOT"), status: 403, reason: allowlist.ReasonAgencySuspended},
		{name: "platform suspended", user: "bjones", pass: "hunter2", method: "CONNECT", target: "instagram.com:{T}", setup: suspend(allowlist.ScopePlatform, "instagram"), status: 403, reason: allowlist.ReasonPlatformSuspended},
		{name: "account suspended", user: "jsmith", pass: "secret", method: "GET", target: "http://facebook.com:{H}/CTDCF", setup: suspend(allowlist.ScopeAccount, "dcf-facebook"), status: 403, reason: allowlist.ReasonAccountSuspended},
		{name: "not acknowledged", user: "newbie", pass: "fresh", method: "GET", target: "http://facebook.com:{H}/", status: 403, reason: allowlist.ReasonNotAcknowledged},
		{name: "approval expired", user: "jsmith", pass: "secret", method: "GET", target: "http://x.com:{H}/CTDCF", status: 403, reason: allowlist.ReasonApprovalExpired},
		{name: "account decommissioned", user: "jsmith", pass: "secret", method: "GET", target: "http://instagram.com:{H}/ctdcf_old", status: 403, reason: allowlist.ReasonAccountDecommissioned},
		{name: "outside schedule", user: "owl", pass: "hoot", method: "GET", target: "http://youtube.com:{H}/", status: 403, reason: allowlist.ReasonOutsideSchedule},
		{name: "action not granted", user: "bjones", pass: "hunter2", method: "POST", target: "http://facebook.com:{H}/", status: 403, reason: allowlist.ReasonActionNotGranted},
		{name: "port", user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:8443", status: 403, reason: allowlist.ReasonPort},
		{name: "bypass domain", user: "jsmith", pass: "secret", method: "GET", target: "http://dns.google:{H}/dns-query", status: 403, reason: allowlist.ReasonBypass},
		{name: "banned", user: "jsmith", pass: "secret", method: "CONNECT", target: "tiktok.com:{T}", status: 403, reason: allowlist.ReasonPlatformBanned},
		{name: "log unavailable", user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/",
			setup: func(e *env) func() {
				e.sink.set(errors.New("disk full"), nil)
				return func() { e.sink.set(nil, nil) }
			}, status: 403, reason: allowlist.ReasonPolicyUnavailable},
	}
	seen := map[allowlist.Reason]bool{allowlist.ReasonAllowedNotSocial: true} // TestNotSocial
	for _, c := range cases {
		seen[c.reason] = true
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				defer c.setup(e)()
			}
			resp, body, conn, _ := e.raw(c.from, e.request(c))
			if conn != nil {
				conn.Close()
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, c.status, body)
			}
			id := resp.Header.Get(headerRequestID)
			if c.status != 200 {
				if got := resp.Header.Get(headerReason); got != string(c.reason) {
					t.Errorf("%s = %q, want %q", headerReason, got, c.reason)
				}
				if !strings.Contains(body, c.reason.Explain()) || !strings.Contains(body, id) {
					t.Errorf("body lacks the explanation or the request id %q:\n%s", id, body)
				}
			}
			if c.status == http.StatusProxyAuthRequired && resp.Header.Get("Proxy-Authenticate") != `Basic realm="smgate"` {
				t.Errorf("Proxy-Authenticate = %q", resp.Header.Get("Proxy-Authenticate"))
			}
			r := e.sink.wait(t, byID(id))
			if r.Reason != string(c.reason) || r.Status != c.status || (r.Outcome == logs.OutcomeAllowed) != c.reason.Allowed() {
				t.Errorf("record reason %s status %d outcome %s", r.Reason, r.Status, r.Outcome)
			}
		})
	}
	for _, r := range allowlist.Reasons {
		if !seen[r] && r != allowlist.ReasonContent { // blocked-content: body checks, not produced by Decide
			t.Errorf("reason %s not covered", r)
		}
	}
}
