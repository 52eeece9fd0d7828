package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// TestBlockPageAdviceMismatchAndBypass: a shared logon and an encrypted DNS
// service get advice that fits them, not the request-access advice that no
// grant would answer.
func TestBlockPageAdviceMismatchAndBypass(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, c := range []struct {
		name, from, user, pass, target, access string
	}{
		// 127.0.0.3 is bound to "desk" in testdata/directory.toml.
		{"identity mismatch", "127.0.0.3", "jsmith", "secret", "http://facebook.com:{H}/", accessMismatch},
		{"bypass service", "", "bjones", "hunter2", "http://dns.google:{H}/dns-query", accessBypassService},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, _, _ := e.raw(c.from, e.request(wireCase{user: c.user, pass: c.pass, method: "GET", target: c.target}))
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, c.access) || strings.Contains(body, accessDefault) {
				t.Fatalf("got %d, want 403 advising %q and not %q:\n%s", resp.StatusCode, c.access, accessDefault, body)
			}
			e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		})
	}
}
