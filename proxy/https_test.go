package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
)

// TestAbsoluteHTTPS: an https:// request in absolute form is forwarded
// over TLS that the proxy verifies: the origin's certificate must name
// the host asked for (goproxy's own transport would not check).
func TestAbsoluteHTTPS(t *testing.T) {
	e := newEnv(t, envConfig{logNotSocial: true})
	tp := portOf(e.tlsOrigin.addr)
	send := func(host, user, pass string) (*http.Response, string) {
		t.Helper()
		c := wireCase{user: user, pass: pass, method: "GET", target: "https://" + host + ":" + tp + "/secure"}
		resp, body, _, _ := e.raw("", e.request(c))
		return resp, body
	}
	// The test origin's certificate names example.com and 127.0.0.1.
	resp, body := send("example.com", "", "")
	if resp.StatusCode != 200 || body != "hello from origin /secure" {
		t.Fatalf("example.com: %d %q", resp.StatusCode, body)
	}
	reqs := e.tlsOrigin.requests()
	if len(reqs) != 1 || reqs[0].TLS == nil || reqs[0].Header.Get("Proxy-Authorization") != "" {
		t.Fatalf("origin requests %+v", reqs)
	}
	// facebook.com resolves to the same origin, whose certificate does
	// not name it: the decision allows, the TLS check refuses.
	resp, body = send("facebook.com", "bjones", "hunter2")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, explainBadGateway) {
		t.Fatalf("certificate for another name: %d %q", resp.StatusCode, body)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Reason != string(allowlist.ReasonAllowedGrant) || r.Status != http.StatusBadGateway || r.Message != "gateway: upstream_error" {
		t.Errorf("record %+v", r)
	}
	if n := len(e.tlsOrigin.requests()); n != 1 {
		t.Errorf("a request went over TLS that was not verified (%d requests)", n)
	}
	// Blocked https:// requests get the block page like http:// ones.
	resp, body = send("facebook.com", "tlee", "roads")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(allowlist.ReasonNoGrant) ||
		!strings.Contains(body, allowlist.ReasonNoGrant.Explain()) {
		t.Errorf("blocked: %d %q", resp.StatusCode, body)
	}
}
