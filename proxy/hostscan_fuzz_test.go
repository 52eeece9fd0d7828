package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzHostScannerSplit: however the connection's bytes arrive (net/http
// reads in pieces of any size), the scanner keeps the same request heads
// and ends in the same state, its queue and line stay bounded, and it
// never panics.
func FuzzHostScannerSplit(f *testing.F) {
	for _, s := range []string{
		"GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n",
		"POST http://c.test/p HTTP/1.1\r\nhost:  c.test:80 \r\nContent-Length: 4\r\n\r\nabcdGET http://d/ HTTP/1.1\r\n\r\n",
		"POST http://d.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: d.test\r\n\r\n5;ext=1\r\nHost:\r\n0\r\nTrailer: 1\r\n\r\n",
		"CONNECT f.test:443 HTTP/1.1\r\nHost: f.test:443\r\n\r\n\x16\x03\x01",
		"GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
		"\r\n\r\nGET http://a/ HTTP/1.1\nHost: x\n\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
	} {
		f.Add([]byte(s), uint16(1), uint16(7))
	}
	f.Add([]byte("GET http://a/ HTTP/1.1\r\nX: "+strings.Repeat("a", maxScanLine)+"\r\n\r\n"), uint16(96), uint16(12))
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		var whole hostScanner
		whole.feed(data)
		var parts hostScanner
		steps := []int{int(a%97) + 1, int(b%13) + 1}
		for i, k := 0, 0; i < len(data); k++ {
			n := min(steps[k%2], len(data)-i)
			parts.feed(data[i : i+n])
			i += n
		}
		if whole.state != parts.state || !slices.Equal(whole.queue, parts.queue) || whole.cur != parts.cur ||
			whole.left != parts.left || whole.state != scanLost && string(whole.line) != string(parts.line) {
			t.Fatalf("one read: state %d queue %+v cur %+v; in pieces %v: state %d queue %+v cur %+v",
				whole.state, whole.queue, whole.cur, steps, parts.state, parts.queue, parts.cur)
		}
		if len(whole.queue) > maxScanQueue || len(whole.line) > maxScanLine {
			t.Fatalf("unbounded: %d heads, line of %d bytes", len(whole.queue), len(whole.line))
		}
	})
}

// FuzzHostScannerMatchesNetHTTP: for the requests net/http's parser reads
// from a connection (and its server accepts), the scanner keeps the same
// heads in the same order, with the Host header net/http sees, or stops
// reporting; it never reports another request's header.
func FuzzHostScannerMatchesNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n",
		"POST /p HTTP/1.1\r\nhost:  c.test:80 \r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\nHost: d\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: d.test\r\n\r\n5;ext=1\r\nHost:\r\n0\r\nTrailer: 1\r\n\r\nGET / HTTP/1.1\r\nHost: e\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost:\r\n a.test\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: b\r\n\r\n",
		"0 * HTTP/1.0\nhost: \n 0\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s hostScanner
		s.feed(data)
		br := bufio.NewReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil || req.ProtoMajor != 1 || req.Method == http.MethodConnect || len(req.Header["Upgrade"]) > 0 {
				return
			}
			hosts := req.Header.Values("Host")
			if len(hosts) > 1 || len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) ||
				req.ProtoAtLeast(1, 1) && len(hosts) == 0 && !req.URL.IsAbs() {
				return // net/http's server refuses it and closes the connection
			}
			h, ok := s.take(req.Method, req.RequestURI)
			if !ok {
				if s.state != scanLost {
					t.Fatalf("request %d %s %s: the scanner is out of step but still reports", i, req.Method, req.RequestURI)
				}
				return
			}
			if !req.URL.IsAbs() && h.hasHost && h.host != req.Host {
				t.Fatalf("request %d: scanner's Host %q, net/http's %q", i, h.host, req.Host)
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
	})
}
