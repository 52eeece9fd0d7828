package proxy

import (
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// silentOrigin accepts connections and neither answers nor closes them
// until the test ends; it returns its port.
func silentOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-held:
				c.Close()
			default:
				return
			}
		}
	})
	return portOf(ln.Addr().String())
}

// TestTunnelClientResetBeforeSending: a client that resets its tunnel
// before sending a byte is gone; the tunnel closes at once and gives back
// its place under max_conns and its upstream connection, rather than
// waiting proxy.idle_timeout for a silent destination as a half-closed
// tunnel does.
func TestTunnelClientResetBeforeSending(t *testing.T) {
	e := newEnv(t, envConfig{logNotSocial: true})
	silent := silentOrigin(t)
	s := e.sideServerEdit(t, func(c string) string {
		c = strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+silent+", ", 1)
		return strings.Replace(c, "[proxy]\n", "[proxy]\nidle_timeout = \"1h\"\n", 1)
	}, nil)
	for range 5 {
		resp, _, c, _ := s.raw("", "CONNECT example.test:"+silent+" HTTP/1.1\r\nHost: example.test:"+silent+"\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
		_ = c.(*net.TCPConn).SetLinger(0) // close with a reset
		c.Close()
	}
	waitFor(t, "the reset tunnels' places", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
	waitFor(t, "the reset tunnels' records", func() bool { return len(e.sink.records()) >= 5 })
	for _, r := range e.sink.records() {
		if r.Action != "connect" {
			t.Errorf("record %+v", r)
		}
	}
}

// TestTunnelClientResetDuringHello: a client that resets its tunnel in
// the middle of its TLS client hello is gone, as one that closes it is:
// the tunnel ends as it was decided, with no blocked-bypass in its record
// and no warning (nothing of the hello reached the server).
func TestTunnelClientResetDuringHello(t *testing.T) {
	e := newEnv(t, envConfig{logNotSocial: true})
	silent := silentOrigin(t)
	s := e.sideServerEdit(t, func(c string) string {
		return strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+silent+", ", 1)
	}, nil)
	resp, _, c, _ := s.raw("", "CONNECT example.test:"+silent+" HTTP/1.1\r\nHost: example.test:"+silent+"\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	id := resp.Header.Get(headerRequestID)
	if _, err := c.Write([]byte{recordTypeHandshake, 3, 1, 0, 200, 1}); err != nil { // a hello cut short
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close()
	r := e.sink.wait(t, byID(id))
	if r.Reason != "allowed-not-social" || strings.Contains(r.Message, "could not read") {
		t.Errorf("record %+v", r)
	}
	if log := s.oplog.String(); strings.Contains(log, "unreadable TLS client hello") {
		t.Errorf("reset hello logged as unreadable:\n%s", log)
	}
}
