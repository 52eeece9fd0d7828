package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smgate/smgate/allowlist"
)

// upgradeOrigin is an origin that switches every request to an echo
// protocol (a WebSocket stand-in): it echoes lines until it reads "bye".
func upgradeOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		for {
			line, err := brw.ReadString('\n')
			if err != nil || line == "bye\n" {
				return
			}
			_, _ = io.WriteString(c, line)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// upgraded opens a switched connection to facebook.com on the origin at
// addr through the proxy of s, checks the echo, and returns it.
func (e *env) upgraded(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET http://facebook.com:"+portOf(addr)+"/ws HTTP/1.1\r\nHost: facebook.com:"+portOf(addr)+
		"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nProxy-Authorization: "+basic("bjones", "hunter2")+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Reason != string(allowlist.ReasonAllowedGrant) || r.Status != http.StatusSwitchingProtocols {
		t.Errorf("record %+v", r)
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo %q %v", line, err)
	}
	return c, br
}

// TestUpgradedConnectionEnds: a switched (WebSocket) request relayed for
// a plain-HTTP client ends for both sides when either side ends, or when
// the policy now blocks it; its client connection then gives back its
// place under max_conns. goproxy leaves that connection open: the client
// waited forever and each upgrade leaked a place until the cap was
// reached.
func TestUpgradedConnectionEnds(t *testing.T) {
	e := newEnv(t, envConfig{})
	origin := upgradeOrigin(t)
	s := e.sideServerEdit(t, func(c string) string {
		c = strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+portOf(origin)+", ", 1)
		return strings.Replace(c, "max_conns = 1000", "max_conns = 1", 1)
	}, nil)
	roomAgain := func(t *testing.T) {
		t.Helper()
		waitFor(t, "the switched connection's place", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
		k := s.dialLive(t)
		if st, err := k.get("http://example.test:" + portOf(e.origin.addr) + "/"); err != nil || st != 200 {
			t.Fatalf("next client under max_conns = 1: %d %v", st, err)
		}
		k.c.Close()
		waitFor(t, "the next client's place", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
	}
	t.Run("origin ends", func(t *testing.T) {
		c, br := s.upgraded(t, origin)
		_, _ = io.WriteString(c, "bye\n")
		if _, err := br.ReadString('\n'); !errors.Is(err, io.EOF) {
			t.Fatalf("client not told the origin left: %v", err)
		}
		c.Close()
		roomAgain(t)
	})
	t.Run("client ends", func(t *testing.T) {
		c, _ := s.upgraded(t, origin)
		c.Close()
		roomAgain(t)
	})
	t.Run("policy cut", func(t *testing.T) {
		_, br := s.upgraded(t, origin)
		if _, err := s.engine.Suspend(allowlist.ScopePlatform, "facebook", "test", "tester"); err != nil {
			t.Fatal(err)
		}
		if _, err := br.ReadString('\n'); !errors.Is(err, io.EOF) {
			t.Fatalf("switched connection not cut by the suspension: %v", err)
		}
		roomAgain(t)
	})
}

// TestOtherUpgradesAreNotRelayed: a switch to a protocol other than
// WebSocket (h2c here) is taken out of the request, so the destination
// answers in HTTP/1.1; a destination that switches anyway gets the client
// a 502 at once rather than a connection that never answers. goproxy
// relays only WebSocket: it held any other switched answer in the
// server's buffer, the client never saw it and the connection leaked.
func TestOtherUpgradesAreNotRelayed(t *testing.T) {
	e := newEnv(t, envConfig{})
	var mu sync.Mutex
	var seen []http.Header
	always := false
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		switchAnyway := always
		mu.Unlock()
		if r.Header.Get("Upgrade") == "" && !switchAnyway {
			_, _ = io.WriteString(w, "plain")
			return
		}
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.Copy(io.Discard, c) // silent from now on
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := portOf(ln.Addr().String())
	s := e.sideServerEdit(t, func(c string) string {
		return strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+port+", ", 1)
	}, nil)
	ask := func() (*http.Response, string) {
		resp, body, _, _ := s.raw("", "GET http://facebook.com:"+port+"/ HTTP/1.1\r\nHost: facebook.com:"+port+
			"\r\nConnection: keep-alive, Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nProxy-Authorization: "+basic("bjones", "hunter2")+"\r\n\r\n")
		return resp, body
	}
	if resp, body := ask(); resp.StatusCode != 200 || body != "plain" {
		t.Fatalf("h2c upgrade request: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	h := seen[0]
	always = true
	mu.Unlock()
	if h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" || strings.Contains(strings.ToLower(h.Get("Connection")), "upgrade") {
		t.Errorf("the destination was asked to switch: %v", h)
	}
	resp, body := ask()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, resp.Header.Get(headerRequestID)) {
		t.Fatalf("unasked switch: %d %s", resp.StatusCode, body)
	}
	if r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID))); r.Status != http.StatusBadGateway {
		t.Errorf("record %+v", r)
	}
	waitFor(t, "the client connection's place", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
}
