package proxy

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// blackhole returns the port of a loopback listener that never accepts
// and whose accept queue is full, so that Linux drops every further SYN:
// a dial to it hangs until its timeout, as to a firewalled address.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	for i := 0; ; i++ { // fill the accept queue until a dial is dropped
		if i == 16 {
			t.Skip("cannot fill a loopback accept queue here")
		}
		c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		if err != nil { // e.g. net.ipv4.tcp_abort_on_overflow = 1 resets instead
			t.Skipf("a full loopback accept queue does not drop SYNs here: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}

// TestDialTimeout: a destination that does not answer the dial within
// proxy.dial_timeout gets a 504 page and a record that says so, for
// absolute-form requests and CONNECT alike.
func TestDialTimeout(t *testing.T) {
	e := newEnv(t, envConfig{logNotSocial: true, dialTimeout: "300ms"})
	port := blackhole(t)
	for _, c := range []struct{ name, req string }{
		{"http", "GET http://example.test:" + port + "/ HTTP/1.1\r\nHost: example.test:" + port + "\r\nAccept: text/html\r\n\r\n"},
		{"connect", "CONNECT example.test:" + port + " HTTP/1.1\r\nHost: example.test:" + port + "\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, conn, _ := e.raw("", c.req)
			if conn != nil {
				conn.Close()
			}
			if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, explainTimeout) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
			if r.Status != http.StatusGatewayTimeout || r.Message != "gateway: upstream_timeout" || r.Domain != "example.test" {
				t.Errorf("record %+v", r)
			}
		})
	}
	if n := testutil.ToFloat64(e.srv.m.refused.WithLabelValues("upstream_timeout")); n != 2 {
		t.Errorf("upstream_timeout counted %v, want 2", n)
	}
}
