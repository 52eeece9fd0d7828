package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
)

// sideServer starts a second proxy on the env's policy files, with extra
// lines in its [proxy] section and hook as its testHook (set before it
// serves), and returns an env that talks to it with its own registry and
// operational log.
func (e *env) sideServer(t *testing.T, proxyTOML string, hook func(*http.Request)) *env {
	t.Helper()
	return e.sideServerEdit(t, func(cfg string) string {
		return strings.Replace(cfg, "[proxy]\n", "[proxy]\n"+proxyTOML+"\n", 1)
	}, hook)
}

// sideServerEdit is sideServer with the gateway file edited by edit.
func (e *env) sideServerEdit(t *testing.T, edit func(string) string, hook func(*http.Request)) *env {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "smgate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "side.toml")
	cfg := edit(string(b))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := *e
	s.reg, s.oplog = prometheus.NewRegistry(), &lockedBuffer{}
	s.engine, err = allowlist.NewEngine(path, allowlist.EngineOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	s.srv, err = New(Options{Engine: s.engine, Sink: e.sink, Logger: zerolog.New(s.oplog), Registerer: s.reg,
		Now: func() time.Time { return testNow }, UpstreamTLS: &tls.Config{RootCAs: e.roots}})
	if err != nil {
		t.Fatal(err)
	}
	s.srv.testHook = hook
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.proxy = ln.Addr().String()
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	t.Cleanup(s.close)
	return &s
}

// liveConn is a client connection to the proxy that sends one request at
// a time and reads its answer.
type liveConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (e *env) dialLive(t *testing.T) *liveConn {
	t.Helper()
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &liveConn{t: t, c: c, br: bufio.NewReader(c)}
}

// get sends GET target and returns the status, or an error when the
// connection ends without an answer.
func (k *liveConn) get(target string) (int, error) {
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	host := strings.SplitN(strings.TrimPrefix(target, "http://"), "/", 2)[0]
	if _, err := io.WriteString(k.c, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitFor polls cond until it holds, failing after a few seconds. Only
// for asynchronous effects that are themselves under test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPanicRecovered: a panic while serving one request ends that
// connection only; it is counted and logged, and other connections, open
// before or after, are served.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, "", func(r *http.Request) {
		if r.URL.Path == "/panic" || strings.HasPrefix(r.URL.Host, "panic.") {
			panic("test panic in the handler")
		}
	})
	ok := "http://example.test:" + portOf(e.origin.addr) + "/fine"
	before := s.dialLive(t)
	if st, err := before.get(ok); err != nil || st != 200 {
		t.Fatalf("before: %d %v", st, err)
	}
	victim := s.dialLive(t)
	if st, err := victim.get("http://example.test:" + portOf(e.origin.addr) + "/panic"); err == nil {
		t.Fatalf("the panicking request got an answer: %d", st)
	}
	if n := testutil.ToFloat64(s.srv.m.panics); n != 1 {
		t.Errorf("panics counted %v, want 1", n)
	}
	if log := s.oplog.String(); !strings.Contains(log, "panic serving connection") || !strings.Contains(log, "test panic in the handler") {
		t.Errorf("panic not logged:\n%s", log)
	}
	if st, err := before.get(ok); err != nil || st != 200 {
		t.Errorf("connection open before the panic: %d %v", st, err)
	}
	after := s.dialLive(t)
	if st, err := after.get(ok); err != nil || st != 200 {
		t.Errorf("new connection after the panic: %d %v", st, err)
	}
	client := s.client("bjones", "hunter2", "")
	if resp, _ := s.do(client, "GET", "http://facebook.com:"+portOf(e.origin.addr)+"/", nil); resp.StatusCode != 200 {
		t.Errorf("social-media request after the panic: %d", resp.StatusCode)
	}
	c, err := net.Dial("tcp", s.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "CONNECT panic.test:443 HTTP/1.1\r\nHost: panic.test:443\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Errorf("panicking CONNECT: %q %v", b, err)
	}
	if n := testutil.ToFloat64(s.srv.m.panics); n != 2 {
		t.Errorf("panics counted %v, want 2", n)
	}
	before.c.Close()
	after.c.Close()
	client.CloseIdleConnections()
	waitFor(t, "every connection's place, the panicking ones' too", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
}

// TestConnectionCap: past proxy.max_conns open client connections, a new
// one is answered 503 and closed; closing one makes room again.
func TestConnectionCap(t *testing.T) {
	e := newEnv(t, envConfig{maxConns: 2})
	ok := "http://example.test:" + portOf(e.origin.addr) + "/"
	a, b := e.dialLive(t), e.dialLive(t)
	for _, k := range []*liveConn{a, b} {
		if st, err := k.get(ok); err != nil || st != 200 {
			t.Fatalf("under the cap: %d %v", st, err)
		}
	}
	resp, body, _, _ := e.raw("", "GET "+ok+" HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, explainBusy) {
		t.Fatalf("past the cap: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if n := testutil.ToFloat64(e.srv.m.refused.WithLabelValues("connection_cap")); n != 1 {
		t.Errorf("connection_cap refusals counted %v", n)
	}
	if st, err := a.get(ok); err != nil || st != 200 {
		t.Errorf("connection under the cap after a refusal: %d %v", st, err)
	}
	b.c.Close()
	waitFor(t, "the closed connection's place", func() bool { return testutil.ToFloat64(e.srv.m.conns) < 2 })
	if st, err := e.dialLive(t).get(ok); err != nil || st != 200 {
		t.Errorf("after a connection closed: %d %v", st, err)
	}
}

// TestUpstreamDown: an origin that refuses connections gets a 502 page,
// a name that does not resolve too, each with a record that says why.
func TestUpstreamDown(t *testing.T) {
	e := newEnv(t, envConfig{logNotSocial: true})
	down := closedPort(t)
	for _, c := range []struct {
		name, req, explain, note string
	}{
		{"http", "GET http://example.test:" + down + "/ HTTP/1.1\r\nHost: example.test:" + down + "\r\nAccept: text/html\r\n\r\n", explainBadGateway, "gateway: upstream_error"},
		{"connect", "CONNECT example.test:" + down + " HTTP/1.1\r\nHost: example.test:" + down + "\r\n\r\n", explainBadGateway, "gateway: upstream_error"},
		{"no such name", "GET http://nosuch.invalid/ HTTP/1.1\r\nHost: nosuch.invalid\r\n\r\n", explainNoName, "gateway: no_such_name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, conn, _ := e.raw("", c.req)
			if conn != nil {
				conn.Close()
			}
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, c.explain) || !strings.Contains(body, titleError) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			id := resp.Header.Get(headerRequestID)
			if !strings.Contains(body, id) {
				t.Errorf("page lacks the request id %q", id)
			}
			r := e.sink.wait(t, byID(id))
			if r.Status != http.StatusBadGateway || r.Message != c.note || r.Reason != string(allowlist.ReasonAllowedNotSocial) {
				t.Errorf("record %+v", r)
			}
		})
	}
}

// TestUpstreamDownSocial: an allowed social-media request whose origin
// refuses the connection (nothing listens on 127.0.0.1:80 and :443 here)
// gets the 502 page; its record keeps the decision and adds the failure.
func TestUpstreamDownSocial(t *testing.T) {
	for _, p := range []string{"80", "443"} {
		if c, err := net.Dial("tcp", "127.0.0.1:"+p); err == nil {
			c.Close()
			t.Skipf("something listens on 127.0.0.1:%s here", p)
		}
	}
	e := newEnv(t, envConfig{})
	for _, c := range []wireCase{
		{user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com/"},
		{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:443"},
	} {
		resp, body, conn, _ := e.raw("", e.request(c))
		if conn != nil {
			conn.Close()
		}
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, explainBadGateway) {
			t.Fatalf("%s: got %d %q", c.method, resp.StatusCode, body)
		}
		r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		if r.Reason != string(allowlist.ReasonAllowedGrant) || r.Status != http.StatusBadGateway ||
			r.Message != "gateway: upstream_error" || r.Platform != "facebook" || r.User != "bjones" {
			t.Errorf("%s: record %+v", c.method, r)
		}
	}
}

// TestOversizedHeader: a request header past the limit is answered 431
// and its connection closed; other clients are served meanwhile.
func TestOversizedHeader(t *testing.T) {
	e := newEnv(t, envConfig{})
	ok := "http://example.test:" + portOf(e.origin.addr) + "/"
	other := e.dialLive(t)
	if st, err := other.get(ok); err != nil || st != 200 {
		t.Fatalf("before: %d %v", st, err)
	}
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	big := "GET " + ok + " HTTP/1.1\r\nHost: example.test\r\nX-Big: " + strings.Repeat("a", 2*maxHeaderBytes) + "\r\n\r\n"
	go func() { _, _ = io.WriteString(c, big) }() // the server stops reading past the limit
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %d", resp.StatusCode)
	}
	if st, err := other.get(ok); err != nil || st != 200 {
		t.Errorf("other client after the oversized header: %d %v", st, err)
	}
	if st, err := e.dialLive(t).get(ok); err != nil || st != 200 {
		t.Errorf("new client after the oversized header: %d %v", st, err)
	}
}

// TestHeaderTimeout: a client that does not finish its request header in
// proxy.header_timeout is disconnected; others are served meanwhile, and
// neither an open tunnel nor an idle keep-alive connection, both older
// than the timeout by the time the slow client is cut, is cut with it.
func TestHeaderTimeout(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `header_timeout = "200ms"`, nil)
	ok := "http://example.test:" + portOf(e.origin.addr) + "/"
	idle := s.dialLive(t)
	if st, err := idle.get(ok); err != nil || st != 200 {
		t.Fatalf("keep-alive: %d %v", st, err)
	}
	resp, _, tunnel, _ := s.raw("", s.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("tunnel: %d", resp.StatusCode)
	}
	defer tunnel.Close()

	slow, err := net.Dial("tcp", s.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "GET http://example.test/ HTTP/1.1\r\nHost: exa"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.dialLive(t).get(ok); err != nil || st != 200 {
		t.Errorf("other client while one is slow: %d %v", st, err)
	}
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second)) // a safety net, far past header_timeout
	_, err = io.ReadAll(slow)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the slow client was never disconnected")
	}

	if st, err := idle.get(ok); err != nil || st != 200 {
		t.Errorf("idle keep-alive connection after header_timeout: %d %v", st, err)
	}
	if got := getOverTunnel(t, e, tunnel); got != "hello from origin /tunnelled" {
		t.Errorf("tunnel after header_timeout: %q", got)
	}
}

// TestConnectionCapCountsTunnels: an open tunnel holds its client
// connection's place until it closes.
func TestConnectionCapCountsTunnels(t *testing.T) {
	e := newEnv(t, envConfig{maxConns: 1})
	resp, _, conn, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("tunnel: %d", resp.StatusCode)
	}
	ok := "http://example.test:" + portOf(e.origin.addr) + "/"
	resp, body, _, _ := e.raw("", "GET "+ok+" HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("while the tunnel is open: %d %q", resp.StatusCode, body)
	}
	conn.Close()
	waitFor(t, "the tunnel's place", func() bool { return testutil.ToFloat64(e.srv.m.conns) == 0 })
	if st, err := e.dialLive(t).get(ok); err != nil || st != 200 {
		t.Errorf("after the tunnel closed: %d %v", st, err)
	}
}

// TestIdleTimeout: a keep-alive connection left idle past
// proxy.idle_timeout is closed by the proxy.
func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `idle_timeout = "200ms"`, nil)
	k := s.dialLive(t)
	if st, err := k.get("http://example.test:" + portOf(e.origin.addr) + "/"); err != nil || st != 200 {
		t.Fatalf("got %d %v", st, err)
	}
	_ = k.c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a safety net, far past idle_timeout
	if _, err := k.br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection not closed by the proxy: %v", err)
	}
	waitFor(t, "the idle connection's place", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
}
