package proxy

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// spelledResult is what a test compares between spellings of one host.
type spelledResult struct {
	status   int
	reason   string
	platform string
	domain   string
	message  string
}

// sendSpelled sends one absolute-form GET or one CONNECT to host (as
// spelled) on the origin's port, with header as the Host header, signed in
// as user, and returns the answer and the usage record.
func (e *env) sendSpelled(t *testing.T, method, host, header, user, pass string) spelledResult {
	t.Helper()
	port := portOf(e.origin.addr)
	if method == http.MethodConnect {
		port = portOf(e.tlsOrigin.addr)
	}
	req := "CONNECT " + host + ":" + port + " HTTP/1.1\r\n"
	if method != http.MethodConnect {
		req = "GET http://" + host + ":" + port + "/ HTTP/1.1\r\n"
	}
	req += "Host: " + header + ":" + port + "\r\nProxy-Authorization: " + basic(user, pass) + "\r\n\r\n"
	resp, body, conn, _ := e.raw("", req)
	if conn != nil {
		conn.Close() // the tunnel's record is written when it closes
	}
	id := resp.Header.Get(headerRequestID)
	if id == "" {
		t.Fatalf("%s %s: no request id: %d %q", method, host, resp.StatusCode, body)
	}
	r := e.sink.wait(t, byID(id))
	want := logs.ActionHTTPRequest
	if method == http.MethodConnect {
		want = logs.ActionConnect
	}
	if r.Action != want || r.Status != resp.StatusCode {
		t.Errorf("%s %s: record action %s status %d, answer %d", method, host, r.Action, r.Status, resp.StatusCode)
	}
	return spelledResult{status: resp.StatusCode, reason: r.Reason, platform: r.Platform, domain: r.Domain, message: r.Message}
}

// TestHostSpellings: mixed case, a trailing dot, Unicode and Punycode
// spellings of a catalogue name, and every spelling of an IP literal are
// decided as their canonical form, for absolute-form requests and CONNECT,
// and recorded under the canonical url.domain. A Host header in another
// spelling of the same host is no disagreement.
func TestHostSpellings(t *testing.T) {
	e := newEnv(t, envConfig{mutate: func(o *Options) {
		o.ASN = func(a netip.Addr) uint32 {
			if a == netip.MustParseAddr("127.0.0.1") {
				return 32934 // facebook's, in testdata/platforms.toml
			}
			return 0
		}
	}})
	groups := []struct {
		canonical string
		platform  string
		spellings []string // the Host header is the spelling; "|" separates a different header
		want      map[string]allowlist.Reason
	}{
		{"facebook.com", "facebook",
			[]string{"FaceBook.COM", "facebook.com.", "FACEBOOK.COM.", "ｆａｃｅｂｏｏｋ.com|facebook.com", "facebook。com|facebook.com"},
			map[string]allowlist.Reason{"bjones": allowlist.ReasonAllowedGrant, "tlee": allowlist.ReasonNoGrant}},
		{"xn--bcher-kva.example", "buecher",
			[]string{"bücher.example|xn--bcher-kva.example", "BÜCHER.example.|xn--bcher-kva.example", "b%C3%BCcher.example|xn--bcher-kva.example",
				"XN--BCHER-KVA.EXAMPLE", "Xn--Bcher-Kva.Example."},
			map[string]allowlist.Reason{"bjones": allowlist.ReasonNoGrant}},
		{"127.0.0.1", "facebook",
			[]string{"2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7F000001", "[::ffff:127.0.0.1]", "[::FFFF:7F00:1]"},
			map[string]allowlist.Reason{"bjones": allowlist.ReasonAllowedGrant, "tlee": allowlist.ReasonBypass}},
	}
	pass := map[string]string{"bjones": "hunter2", "tlee": "roads"}
	for _, g := range groups {
		for user, reason := range g.want {
			for _, method := range []string{"GET", "CONNECT"} {
				t.Run(method+" "+g.canonical+" as "+user, func(t *testing.T) {
					ref := e.sendSpelled(t, method, g.canonical, g.canonical, user, pass[user])
					if ref.reason != string(reason) || ref.platform != g.platform || ref.domain != g.canonical || ref.message != "" {
						t.Fatalf("canonical %s: %+v, want %s on %s", g.canonical, ref, reason, g.platform)
					}
					for _, sp := range g.spellings {
						host, header := sp, sp
						if i := indexByte(sp, '|'); i >= 0 {
							host, header = sp[:i], sp[i+1:]
						}
						if got := e.sendSpelled(t, method, host, header, user, pass[user]); got != ref {
							t.Errorf("%s decided %+v, canonical %s %+v", host, got, g.canonical, ref)
						}
					}
				})
			}
		}
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
