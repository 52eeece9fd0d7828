package proxy

import (
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/logs"
)

// ipCase is one request to the bare address 127.0.0.1 on an origin.
type ipCase struct {
	method     string // GET or CONNECT
	host       string // spelling of 127.0.0.1; "127.0.0.1" when ""
	user, pass string
	status     int
	reason     allowlist.Reason // "" when no record is expected
	platform   string
	asn        uint32
}

// sendIP sends c and checks the answer and, when c expects one, the record.
func (e *env) sendIP(t *testing.T, c ipCase) {
	t.Helper()
	host := c.host
	if host == "" {
		host = "127.0.0.1"
	}
	target := "http://" + host + ":{H}/"
	if c.method == http.MethodConnect {
		target = host + ":{T}"
	}
	resp, body, conn, _ := e.raw("", e.request(wireCase{user: c.user, pass: c.pass, method: c.method, target: target}))
	if conn != nil {
		conn.Close()
	}
	if resp.StatusCode != c.status {
		t.Fatalf("%s %s as %q: got %d, want %d: %q", c.method, host, c.user, resp.StatusCode, c.status, body)
	}
	id := resp.Header.Get(headerRequestID)
	if c.reason == "" {
		if id != "" {
			t.Errorf("%s %s: a request that is not social media got a record id %s", c.method, host, id)
		}
		return
	}
	r := e.sink.wait(t, byID(id))
	if r.Reason != string(c.reason) || r.Platform != c.platform || r.Domain != "127.0.0.1" || r.ASN != c.asn {
		t.Errorf("%s %s as %q: record %+v", c.method, host, c.user, r)
	}
	if c.reason == allowlist.ReasonBypass && resp.Header.Get(headerReason) != string(allowlist.ReasonBypass) {
		t.Errorf("%s = %q", headerReason, resp.Header.Get(headerReason))
	}
}

// TestIPLiteralOfRecentlyResolvedPlatform: once the proxy has resolved a
// platform's name to an address, a request to that bare address is
// decided as the platform: allowed with a grant, blocked-bypass without.
// Names that are not social media, and blocked requests that were never
// resolved, teach the gateway nothing. The memory is the one shared with
// the DNS filter.
func TestIPLiteralOfRecentlyResolvedPlatform(t *testing.T) {
	mem := addrmem.New(0)
	e := newEnv(t, envConfig{mutate: func(o *Options) { o.Addrs = mem }})
	notSocial := func(method string) ipCase {
		return ipCase{method: method, user: "tlee", pass: "roads", status: 200}
	}
	e.sendIP(t, notSocial("GET"))
	e.sendIP(t, notSocial("CONNECT"))

	// example.test resolves to 127.0.0.1 too, but is no platform.
	if resp, _ := e.do(e.client("", "", ""), "GET", "http://example.test:"+portOf(e.origin.addr)+"/", nil); resp.StatusCode != 200 {
		t.Fatalf("example.test: %d", resp.StatusCode)
	}
	// Blocked before any dial: www.facebook.com is not resolved.
	if resp, _ := e.do(e.client("tlee", "roads", ""), "GET", "http://www.facebook.com:"+portOf(e.origin.addr)+"/", nil); resp.StatusCode != 403 {
		t.Fatalf("tlee on facebook: %d", resp.StatusCode)
	}
	e.sendIP(t, notSocial("GET"))
	if p := mem.Platform(netip.MustParseAddr("127.0.0.1"), testNow); p != "" {
		t.Fatalf("127.0.0.1 remembered as %q before any platform name resolved to it", p)
	}

	if resp, _ := e.do(e.client("bjones", "hunter2", ""), "GET", "http://www.facebook.com:"+portOf(e.origin.addr)+"/", nil); resp.StatusCode != 200 {
		t.Fatalf("bjones on facebook: %d", resp.StatusCode)
	}
	if p := mem.Platform(netip.MustParseAddr("127.0.0.1"), testNow); p != "facebook" {
		t.Fatalf("shared memory holds %q for 127.0.0.1", p)
	}
	for _, c := range []ipCase{
		{method: "GET", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "facebook"},
		{method: "CONNECT", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "facebook"},
		{method: "GET", host: "[::ffff:127.0.0.1]", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "facebook"},
		{method: "CONNECT", host: "2130706433", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "facebook"},
		{method: "GET", user: "", status: 407, reason: allowlist.ReasonUnauthenticated, platform: "facebook"},
		{method: "GET", user: "bjones", pass: "hunter2", status: 200, reason: allowlist.ReasonAllowedGrant, platform: "facebook"},
		{method: "CONNECT", user: "bjones", pass: "hunter2", status: 200, reason: allowlist.ReasonAllowedGrant, platform: "facebook"},
	} {
		e.sendIP(t, c)
	}
}

// TestIPLiteralRememberedFromConnect: a CONNECT to a platform name teaches
// the gateway its address as well.
func TestIPLiteralRememberedFromConnect(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, _, conn, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "instagram.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	conn.Close()
	e.sendIP(t, ipCase{method: "CONNECT", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "instagram"})
}

// TestIPLiteralByASN: with an ASN function, an address in a catalogue
// platform's AS is decided as that platform and the record has the AS
// number (and, with a country function, the destination's country); an AS
// that no platform lists is not social media; an address the gateway
// resolved for a platform is that platform whatever its AS.
func TestIPLiteralByASN(t *testing.T) {
	var asn atomic.Uint32
	e := newEnv(t, envConfig{mutate: func(o *Options) {
		o.ASN = func(a netip.Addr) uint32 {
			if a == netip.MustParseAddr("127.0.0.1") {
				return asn.Load()
			}
			return 0
		}
		o.Country = func(a netip.Addr) string {
			if a == netip.MustParseAddr("127.0.0.1") {
				return "IE"
			}
			return ""
		}
	}})
	asn.Store(64512) // private AS, in no platform
	e.sendIP(t, ipCase{method: "GET", user: "tlee", pass: "roads", status: 200})
	e.sendIP(t, ipCase{method: "CONNECT", user: "tlee", pass: "roads", status: 200})

	asn.Store(32934) // facebook
	for _, c := range []ipCase{
		{method: "GET", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "facebook", asn: 32934},
		{method: "CONNECT", host: "0x7f.1", user: "tlee", pass: "roads", status: 403, reason: allowlist.ReasonBypass, platform: "facebook", asn: 32934},
		{method: "GET", user: "bjones", pass: "hunter2", status: 200, reason: allowlist.ReasonAllowedGrant, platform: "facebook", asn: 32934},
		{method: "CONNECT", user: "bjones", pass: "hunter2", status: 200, reason: allowlist.ReasonAllowedGrant, platform: "facebook", asn: 32934},
	} {
		e.sendIP(t, c)
	}
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Action == logs.ActionConnect && r.Status == 200 })
	if r.DestIP != netip.MustParseAddr("127.0.0.1") || r.Country != "IE" {
		t.Errorf("tunnel record destination %v in %q", r.DestIP, r.Country)
	}

	asn.Store(13414) // x: bjones has no grant there
	e.sendIP(t, ipCase{method: "GET", user: "bjones", pass: "hunter2", status: 403, reason: allowlist.ReasonBypass, platform: "x", asn: 13414})
	if resp, _ := e.do(e.client("bjones", "hunter2", ""), "GET", "http://facebook.com:"+portOf(e.origin.addr)+"/", nil); resp.StatusCode != 200 {
		t.Fatalf("bjones on facebook: %d", resp.StatusCode)
	}
	e.sendIP(t, ipCase{method: "GET", user: "bjones", pass: "hunter2", status: 200, reason: allowlist.ReasonAllowedGrant, platform: "facebook", asn: 13414})
}

// TestBlockedIPLiteralRecordHasCountry: a request to an IP literal that is
// blocked before any dial still names its destination's AS, and its
// country with it: the address is known, as the host itself.
func TestBlockedIPLiteralRecordHasCountry(t *testing.T) {
	e := newEnv(t, envConfig{mutate: func(o *Options) {
		o.ASN = func(a netip.Addr) uint32 {
			if a == netip.MustParseAddr("127.0.0.1") {
				return 32934 // facebook
			}
			return 0
		}
		o.Country = func(a netip.Addr) string {
			if a == netip.MustParseAddr("127.0.0.1") {
				return "IE"
			}
			return ""
		}
	}})
	for _, method := range []string{"GET", "CONNECT"} {
		target := "http://127.0.0.1:{H}/"
		if method == "CONNECT" {
			target = "127.0.0.1:{T}"
		}
		resp, _, conn, _ := e.raw("", e.request(wireCase{user: "tlee", pass: "roads", method: method, target: target}))
		if conn != nil {
			conn.Close()
		}
		if resp.StatusCode != 403 {
			t.Fatalf("%s: got %d, want 403", method, resp.StatusCode)
		}
		r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		if r.ASN != 32934 || r.Country != "IE" {
			t.Errorf("%s blocked IP literal: destination.as.number %d, destination.geo.country_iso_code %q; want 32934 and IE", method, r.ASN, r.Country)
		}
	}
}
