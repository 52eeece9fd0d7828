package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUnreadBodyAnswerEndsCleanly: a request the proxy answers itself
// without reading its whole body (a challenge, a block page or a failure
// page to a large upload) is answered and its connection closed with a
// clean end of stream after the answer, not a reset. net/http half-closes the
// connection (CloseWrite) before it closes it with the rest of the body
// unread, which makes the kernel send a reset; it can only do so if the
// accepted connection has CloseWrite.
func TestUnreadBodyAnswerEndsCleanly(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := portOf(e.origin.addr)
	down := closedPort(t)
	chunk := "4000\r\n" + strings.Repeat("a", 0x4000) + "\r\n"
	for _, c := range []struct {
		name, head string
		body       string // sent after the head, all of it, while the answer is read
		status     int
	}{
		{"challenge, length", "POST http://facebook.com:" + h + "/ HTTP/1.1\r\nHost: facebook.com\r\nContent-Length: 10000000\r\n\r\n",
			strings.Repeat("a", 64<<10), 407},
		{"blocked, length", "POST http://tiktok.com:" + h + "/ HTTP/1.1\r\nHost: tiktok.com\r\nProxy-Authorization: " +
			basic("bjones", "hunter2") + "\r\nContent-Length: 10000000\r\n\r\n", strings.Repeat("a", 64<<10), 403},
		{"blocked, chunked past the discard limit", "POST http://tiktok.com:" + h + "/ HTTP/1.1\r\nHost: tiktok.com\r\nProxy-Authorization: " +
			basic("bjones", "hunter2") + "\r\nTransfer-Encoding: chunked\r\n\r\n", strings.Repeat(chunk, 40) + "0\r\n\r\n", 403},
		{"upstream down, length", "POST http://example.test:" + down + "/upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 10000000\r\n\r\n",
			strings.Repeat("a", 64<<10), 502},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", e.proxy)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
			// The body goes out on its own: the proxy answers before it
			// reads it, and it may not take it all.
			go func() { _, _ = conn.Write([]byte(c.head + c.body)) }()
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("answer cut: %v", err)
			}
			if resp.StatusCode != c.status || !resp.Close || !bytes.Contains(b, []byte("Request id: ")) {
				t.Errorf("got %d, close %v, body %q", resp.StatusCode, resp.Close, b)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
				t.Errorf("after the answer: %q, %v; want a clean end of stream", rest, err)
			}
		})
	}
}
