package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// streamOrigin answers with first, flushed, then holds the answer open
// until the request is gone, and reports that it went.
func streamOrigin(t *testing.T, first string) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{}, 8)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, first)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
		gone <- struct{}{}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), gone
}

// streamThrough starts a streamed social-media answer through a proxy
// that allows the origin's port, reads first from it and returns the
// proxy's env and the rest of the body.
func (e *env) streamThrough(t *testing.T, origin, first string) (*env, io.Reader) {
	t.Helper()
	s := e.sideServerEdit(t, func(c string) string {
		return strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+portOf(origin)+", ", 1)
	}, nil)
	c, err := net.Dial("tcp", s.proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net: the proxy holding the answer back fails here
	req := "GET http://facebook.com:" + portOf(origin) + "/live HTTP/1.1\r\nHost: facebook.com:" + portOf(origin) +
		"\r\nProxy-Authorization: " + basic("bjones", "hunter2") + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v %v", resp, err)
	}
	got := make([]byte, len(first))
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != first {
		t.Fatalf("first part: %v", err)
	}
	return s, resp.Body
}

// TestStreamingAnswerCutByPolicy: a social-media answer still streaming
// when a suspension blocks it is cut upstream and ends for the client.
// (The first part is larger than the server's buffers: see
// TestStreamingAnswerNotHeldBack.)
func TestStreamingAnswerCutByPolicy(t *testing.T) {
	e := newEnv(t, envConfig{})
	first := strings.Repeat("x", 64<<10)
	origin, gone := streamOrigin(t, first)
	s, body := e.streamThrough(t, origin, first)
	if _, err := s.engine.Suspend(allowlist.ScopeAgency, "DCF", "test", "tester"); err != nil {
		t.Fatal(err)
	}
	<-gone // upstream: the origin's request ended
	if rest, _ := io.ReadAll(body); len(rest) != 0 {
		t.Errorf("%d bytes after the cut", len(rest))
	}
	if got := s.oplog.String(); !strings.Contains(got, "closing open flow") || !strings.Contains(got, string(allowlist.ReasonAgencySuspended)) {
		t.Errorf("cut not logged:\n%s", got)
	}
}

// TestStreamingAnswerNotHeldBack: a streamed answer (long poll, server
// push) reaches the client as the origin sends it, not once 4 KiB have
// piled up in the server's buffer or the answer ends.
func TestStreamingAnswerNotHeldBack(t *testing.T) {
	e := newEnv(t, envConfig{})
	origin, _ := streamOrigin(t, "first chunk\n")
	e.streamThrough(t, origin, "first chunk\n")
}

// TestCutAnswerLooksCut: a streamed answer cut by the policy must not end
// like a complete one (a final zero-length chunk), or the client takes a
// truncated page or file for the whole.
func TestCutAnswerLooksCut(t *testing.T) {
	e := newEnv(t, envConfig{})
	first := strings.Repeat("x", 64<<10)
	origin, gone := streamOrigin(t, first)
	s, body := e.streamThrough(t, origin, first)
	if _, err := s.engine.Suspend(allowlist.ScopeAgency, "DCF", "test", "tester"); err != nil {
		t.Fatal(err)
	}
	<-gone
	if _, err := io.ReadAll(body); err == nil {
		t.Error("the cut answer ended as if complete")
	}
}
