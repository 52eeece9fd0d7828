package proxy

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
)

// TestRecordRefused: a sink that reports itself healthy but refuses the
// record turns the answer into a blocked-policy-unavailable page, for a
// blocked request, an allowed one and a blocked CONNECT; the client never
// gets the origin's answer unrecorded. (The origin has seen an allowed
// request by then: its record carries the answer's status, so it is
// written after the answer header. Sink.Healthy before the decision is
// what keeps a log that cannot be written from passing traffic.)
func TestRecordRefused(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.sink.set(nil, errors.New("write failed"))
	for _, c := range []wireCase{
		{name: "blocked", user: "tlee", pass: "roads", method: "GET", target: "http://facebook.com:{H}/"},
		{name: "allowed", user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/"},
		{name: "blocked connect", user: "tlee", pass: "roads", method: "CONNECT", target: "facebook.com:{T}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, _, _ := e.raw("", e.request(c))
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(allowlist.ReasonPolicyUnavailable) ||
				!strings.Contains(body, allowlist.ReasonPolicyUnavailable.Explain()) || strings.Contains(body, "hello from origin") {
				t.Fatalf("got %d %s %q", resp.StatusCode, resp.Header.Get(headerReason), body)
			}
		})
	}
	if len(e.sink.records()) != 0 {
		t.Error("the failing sink kept records")
	}
}

// TestRecordRefusedForChallenge: when the record of a 407 (or 429) answer
// is refused, the answer is blocked-policy-unavailable and a 403: the 407
// it was had the browser ask for a password that could not help.
func TestRecordRefusedForChallenge(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.sink.set(nil, errors.New("write failed"))
	for _, c := range []wireCase{
		{method: "GET", target: "http://facebook.com:{H}/"},
		{method: "CONNECT", target: "facebook.com:{T}"},
	} {
		resp, body, _, _ := e.raw("", e.request(c))
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Proxy-Authenticate") != "" ||
			resp.Header.Get(headerReason) != string(allowlist.ReasonPolicyUnavailable) {
			t.Errorf("%s: got %d %v %q", c.method, resp.StatusCode, resp.Header, body)
		}
	}
}
