package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// connectTo opens a tunnel to target (a CONNECT authority, {T} expanded)
// as user, and returns it with the request id of its record ("" when none).
func (e *env) connectTo(t *testing.T, target, user, pass string) (net.Conn, string) {
	t.Helper()
	resp, body, conn, br := e.raw("", e.request(wireCase{user: user, pass: pass, method: http.MethodConnect, target: target}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s as %q: %d %q", target, user, resp.StatusCode, body)
	}
	if br.Buffered() > 0 {
		t.Fatalf("CONNECT %s: %d bytes after the 200", target, br.Buffered())
	}
	return conn, resp.Header.Get(headerRequestID)
}

// tlsGet speaks TLS with serverName in its hello over conn (the origin's
// certificate is not checked: it names neither platform) and GETs /sni.
func tlsGet(conn net.Conn, serverName string) (string, error) {
	tc := tls.Client(conn, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(tc, "GET /sni HTTP/1.1\r\nHost: "+serverName+"\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestTunnelDecidedOnTLSServerName: a tunnel whose ClientHello names a
// platform other than its CONNECT host (a bare address the gateway never
// resolved, a name that is not social media) is decided as the platform
// the hello names. Granted: it goes on, recorded as that platform.
// Otherwise it is closed before the hello reaches the server, recorded
// blocked-bypass.
func TestTunnelDecidedOnTLSServerName(t *testing.T) {
	e := newEnv(t, envConfig{})

	// bjones's role grants Instagram: the tunnel to the bare address goes
	// on, and is recorded as Instagram.
	conn, id := e.connectTo(t, "127.0.0.1:{T}", "bjones", "hunter2")
	if id != "" {
		t.Fatalf("an unknown address got a record id before the hello: %s", id)
	}
	body, err := tlsGet(conn, "www.instagram.com")
	if err != nil || body != "hello from origin /sni" {
		t.Fatalf("bjones through the tunnel: %q, %v", body, err)
	}
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.instagram.com" })
	if r.Reason != string(allowlist.ReasonAllowedGrant) || r.Platform != "instagram" || r.User != "bjones" ||
		r.Action != logs.ActionConnect || r.DestIP.String() != "127.0.0.1" || r.DestBytes == 0 ||
		!strings.Contains(r.Message, "TLS server name www.instagram.com in a tunnel to 127.0.0.1") {
		t.Errorf("allowed record %+v", r)
	}

	// tlee's does not: closed, and the origin never sees the hello.
	before := len(e.tlsOrigin.requests())
	for _, c := range []struct{ target, user, pass, sni string }{
		{"127.0.0.1:{T}", "tlee", "roads", "www.instagram.com"},
		{"example.com:{T}", "tlee", "roads", "WWW.Instagram.com"},
		{"example.com:{T}", "", "", "www.facebook.com"}, // no identity: no challenge can be sent now
	} {
		conn, _ := e.connectTo(t, c.target, c.user, c.pass)
		if body, err := tlsGet(conn, c.sni); err == nil {
			t.Fatalf("%s with %s as %q went through: %q", c.target, c.sni, c.user, body)
		}
		host := strings.ToLower(c.sni)
		r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == host && r.User == c.user })
		if r.Reason != string(allowlist.ReasonBypass) || r.Outcome != logs.OutcomeBlocked ||
			!strings.Contains(r.Message, "closed: TLS server name "+host+" in a tunnel to ") {
			t.Errorf("%s with %s as %q: record %+v", c.target, c.sni, c.user, r)
		}
	}
	if n := len(e.tlsOrigin.requests()); n != before {
		t.Errorf("%d blocked requests reached the origin", n-before)
	}

	// A banned platform keeps its own reason.
	conn, _ = e.connectTo(t, "example.com:{T}", "bjones", "hunter2")
	if _, err := tlsGet(conn, "www.tiktok.com"); err == nil {
		t.Fatal("tiktok behind example.com went through")
	}
	r = e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.tiktok.com" })
	if r.Reason != string(allowlist.ReasonPlatformBanned) {
		t.Errorf("tiktok record %+v", r)
	}

	// The same name as the CONNECT host, or a name that is not social
	// media, changes nothing: no record for example.com.
	for _, sni := range []string{"example.com", "other.example"} {
		conn, _ = e.connectTo(t, "example.com:{T}", "", "")
		if body, err := tlsGet(conn, sni); err != nil || body != "hello from origin /sni" {
			t.Fatalf("example.com with %s: %q, %v", sni, body, err)
		}
	}
	for _, r := range e.sink.records() {
		if r.Domain == "example.com" || r.Domain == "other.example" {
			t.Errorf("record for a host that is not social media: %+v", r)
		}
	}
}

// TestTunnelAdoptedPlatformIsCutOnSuspension: a tunnel decided on its TLS
// server name is tracked as that platform, so suspending the platform
// closes it; it still goes to its CONNECT host's address, so suspending
// the CONNECT host's platform closes it too.
func TestTunnelAdoptedPlatformIsCutOnSuspension(t *testing.T) {
	for _, c := range []struct{ target, suspend string }{
		{"example.com:{T}", "instagram"}, // the server name's platform
		{"facebook.com:{T}", "facebook"}, // the CONNECT host's
	} {
		e := newEnv(t, envConfig{})
		conn, _ := e.connectTo(t, c.target, "bjones", "hunter2")
		tc := tls.Client(conn, &tls.Config{ServerName: "www.instagram.com", InsecureSkipVerify: true})
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.engine.Suspend(allowlist.ScopePlatform, c.suspend, "test", "tester"); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.Read(make([]byte, 1)); err == nil {
			t.Fatalf("the tunnel to %s stayed open after %s was suspended", c.target, c.suspend)
		}
		tc.Close()
		r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.instagram.com" })
		if r.Message != "closed by policy change: "+string(allowlist.ReasonPlatformSuspended) {
			t.Errorf("%s, %s suspended: record %+v", c.target, c.suspend, r)
		}
	}
}

// clientHello returns the first flight of a TLS client naming serverName.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _ = tls.Client(a, &tls.Config{ServerName: serverName}).Handshake() }()
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(b, rec); err != nil {
		t.Fatal(err)
	}
	return append(hdr, rec...)
}

// TestTunnelHelloInPieces: a ClientHello split over several records, sent
// a few bytes at a time, is read whole, the way a TLS server reads it;
// every byte reaches the server in order.
func TestTunnelHelloInPieces(t *testing.T) {
	e := newEnv(t, envConfig{})
	hello := clientHello(t, "www.instagram.com")
	msg := hello[5:]
	var split []byte
	for i := 0; i < len(msg); i += 100 { // records of 100 bytes of handshake message
		part := msg[i:min(i+100, len(msg))]
		split = append(split, hello[0], hello[1], hello[2], byte(len(part)>>8), byte(len(part)))
		split = append(split, part...)
	}
	conn, _ := e.connectTo(t, "example.com:{T}", "tlee", "roads")
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < len(split); i += 7 {
		if _, err := conn.Write(split[i:min(i+7, len(split))]); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the server answered %d bytes to a hello naming Instagram for tlee", n)
	}
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.instagram.com" })
	if r.Reason != string(allowlist.ReasonBypass) || r.User != "tlee" {
		t.Errorf("record %+v", r)
	}
}

// TestTunnelUnreadableHello: bytes that begin a TLS handshake record but
// are no ClientHello close the tunnel as blocked-bypass (the server might
// read a name the gateway did not); bytes that do not begin one go
// through untouched, and a server that speaks first is not kept waiting
// for the client.
func TestTunnelUnreadableHello(t *testing.T) {
	e := newEnv(t, envConfig{})
	conn, id := e.connectTo(t, "example.com:{T}", "", "")
	if id != "" {
		t.Fatalf("record id %s for example.com", id)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte{recordTypeHandshake, 3, 1, 0, 4, 9, 9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the tunnel stayed open after an unreadable hello")
	}
	conn.Close()
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "example.com" })
	if r.Reason != string(allowlist.ReasonBypass) || !strings.Contains(r.Message, "could not read the TLS client hello") {
		t.Errorf("record %+v", r)
	}

	// A server that greets first (SMTP, FTP): its banner reaches the
	// client, which answers; not TLS, not inspected.
	addr := serveOne(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "220 greetings\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		_, _ = io.WriteString(c, "250 "+line)
	})
	resp, body, conn, br := e.raw("", "CONNECT example.com:"+portOf(addr)+" HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT to the greeting server: %d %q", resp.StatusCode, body)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || line != "220 greetings\r\n" {
		t.Fatalf("banner %q, %v", line, err)
	}
	if _, err := io.WriteString(conn, "HELO gw\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "250 HELO gw\r\n" {
		t.Fatalf("answer %q, %v", line, err)
	}
}

// TestTunnelAlertBeforeHello: TLS servers (crypto/tls among them) skip a
// warning alert sent before the ClientHello, so a tunnel that begins with
// one is still decided on the server name of the hello that follows.
func TestTunnelAlertBeforeHello(t *testing.T) {
	e := newEnv(t, envConfig{})
	before := len(e.tlsOrigin.requests())
	conn, _ := e.connectTo(t, "example.com:{T}", "tlee", "roads")
	if _, err := conn.Write([]byte{recordTypeAlert, 3, 1, 0, 2, 1, 90}); err != nil { // warning, user_canceled
		t.Fatal(err)
	}
	if body, err := tlsGet(conn, "www.instagram.com"); err == nil {
		t.Fatalf("a hello naming Instagram after an alert went through for tlee: %q", body)
	}
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.instagram.com" })
	if r.Reason != string(allowlist.ReasonBypass) || r.User != "tlee" {
		t.Errorf("record %+v", r)
	}
	if n := len(e.tlsOrigin.requests()); n != before {
		t.Errorf("%d blocked requests reached the origin", n-before)
	}

	// A client granted Instagram gets through the same way.
	conn, _ = e.connectTo(t, "example.com:{T}", "bjones", "hunter2")
	if _, err := conn.Write([]byte{recordTypeAlert, 3, 1, 0, 2, 1, 90}); err != nil {
		t.Fatal(err)
	}
	if body, err := tlsGet(conn, "www.instagram.com"); err != nil || body != "hello from origin /sni" {
		t.Fatalf("bjones after an alert: %q, %v", body, err)
	}
}

// TestTunnelServerNameDecidedOnCurrentPolicy: the server name is decided
// on the policy in force when the hello comes, not on the one the CONNECT
// was decided on: a platform suspended in between is not reached.
func TestTunnelServerNameDecidedOnCurrentPolicy(t *testing.T) {
	e := newEnv(t, envConfig{})
	conn, _ := e.connectTo(t, "example.com:{T}", "bjones", "hunter2")
	if _, err := e.engine.Suspend(allowlist.ScopePlatform, "instagram", "test", "tester"); err != nil {
		t.Fatal(err)
	}
	before := len(e.tlsOrigin.requests())
	if body, err := tlsGet(conn, "www.instagram.com"); err == nil {
		t.Fatalf("a hello naming suspended Instagram went through: %q", body)
	}
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.instagram.com" })
	if r.Reason != string(allowlist.ReasonPlatformSuspended) || r.Outcome != logs.OutcomeBlocked {
		t.Errorf("record %+v", r)
	}
	if n := len(e.tlsOrigin.requests()); n != before {
		t.Errorf("%d requests reached the origin", n-before)
	}
}

// TestTunnelUnreadableHelloReportMode: in report mode an unreadable hello
// is recorded blocked-bypass, not enforced, and the tunnel goes on, as
// every other block in report mode does.
func TestTunnelUnreadableHelloReportMode(t *testing.T) {
	e := newEnv(t, envConfig{mode: "report"})
	bad := []byte{recordTypeHandshake, 3, 1, 0, 4, 9, 9, 9, 9}
	got := make(chan []byte, 1)
	addr := serveOne(t, func(c net.Conn) {
		b := make([]byte, len(bad))
		_, _ = io.ReadFull(c, b)
		got <- b
	})
	resp, body, conn, _ := e.raw("", "CONNECT example.com:"+portOf(addr)+" HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d %q", resp.StatusCode, body)
	}
	defer conn.Close()
	if _, err := conn.Write(bad); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != string(bad) {
		t.Errorf("the server got %q, want %q", b, bad)
	}
	conn.Close()
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "example.com" })
	if r.Reason != string(allowlist.ReasonBypass) || !r.NotEnforced || r.SrcBytes != int64(len(bad)) ||
		strings.Contains(r.Message, "closed") {
		t.Errorf("record %+v", r)
	}
}

// TestTunnelServerNameReasonInEveryMode: a hello naming a platform the
// client is not granted is recorded and counted blocked-bypass, in
// enforce mode (closed) and in report mode (let through, not enforced)
// alike, so that report mode's records say what enforce would do.
func TestTunnelServerNameReasonInEveryMode(t *testing.T) {
	for _, mode := range []string{"enforce", "report"} {
		e := newEnv(t, envConfig{mode: mode})
		conn, _ := e.connectTo(t, "example.com:{T}", "tlee", "roads")
		body, err := tlsGet(conn, "www.instagram.com")
		if through := err == nil && body == "hello from origin /sni"; through != (mode == "report") {
			t.Errorf("%s: went through %v (%q, %v)", mode, through, body, err)
		}
		r := e.sink.wait(t, func(r *logs.Record) bool { return r.Domain == "www.instagram.com" })
		if r.Reason != string(allowlist.ReasonBypass) || r.NotEnforced != (mode == "report") {
			t.Errorf("%s: record %+v", mode, r)
		}
		c := e.srv.m.requests.WithLabelValues(string(allowlist.SourceExplicit), "instagram", logs.OutcomeBlocked, string(allowlist.ReasonBypass))
		if n := testutil.ToFloat64(c); n != 1 {
			t.Errorf("%s: %v tunnels counted blocked-bypass", mode, n)
		}
	}
}

// TestTunnelIdleAfterServerEndsDuringHello: a server that ends its
// direction while the client's hello is still coming leaves the client's
// direction bounded by proxy.idle_timeout, as when it ends later; reading
// the hello (which sets and clears the client's read deadline) does not
// lift that bound.
func TestTunnelIdleAfterServerEndsDuringHello(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `idle_timeout = "300ms"`, nil)
	addr := serveOne(t, func(c net.Conn) {
		_ = c.(*net.TCPConn).CloseWrite() // says nothing, reads on
		_, _ = io.Copy(io.Discard, c)
	})
	resp, body, conn, br := s.raw("", "CONNECT example.test:"+portOf(addr)+" HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d %q", resp.StatusCode, body)
	}
	defer conn.Close()
	hello := clientHello(t, "example.test")
	if _, err := conn.Write(hello[:1]); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the server's end did not reach the client: %v", err)
	}
	if _, err := conn.Write(hello[1:]); err != nil {
		t.Fatal(err)
	}
	// The client now stays silent: the tunnel is closed after idle_timeout.
	waitFor(t, "the idle tunnel to close", func() bool { return testutil.ToFloat64(s.srv.m.tunnels) == 0 })
}

// TestTunnelCutDuringHello: a tunnel that the gateway closes (here a
// suspension) while its client's hello is still coming is recorded as it
// was decided, with the reason of the cut, not as a client hello the
// gateway could not read (blocked-bypass).
func TestTunnelCutDuringHello(t *testing.T) {
	e := newEnv(t, envConfig{})
	hello := clientHello(t, "www.facebook.com")
	// The start of the hello comes with the CONNECT, so that the proxy
	// reads the rest of it from the socket when the cut comes.
	resp, body, conn, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: http.MethodConnect,
		target: "facebook.com:{T}"})+string(hello[:20]))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d %q", resp.StatusCode, body)
	}
	defer conn.Close()
	if _, err := e.engine.Suspend(allowlist.ScopePlatform, "facebook", "test", "tester"); err != nil {
		t.Fatal(err)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Outcome != logs.OutcomeAllowed || r.Reason != string(allowlist.ReasonAllowedGrant) ||
		r.Message != "closed by policy change: "+string(allowlist.ReasonPlatformSuspended) {
		t.Errorf("record %+v", r)
	}
}

// TestTunnelReportModeKeepsConnectBlock: in report mode a CONNECT that
// enforce would block goes through; a hello naming a platform the client
// is granted does not turn its record into an allowed one.
func TestTunnelReportModeKeepsConnectBlock(t *testing.T) {
	e := newEnv(t, envConfig{mode: "report"})
	conn, id := e.connectTo(t, "instagram.com:{T}", "tlee", "roads")
	if body, err := tlsGet(conn, "www.youtube.com"); err != nil || body != "hello from origin /sni" {
		t.Fatalf("report mode: %q, %v", body, err)
	}
	r := e.sink.wait(t, byID(id))
	if r.Outcome != logs.OutcomeBlocked || r.Reason != string(allowlist.ReasonNoGrant) || !r.NotEnforced ||
		r.Domain != "instagram.com" || !strings.Contains(r.Message, "TLS server name www.youtube.com") {
		t.Errorf("record %+v", r)
	}
}

// TestTunnelClientEndsDuringHello: a client that leaves before its hello
// is whole reached no server with it: the tunnel ends as it was decided,
// with a note and no bypass in the record (none at all for a host that is
// not social media).
func TestTunnelClientEndsDuringHello(t *testing.T) {
	e := newEnv(t, envConfig{})
	hello := clientHello(t, "www.instagram.com")
	for _, c := range []struct{ target, user, pass string }{
		{"facebook.com:{T}", "bjones", "hunter2"},
		{"example.com:{T}", "", ""},
	} {
		conn, id := e.connectTo(t, c.target, c.user, c.pass)
		if _, err := conn.Write(hello[:20]); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%s: the tunnel answered a hello the client never finished", c.target)
		}
		conn.Close()
		if id != "" {
			r := e.sink.wait(t, byID(id))
			if r.Reason != string(allowlist.ReasonAllowedGrant) || r.Message != "closed: the client ended the tunnel during its TLS client hello" {
				t.Errorf("%s: record %+v", c.target, r)
			}
		}
	}
	// Both tunnels are closed and recorded (the tracker is empty) before
	// the records are looked at.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.tracker.wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.sink.records() {
		if r.Reason == string(allowlist.ReasonBypass) {
			t.Errorf("bypass recorded for a hello never finished: %+v", r)
		}
	}
}

// TestSilentTunnelsHoldNoBuffer: while a tunnel waits for its client's
// first bytes it holds no copy buffer (64 KiB each), so tunnels whose
// clients wait for the server, or never speak, cost the gateway little.
func TestSilentTunnelsHoldNoBuffer(t *testing.T) {
	e := newEnv(t, envConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // a server that says nothing either
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // the second empties sync.Pools
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const n = 100
	for range n {
		conn, _ := e.connectTo(t, "example.com:"+portOf(ln.Addr().String()), "", "")
		defer conn.Close()
	}
	waitFor(t, "the tunnels to open", func() bool { return testutil.ToFloat64(e.srv.m.tunnels) == n })
	if per := (int64(heap()) - int64(before)) / n; per > 32<<10 {
		t.Errorf("each silent tunnel holds %d bytes of heap", per)
	}
}

// serveOne accepts one connection on a loopback listener, hands it to
// serve and closes it; it returns the listener's address.
func serveOne(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
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
		serve(c)
	}()
	return ln.Addr().String()
}
