package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// TestConnectTLSEndToEnd: an allowed CONNECT carries the client's own TLS
// session to the HTTPS origin (whose certificate the client checks), and
// the tunnel's record, written when it closes, has the bytes each way.
func TestConnectTLSEndToEnd(t *testing.T) {
	e := newEnv(t, envConfig{})
	ids := make(chan string, 4)
	tr := &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: e.proxy, User: url.UserPassword("bjones", "hunter2")}),
		TLSClientConfig: &tls.Config{RootCAs: e.roots, ServerName: "example.com"},
		OnProxyConnectResponse: func(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
			ids <- resp.Header.Get(headerRequestID)
			return nil
		},
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("https://facebook.com:" + portOf(e.tlsOrigin.addr) + "/through/the/tunnel")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "hello from origin /through/the/tunnel" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body, err)
	}
	if resp.TLS == nil || !resp.TLS.PeerCertificates[0].Equal(e.tlsOrigin.srv.Certificate()) {
		t.Fatal("the client's TLS session does not end at the origin")
	}
	if resp.Header.Get(headerRequestID) != "" {
		t.Error("the proxy wrote into the TLS stream")
	}
	id := <-ids
	if id == "" {
		t.Fatal("the CONNECT answer has no request id")
	}
	if r := e.sink.records(); len(r) != 0 {
		t.Fatalf("a record before the tunnel closed: %+v", r[0])
	}
	tr.CloseIdleConnections()
	r := e.sink.wait(t, byID(id))
	if r.Action != logs.ActionConnect || r.Outcome != logs.OutcomeAllowed || r.Reason != string(allowlist.ReasonAllowedGrant) ||
		r.Status != 200 || r.Domain != "facebook.com" || r.Platform != "facebook" || r.User != "bjones" ||
		r.DestIP.String() != "127.0.0.1" || r.DestPort != uint16(mustPort(t, e.tlsOrigin.addr)) || r.Path != "" || r.Method != "CONNECT" {
		t.Errorf("record %+v", r)
	}
	if r.SrcBytes <= int64(len("GET /through/the/tunnel HTTP/1.1\r\n")) || r.DestBytes <= int64(len(body)) {
		t.Errorf("record bytes: source %d, destination %d", r.SrcBytes, r.DestBytes)
	}
	if len(e.tlsOrigin.requests()) != 1 {
		t.Errorf("origin got %d requests", len(e.tlsOrigin.requests()))
	}
}

// TestConnectByteCounts: the tunnel forwards the bytes a client sends in
// the same write as its CONNECT header, and its record counts exactly the
// bytes that went each way.
func TestConnectByteCounts(t *testing.T) {
	e := newEnv(t, envConfig{})
	early := "GET /counted HTTP/1.1\r\nHost: facebook.com\r\n" // sent with the CONNECT header
	late := "Connection: close\r\n\r\n"                        // sent once the tunnel is up
	connect := e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{H}"})
	resp, body, conn, br := e.raw("", connect+early)
	if resp.StatusCode != 200 || conn == nil {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, late); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(br) // the origin closes after its answer
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(got, []byte("hello from origin /counted")) {
		t.Fatalf("through the tunnel: %q", got)
	}
	conn.Close()
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.SrcBytes != int64(len(early+late)) || r.DestBytes != int64(len(got)) {
		t.Errorf("record bytes: source %d, want %d; destination %d, want %d", r.SrcBytes, len(early+late), r.DestBytes, len(got))
	}
	if r.Status != 200 || r.Outcome != logs.OutcomeAllowed {
		t.Errorf("record %+v", r)
	}
}

// TestConnectBlocked: a blocked CONNECT gets a 403 with the reason in the
// X-Smgate-Reason header and the body, and a usage record; nothing is
// dialled, and the connection serves the next request.
func TestConnectBlocked(t *testing.T) {
	e := newEnv(t, envConfig{})
	connect := e.request(wireCase{user: "tlee", pass: "roads", method: "CONNECT", target: "www.facebook.com:{T}"})
	get := e.request(wireCase{user: "tlee", pass: "roads", method: "GET", target: "http://youtube.com:{H}/CTDOT"})
	resps := e.pipeline(connect + get)
	resp := resps[0]
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(allowlist.ReasonNoGrant) {
		t.Fatalf("got %d, %s %q", resp.StatusCode, headerReason, resp.Header.Get(headerReason))
	}
	if resps[1].StatusCode != 200 {
		t.Errorf("the request after a refused CONNECT on the same connection: %d", resps[1].StatusCode)
	}
	resp, body, _, _ := e.raw("", connect)
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	id := resp.Header.Get(headerRequestID)
	for _, want := range []string{allowlist.ReasonNoGrant.Explain(), string(allowlist.ReasonNoGrant), "Facebook", id} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	r := e.sink.wait(t, byID(id))
	if r.Action != logs.ActionConnect || r.Outcome != logs.OutcomeBlocked || r.Reason != string(allowlist.ReasonNoGrant) ||
		r.Status != 403 || r.Domain != "www.facebook.com" || r.Platform != "facebook" || r.User != "tlee" ||
		r.DestIP.IsValid() || r.DestPort != uint16(mustPort(t, e.tlsOrigin.addr)) || r.SrcBytes != 0 || r.DestBytes != 0 {
		t.Errorf("record %+v", r)
	}
	if n := len(e.tlsOrigin.requests()); n != 0 {
		t.Errorf("origin got %d requests", n)
	}
}

// TestConnectWithoutPortRefused: a CONNECT authority without a usable port
// is refused with 400, not guessed to be 443, and decides nothing.
func TestConnectWithoutPortRefused(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, c := range []struct {
		target string
		ours   bool // false: net/http refuses the authority before the proxy sees it
	}{
		{"facebook.com", true}, {"facebook.com:", true}, {"facebook.com:0", true}, {"facebook.com:65536", true},
		{"[::1]", true}, {":443", true}, {"127.0.0.1", true},
		{"facebook.com:https", false}, {"facebook.com:-1", false},
	} {
		t.Run(c.target, func(t *testing.T) {
			req := "CONNECT " + c.target + " HTTP/1.1\r\nHost: " + c.target + "\r\nProxy-Authorization: " + basic("bjones", "hunter2") + "\r\n\r\n"
			resp, body, conn, _ := e.raw("", req)
			if conn != nil {
				conn.Close()
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			if c.ours && (resp.Header.Get(headerRequestID) == "" || !strings.Contains(body, "host and a port")) {
				t.Errorf("page does not say what is missing:\n%s", body)
			}
		})
	}
	if r := e.sink.records(); len(r) != 0 {
		t.Errorf("%d records for requests that decided nothing: %+v", len(r), r[0])
	}
}

// TestConnectDecidedWithoutPort: the decision is on the host alone, the
// port is the record's destination.port, and a social host on a port
// outside allowed_ports is blocked before anything is dialled (while any
// port is fine for a host that is not social media).
func TestConnectDecidedWithoutPort(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, _, conn, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	conn.Close()
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Domain != "facebook.com" || r.Platform != "facebook" || r.DestPort != uint16(mustPort(t, e.tlsOrigin.addr)) {
		t.Errorf("record %+v", r)
	}

	ln, accepted := acceptSignal(t)
	other := portOf(ln.Addr().String()) // in no allowed_ports
	for _, c := range []struct {
		name       string
		user, pass string
	}{{"granted user", "bjones", "hunter2"}, {"no credentials", "", ""}} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, conn, _ := e.raw("", e.request(wireCase{user: c.user, pass: c.pass, method: "CONNECT", target: "facebook.com:" + other}))
			if conn != nil {
				conn.Close()
			}
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(allowlist.ReasonPort) ||
				!strings.Contains(body, allowlist.ReasonPort.Explain()) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
			if r.Reason != string(allowlist.ReasonPort) || r.Domain != "facebook.com" || r.DestPort != uint16(mustPort(t, ln.Addr().String())) {
				t.Errorf("record %+v", r)
			}
		})
	}
	select {
	case <-accepted:
		t.Fatal("a CONNECT blocked for its port was dialled")
	default:
	}
	resp, body, conn, _ := e.raw("", "CONNECT example.test:"+other+" HTTP/1.1\r\nHost: example.test:"+other+"\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("not social media on another port: %d %q", resp.StatusCode, body)
	}
	conn.Close()
	<-accepted
}

// acceptSignal returns a loopback listener that signals each connection
// it accepts (and closes it).
func acceptSignal(t *testing.T) (net.Listener, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, ch
}

func mustPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConnectChallengeThenTunnelOnSameConnection: as curl does, a client
// answered 407 to a CONNECT retries with credentials on the same
// connection, which then becomes the tunnel.
func TestConnectChallengeThenTunnelOnSameConnection(t *testing.T) {
	e := newEnv(t, envConfig{})
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i, w := range []wireCase{
		{method: "CONNECT", target: "facebook.com:{T}"},
		{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"},
	} {
		if _, err := io.WriteString(c, e.request(w)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if want := []int{407, 200}[i]; resp.StatusCode != want {
			t.Fatalf("answer %d: %d, want %d", i, resp.StatusCode, want)
		}
		if i == 0 {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if br.Buffered() != 0 {
		t.Fatalf("%d bytes after the 200", br.Buffered())
	}
	if got := getOverTunnel(t, e, c); got != "hello from origin /tunnelled" {
		t.Errorf("through the tunnel: %q", got)
	}
}

// TestConnectAccountGrantUnverified: without interception a CONNECT shows
// no path, so an account-level grant is applied at platform level and
// recorded as account "unverified" when proxy.unverified_accounts is
// "allow", and not at all when it is "block".
func TestConnectAccountGrantUnverified(t *testing.T) {
	e := newEnv(t, envConfig{})
	strict := e.sideServer(t, `unverified_accounts = "block"`, nil)
	for _, c := range []struct {
		name   string
		env    *env
		status int
		reason allowlist.Reason
		acct   string
	}{
		{"allow", e, 200, allowlist.ReasonAllowedGrant, allowlist.UnverifiedAccount},
		{"block", strict, 403, allowlist.ReasonNoGrant, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, _, conn, _ := c.env.raw("", c.env.request(wireCase{user: "tlee", pass: "roads", method: "CONNECT", target: "www.youtube.com:{T}"}))
			if conn != nil {
				conn.Close()
			}
			if resp.StatusCode != c.status {
				t.Fatalf("got %d", resp.StatusCode)
			}
			r := c.env.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
			if r.Reason != string(c.reason) || r.Account != c.acct || r.Platform != "youtube" {
				t.Errorf("record %+v", r)
			}
			if c.status == 200 && r.Role != "dot-communications" {
				t.Errorf("record role %q", r.Role)
			}
		})
	}
}

// TestConnectBlockedBeforeIdentity: a CONNECT to a bypass service (DoH),
// a banned platform or a social port outside allowed_ports is refused
// with 403 even without credentials: no sign-in could allow it, so no
// 407 asks for one.
func TestConnectBlockedBeforeIdentity(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, c := range []struct {
		target string
		reason allowlist.Reason
	}{
		{"cloudflare-dns.com:443", allowlist.ReasonBypass},
		{"dns.google:853", allowlist.ReasonBypass},
		{"www.tiktok.com:443", allowlist.ReasonPlatformBanned},
		{"facebook.com:8443", allowlist.ReasonPort},
	} {
		resp, body, conn, _ := e.raw("", e.request(wireCase{method: "CONNECT", target: c.target}))
		if conn != nil {
			conn.Close()
		}
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(c.reason) ||
			resp.Header.Get("Proxy-Authenticate") != "" {
			t.Errorf("%s: got %d %s %q", c.target, resp.StatusCode, resp.Header.Get(headerReason), body)
			continue
		}
		r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		if r.Reason != string(c.reason) || r.Action != logs.ActionConnect {
			t.Errorf("%s: record %+v", c.target, r)
		}
	}
}

// silentServer accepts connections on loopback, reads each to its end of
// stream and never writes; each connection is sent on eof once its peer
// has half-closed it, and stays open until the receiver closes it.
func silentServer(t *testing.T) (addr string, eof <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); ch <- c }()
		}
	}()
	return ln.Addr().String(), ch
}

// TestAbandonedTunnelIsClosed: a client that closes its socket while the
// destination stays silent does not keep the tunnel (and its place under
// proxy.max_conns) open: the open half is closed after proxy.idle_timeout
// without a byte, and the tunnel's record is written.
func TestAbandonedTunnelIsClosed(t *testing.T) {
	e := newEnv(t, envConfig{logNotSocial: true, maxConns: 1})
	s := e.sideServer(t, `idle_timeout = "300ms"`, nil)
	addr, eof := silentServer(t)
	resp, _, c, _ := s.raw("", "CONNECT example.test:"+portOf(addr)+" HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	id := resp.Header.Get(headerRequestID)
	c.Close()
	up := <-eof // the client's end passed on as a half-close
	defer up.Close()
	r := e.sink.wait(t, byID(id))
	if r.Status != 200 || r.Action != logs.ActionConnect {
		t.Errorf("record %+v", r)
	}
	waitFor(t, "the tunnel's connection to close", func() bool { return testutil.ToFloat64(s.srv.m.tunnels) == 0 })
	// The one connection allowed is free again.
	if st, err := s.dialLive(t).get("http://example.test:" + portOf(e.origin.addr) + "/"); err != nil || st != 200 {
		t.Errorf("next client: %d %v", st, err)
	}
}

// halfClosedTunnel opens a tunnel through a proxy with idle_timeout = 1s
// to a destination that reads until the client's half-close and then
// runs send, and half-closes the client's side. It returns the reader of
// what comes through to the client.
func halfClosedTunnel(t *testing.T, send func(c net.Conn)) *bufio.Reader {
	t.Helper()
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `idle_timeout = "1s"`, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c) // until the client's half-close
		send(c)
	}()
	resp, _, c, br := s.raw("", "CONNECT example.test:"+portOf(ln.Addr().String())+" HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return br
}

// TestHalfClosedTunnelKeepsMoving: after the client half-closes, the
// other direction stays open as long as bytes keep coming, well past
// proxy.idle_timeout in all.
func TestHalfClosedTunnelKeepsMoving(t *testing.T) {
	const chunks, gap = 12, 150 * time.Millisecond // 1.8 s in all
	br := halfClosedTunnel(t, func(c net.Conn) {
		for i := 0; i < chunks; i++ {
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(gap) // pacing the download, not waiting for anything
		}
	})
	got, err := io.ReadAll(br)
	if len(got) != chunks || err != nil {
		t.Errorf("got %d of %d bytes: %v", len(got), chunks, err)
	}
}

// TestHalfClosedTunnelSlowClientGetsAll: after the client half-closes,
// a destination that sends more than the client's socket holds keeps the
// tunnel open while the client is slow to read: the time the copy waits
// for the client to take the bytes is not the destination's silence
// (proxy.idle_timeout bounds "a tunnel whose one side has closed while the
// other sends nothing for that long"). Bounding the unsent bytes of a
// tunnel's sockets (unsent_linux.go) makes the copy wait for the client
// after a few hundred KiB rather than megabytes.
func TestHalfClosedTunnelSlowClientGetsAll(t *testing.T) {
	const size = 2 << 20
	br := halfClosedTunnel(t, func(c net.Conn) { _, _ = c.Write(make([]byte, size)) })
	time.Sleep(2 * time.Second) // a client slow to read: twice idle_timeout
	n, err := io.Copy(io.Discard, br)
	if n != size || err != nil {
		t.Errorf("got %d of %d bytes: %v", n, size, err)
	}
}

// TestTunnelLifetime: a tunnel open for the tunnel lifetime is closed,
// and its record (stamped when it opened) is written then and says why,
// so that no record is filed more than a day after its time.
func TestTunnelLifetime(t *testing.T) {
	e := newEnv(t, envConfig{mutate: func(o *Options) { o.TunnelLifetime = 200 * time.Millisecond }})
	resp, _, c, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	defer c.Close()
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Message != "closed at the gateway's tunnel lifetime" || r.Status != 200 {
		t.Errorf("record %+v", r)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("tunnel open after its lifetime")
	}
}
