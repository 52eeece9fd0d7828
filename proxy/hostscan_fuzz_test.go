package proxy

import (
	"slices"
	"strings"
	"testing"
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
