package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// kaClient is a raw client connection to the proxy that keeps its
// connection open between requests, as a browser does.
type kaClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (e *env) kaDial(t *testing.T) *kaClient {
	t.Helper()
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A bound on a broken test, not a timing assertion.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &kaClient{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends one request on the connection and reads its whole answer.
func (k *kaClient) do(request string) *http.Response {
	k.t.Helper()
	if _, err := io.WriteString(k.c, request); err != nil {
		k.t.Fatalf("write %q: %v", firstLine(request), err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		k.t.Fatalf("response to %q: %v", firstLine(request), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		k.t.Fatalf("the proxy answered %q with Connection: close", firstLine(request))
	}
	return resp
}

// closedByProxy blocks until the proxy closes the connection, and fails
// when anything else arrives instead.
func (k *kaClient) closedByProxy() {
	k.t.Helper()
	b, err := k.br.ReadByte()
	if err == nil {
		k.t.Fatalf("got byte %q on the idle connection, want it closed", b)
	}
	if !errors.Is(err, io.EOF) {
		k.t.Fatalf("idle connection: %v, want EOF from the proxy closing it", err)
	}
}

// TestSuspensionClosesIdleKeepAlive: a suspension closes the idle
// keep-alive connections whose last social-media request it now blocks,
// before Suspend returns or as soon as the connection goes idle, and
// leaves every other connection open: another agency's users, and
// connections whose request a reload still allows.
func TestSuspensionClosesIdleKeepAlive(t *testing.T) {
	e := newEnv(t, envConfig{})
	dcf := e.kaDial(t) // bjones, DCF, granted Facebook
	dot := e.kaDial(t) // tlee, DOT, granted the DOT YouTube account
	plain := e.kaDial(t)
	getDCF := e.request(wireCase{user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/"})
	getDOT := e.request(wireCase{user: "tlee", pass: "roads", method: "GET", target: "http://youtube.com:{H}/CTDOT"})
	getPlain := e.request(wireCase{method: "GET", target: "http://example.com:{H}/"})
	for _, c := range []struct {
		k   *kaClient
		req string
	}{{dcf, getDCF}, {dot, getDOT}, {plain, getPlain}} {
		if resp := c.k.do(c.req); resp.StatusCode != http.StatusOK {
			t.Fatalf("%q: %d", firstLine(c.req), resp.StatusCode)
		}
	}

	// A reload that adds a grant drops nothing.
	e.rewritePolicy(t, "directory.toml", `platforms = ["facebook", "instagram"]`, `platforms = ["facebook", "instagram", "x"]`)
	if resp := dcf.do(getDCF); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a reload adding a grant: %d", resp.StatusCode)
	}

	if _, err := e.engine.Suspend(allowlist.ScopeAgency, "DOT", "breach", "security-unit"); err != nil {
		t.Fatal(err)
	}
	dot.closedByProxy()
	if resp := dcf.do(getDCF); resp.StatusCode != http.StatusOK {
		t.Fatalf("another agency's suspension: DCF's next request on its connection got %d", resp.StatusCode)
	}

	if _, err := e.engine.Suspend(allowlist.ScopeAgency, "DCF", "breach", "security-unit"); err != nil {
		t.Fatal(err)
	}
	dcf.closedByProxy()
	if resp := plain.do(getPlain); resp.StatusCode != http.StatusOK {
		t.Fatalf("a connection with no social-media request after the suspensions: %d", resp.StatusCode)
	}
}

// TestKeepAliveRecheckedWhenIdle: a connection busy with a request when
// the policy changes is re-decided when that request ends, so a
// suspension during a long answer still closes it once it goes idle.
func TestKeepAliveRecheckedWhenIdle(t *testing.T) {
	e := newEnv(t, envConfig{})
	hook := make(chan struct{})
	release := make(chan struct{})
	e.srv.testHook = func(r *http.Request) { // set before any connection
		if r.URL.Path == "/slow" {
			close(hook)
			<-release
		}
	}
	k := e.kaDial(t)
	get := e.request(wireCase{user: "tlee", pass: "roads", method: "GET", target: "http://youtube.com:{H}/CTDOT"})
	if resp := k.do(get); resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d", resp.StatusCode)
	}
	// The next request on the connection is not a social-media one; the
	// suspension happens while the proxy handles it.
	if _, err := io.WriteString(k.c, e.request(wireCase{method: "GET", target: "http://example.com:{H}/slow"})); err != nil {
		t.Fatal(err)
	}
	<-hook
	if _, err := e.engine.Suspend(allowlist.ScopeAgency, "DOT", "breach", "security-unit"); err != nil {
		t.Fatal(err)
	}
	close(release)
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in progress during the suspension: %d", resp.StatusCode)
	}
	k.closedByProxy()
}
