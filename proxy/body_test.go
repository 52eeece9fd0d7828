package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smgate/smgate/logs"
)

// TestStalledBodyOfAnsweredRequest: a request that the proxy answers
// itself (challenge, block, bad request, failure, its own page) whose
// client sends the header and then stalls the body is answered within
// proxy.header_timeout and its connection closed: net/http would
// otherwise wait for the body with no deadline before it sends the answer,
// and the connection would hold its place under max_conns for ever.
func TestStalledBodyOfAnsweredRequest(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `header_timeout = "200ms"`, nil)
	down := closedPort(t)
	h := portOf(e.origin.addr)
	for _, c := range []struct {
		name, head string
		status     int
	}{
		{"challenge, chunked", "POST http://facebook.com:" + h + "/ HTTP/1.1\r\nHost: facebook.com\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n", 407},
		{"challenge, length", "POST http://facebook.com:" + h + "/ HTTP/1.1\r\nHost: facebook.com\r\nContent-Length: 1000\r\n\r\nab", 407},
		{"blocked", "POST http://tiktok.com:" + h + "/ HTTP/1.1\r\nHost: tiktok.com\r\nProxy-Authorization: " + basic("bjones", "hunter2") + "\r\nContent-Length: 1000\r\n\r\nab", 403},
		{"bad request", "POST ftp://example.test/ HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"upstream down", "POST http://example.test:" + down + "/ HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n", 502},
		{"direct", "POST /upload HTTP/1.1\r\nHost: proxy\r\nContent-Length: 1000\r\n\r\n", 404},
		{"connect challenge", "CONNECT facebook.com:443 HTTP/1.1\r\nHost: facebook.com:443\r\nContent-Length: 1000\r\n\r\n", 407},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.proxy)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.head); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // a safety net, far past header_timeout
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatalf("no answer while the body stalls: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("got %d, want %d", resp.StatusCode, c.status)
			}
			if _, err := io.ReadAll(br); err != nil {
				t.Errorf("connection not closed after the answer: %v", err)
			}
		})
	}
	waitFor(t, "every stalled connection's place", func() bool { return testutil.ToFloat64(s.srv.m.conns) == 0 })
}

// TestWholeBodyOfAnsweredRequestKeepsConnection: a request answered by
// the proxy whose body came whole leaves its keep-alive connection
// serving the next request, however long after.
func TestWholeBodyOfAnsweredRequestKeepsConnection(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `header_timeout = "200ms"`, nil)
	k := s.dialLive(t)
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	body := "POST http://facebook.com:" + portOf(e.origin.addr) + "/ HTTP/1.1\r\nHost: facebook.com\r\nContent-Length: 3\r\n\r\na=b"
	if _, err := io.WriteString(k.c, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 407 || resp.Close {
		t.Fatalf("got %d, close %v", resp.StatusCode, resp.Close)
	}
	// Past header_timeout since the answer: the bound on the body does
	// not outlive it.
	_ = k.c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
	var ne net.Error
	if _, err := k.br.ReadByte(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connection ended while idle: %v", err)
	}
	if st, err := k.get("http://example.test:" + portOf(e.origin.addr) + "/"); err != nil || st != 200 {
		t.Errorf("next request on the connection: %d %v", st, err)
	}
}

// gatedSink is a memSink whose Log waits for open to be closed, so that
// the answer to a recorded request waits for the test.
type gatedSink struct {
	*memSink
	open chan struct{}
}

func (s gatedSink) Log(r *logs.Record) error {
	<-s.open
	return s.memSink.Log(r)
}

// TestDeclinedExpectContinueNotSolicited: a request sent with Expect:
// 100-continue whose destination answers at once, without 100 Continue
// and closing (a 401 to an upload), is answered without the proxy
// telling the client to send the body: the transport does not send it,
// and reading what is left of it must not ask the client for a body
// that nobody will read (a large upload would be sent in vain and cut
// by the close, losing the answer to a reset).
func TestDeclinedExpectContinueNotSolicited(t *testing.T) {
	gate := gatedSink{memSink: newMemSink(), open: make(chan struct{})}
	e := newEnv(t, envConfig{logNotSocial: true, sink: gate})
	var once sync.Once
	release := func() { once.Do(func() { close(gate.open) }) }
	t.Cleanup(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope")
			}()
		}
	}()
	conn, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST http://example.test:"+portOf(ln.Addr().String())+"/upload HTTP/1.1\r\n"+
		"Host: example.test\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// While the answer waits for its record, nothing may reach the
	// client: a 100 Continue would come now.
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	br := bufio.NewReader(conn)
	var ne net.Error
	if _, err := br.Peek(1); !errors.As(err, &ne) || !ne.Timeout() {
		rest, _ := br.Peek(br.Buffered())
		t.Fatalf("the client was answered before the destination's answer: %q %v", rest, err)
	}
	release()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("got %d, want the destination's 401", resp.StatusCode)
	}
}

// TestUnreachableExpectContinueNotSolicited: a request sent with Expect:
// 100-continue to a destination that cannot be reached gets its failure
// page at once, without being asked for its body first.
func TestUnreachableExpectContinueNotSolicited(t *testing.T) {
	e := newEnv(t, envConfig{})
	down := closedPort(t)
	conn, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST http://example.test:"+down+"/upload HTTP/1.1\r\n"+
		"Host: example.test\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // a safety net, below header_timeout
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("got %d first, want the failure page's 502", resp.StatusCode)
	}
}

// TestLargeBodyOfFailedForwardNotRead: a forwarded request whose body is
// too large to read before the connection could carry another request
// (net/http gives up past 256 KiB) gets its failure page at once when the
// destination cannot be reached, without waiting for the body first:
// the connection closes after the answer whatever is read.
func TestLargeBodyOfFailedForwardNotRead(t *testing.T) {
	e := newEnv(t, envConfig{})
	s := e.sideServer(t, `header_timeout = "20s"`, nil)
	down := closedPort(t)
	conn, err := net.Dial("tcp", s.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST http://example.test:"+down+"/upload HTTP/1.1\r\n"+
		"Host: example.test\r\nContent-Length: 10000000\r\n\r\nfirst bytes"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // far below header_timeout
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("no answer while the rest of the upload is on its way: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !resp.Close {
		t.Errorf("got %d, close %v; want 502 and the connection closed", resp.StatusCode, resp.Close)
	}
}
