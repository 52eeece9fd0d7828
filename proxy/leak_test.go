package proxy

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestNoGoroutineLeft runs plain, blocked, tunnelled, switched and failed
// requests, closes everything, and checks that no goroutine of theirs is
// left behind (tailscale's ResourceCheck, miekg's leak test).
func TestNoGoroutineLeft(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() { // registered first, so it runs after every other cleanup
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	e := newEnv(t, envConfig{logNotSocial: true})
	origin := upgradeOrigin(t)
	s := e.sideServerEdit(t, func(c string) string {
		return strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+portOf(origin)+", ", 1)
	}, nil)
	c := s.client("bjones", "hunter2", "")
	for _, u := range []string{
		"http://facebook.com:" + portOf(e.origin.addr) + "/",
		"https://facebook.com:" + portOf(e.tlsOrigin.addr) + "/",
		"http://tiktok.com:" + portOf(e.origin.addr) + "/",
		"http://example.test:1/",
	} {
		s.do(c, "GET", u, nil)
	}
	conn, br := s.upgraded(t, origin)
	_, _ = io.WriteString(conn, "bye\n")
	_, _ = br.ReadString('\n')
	conn.Close()
	resp, _, tunnel, _ := s.raw("", s.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("tunnel: %d", resp.StatusCode)
	}
	if got := getOverTunnel(t, e, tunnel); got != "hello from origin /tunnelled" {
		t.Errorf("tunnel: %q", got)
	}
}
