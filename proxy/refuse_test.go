package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRefusedDestinations sends requests and CONNECTs to the proxy's own
// port, to another listener of the gateway and to a denied origin, in every
// spelling of their address; none may reach them.
func TestRefusedDestinations(t *testing.T) {
	admin, accepted := countingListener(t)
	e := newEnv(t, envConfig{self: []string{admin.Addr().String()}})
	proxyPort, adminPort, deniedPort := portOf(e.proxy), portOf(admin.Addr().String()), portOf(e.denied.addr)
	self := []string{"127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]", "2130706433",
		"0x7f.1", "127.1", "0177.0.0.1", "LocalHost.", "selfname.test"}
	if h, err := os.Hostname(); err == nil {
		if addrs, err := net.LookupHost(h); err == nil && len(addrs) > 0 && net.ParseIP(addrs[0]).IsLoopback() {
			self = append(self, h)
		} else {
			t.Logf("host name %q does not resolve to loopback here; not tried", h)
		}
	}
	denied := []string{"127.0.0.2", "[::ffff:127.0.0.2]", "2130706434", "0x7f.2", "127.2", "0177.0.0.2", "denied.test", "DENIED.test."}
	var targets []string
	for _, h := range self {
		targets = append(targets, h+":"+proxyPort, h+":"+adminPort)
	}
	for _, h := range denied {
		targets = append(targets, h+":"+deniedPort)
	}
	for _, target := range targets {
		for _, method := range []string{"GET", "CONNECT"} {
			t.Run(method+" "+target, func(t *testing.T) {
				req := method + " " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
				if method == "GET" {
					req = "GET http://" + target + "/x HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
				}
				resp, body, conn, _ := e.raw("", req)
				if conn != nil {
					conn.Close()
				}
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, explainRefused) {
					t.Fatalf("got %d %q", resp.StatusCode, body)
				}
			})
		}
	}
	if n := len(e.denied.requests()); n != 0 {
		t.Errorf("the denied origin got %d requests", n)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the admin listener accepted %d connections", n)
	}
}

// TestSocialNameResolvingToDeniedAddress: the decision allows, the
// resolved address is denied; the record says so.
func TestSocialNameResolvingToDeniedAddress(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := wireCase{user: "bjones", pass: "hunter2", method: "GET", target: "http://m.facebook.com:" + portOf(e.denied.addr) + "/"}
	resp, body, _, _ := e.raw("", e.request(c))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, explainRefused) {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Reason != "allowed-grant" || r.Status != 403 || r.Message != "gateway: destination_refused" {
		t.Errorf("record %+v", r)
	}
	if n := len(e.denied.requests()); n != 0 {
		t.Errorf("the denied origin got %d requests", n)
	}
}

func TestSelfSetUnspecified(t *testing.T) {
	s := newSelfSet([]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:3128"), netip.MustParseAddrPort("127.0.0.1:8088")})
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:3128", true}, {"127.9.9.9:3128", true}, {"[::1]:3128", true},
		{"127.0.0.1:8088", true}, {"127.0.0.2:8088", false}, {"10.99.99.99:3128", false},
		{"127.0.0.1:3129", false},
	} {
		if got := s.contains(netip.MustParseAddrPort(c.addr)); got != c.want {
			t.Errorf("contains(%s) = %v", c.addr, got)
		}
	}
	for a := range s.local {
		if !s.contains(netip.AddrPortFrom(a, 3128)) {
			t.Errorf("local address %s on the unspecified listener's port not refused", a)
		}
	}
}

// countingListener is a listener that counts what it accepts.
func countingListener(t *testing.T) (net.Listener, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, &n
}
