package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// TestReportMode: with gateway.mode = "report" a request that the policy
// blocks is let through, and its record says blocked, with the reason,
// and not enforced. What the gateway cannot record, and destinations it
// never connects to, are still refused.
func TestReportMode(t *testing.T) {
	e := newEnv(t, envConfig{mode: "report"})
	for _, c := range []wireCase{
		{name: "no grant", user: "tlee", pass: "roads", method: "GET", target: "http://facebook.com:{H}/", reason: allowlist.ReasonNoGrant},
		{name: "no identity", method: "GET", target: "http://facebook.com:{H}/", reason: allowlist.ReasonUnauthenticated},
		{name: "banned", user: "jsmith", pass: "secret", method: "GET", target: "http://tiktok.com:{H}/", reason: allowlist.ReasonPlatformBanned},
		{name: "no grant connect", user: "tlee", pass: "roads", method: "CONNECT", target: "facebook.com:{T}", reason: allowlist.ReasonNoGrant},
		{name: "granted", user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/", reason: allowlist.ReasonAllowedGrant},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.origin.requests())
			resp, body, conn, _ := e.raw(c.from, e.request(c))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			if c.method == http.MethodConnect {
				if got := getOverTunnel(t, e, conn); got != "hello from origin /tunnelled" {
					t.Fatalf("through the tunnel: %q", got)
				}
			} else if body != "hello from origin /" || len(e.origin.requests()) != before+1 {
				t.Fatalf("not forwarded: %q", body)
			} else if h := e.origin.requests()[before].Header.Get("Proxy-Authorization"); h != "" {
				t.Errorf("Proxy-Authorization reached the origin")
			}
			r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
			allowed := c.reason.Allowed()
			if r.Reason != string(c.reason) || (r.Outcome == logs.OutcomeAllowed) != allowed || r.NotEnforced == allowed ||
				r.Status != 200 || r.Platform == "" {
				t.Errorf("record %+v", r)
			}
		})
	}

	t.Run("log unavailable is enforced", func(t *testing.T) {
		e.sink.set(errors.New("disk full"), nil)
		defer e.sink.set(nil, nil)
		before := len(e.origin.requests())
		resp, body, _, _ := e.raw("", e.request(wireCase{user: "tlee", pass: "roads", method: "GET", target: "http://facebook.com:{H}/"}))
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(allowlist.ReasonPolicyUnavailable) {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if len(e.origin.requests()) != before {
			t.Error("a request that could not be recorded went through")
		}
	})
	t.Run("denied destination is refused", func(t *testing.T) {
		resp, body, _, _ := e.raw("", e.request(wireCase{user: "tlee", pass: "roads", method: "GET",
			target: "http://m.facebook.com:" + portOf(e.denied.addr) + "/"}))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, explainRefused) {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		if r.Reason != string(allowlist.ReasonNoGrant) || !r.NotEnforced || r.Message != "gateway: destination_refused" {
			t.Errorf("record %+v", r)
		}
		if n := len(e.denied.requests()); n != 0 {
			t.Errorf("the denied origin got %d requests", n)
		}
	})
}

// getOverTunnel speaks TLS to the TLS origin over an open tunnel, sends
// one GET and returns the body; it closes the tunnel.
func getOverTunnel(t *testing.T, e *env, conn net.Conn) string {
	t.Helper()
	tc := tls.Client(conn, &tls.Config{RootCAs: e.roots, ServerName: "example.com"})
	defer tc.Close()
	if _, err := io.WriteString(tc, "GET /tunnelled HTTP/1.1\r\nHost: facebook.com\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
