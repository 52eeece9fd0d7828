package proxy

import (
	"strings"
	"testing"
)

func TestHostScanner(t *testing.T) {
	stream := "GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n" +
		"POST http://c.test/p HTTP/1.1\r\nhost:  c.test:80 \r\nContent-Length: 40\r\n\r\nGET http://fake.test/ HTTP/1.1\r\nHost: x\r\n" +
		"POST http://d.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: d.test\r\n\r\n5;ext=1\r\nHost:\r\n0\r\nTrailer: 1\r\n\r\n" +
		"\r\nGET http://e.test/ HTTP/1.1\r\n\r\n" +
		"CONNECT f.test:443 HTTP/1.1\r\nHost: f.test:443\r\n\r\n"
	want := []scannedHead{
		{method: "GET", target: "http://a.test/", host: "b.test", hasHost: true},
		{method: "POST", target: "http://c.test/p", host: "c.test:80", hasHost: true},
		{method: "POST", target: "http://d.test/", host: "d.test", hasHost: true},
		{method: "GET", target: "http://e.test/"},
		{method: "CONNECT", target: "f.test:443", host: "f.test:443", hasHost: true},
	}
	for _, size := range []int{1, 3, 7, 64, len(stream)} { // any read size
		var s hostScanner
		for i := 0; i < len(stream); i += size {
			s.feed([]byte(stream[i:min(i+size, len(stream))]))
		}
		for _, w := range want {
			h, ok := s.take(w.method, w.target)
			if !ok || h.host != w.host || h.hasHost != w.hasHost {
				t.Fatalf("size %d: take(%s %s) = %+v, %v", size, w.method, w.target, h, ok)
			}
		}
		if s.state != scanPaused {
			t.Fatalf("size %d: state %d after CONNECT", size, s.state)
		}
		s.resume()
		s.feed([]byte("GET http://g.test/ HTTP/1.1\r\nHost: g.test\r\n\r\n"))
		if h, ok := s.take("GET", "http://g.test/"); !ok || h.host != "g.test" {
			t.Fatalf("size %d: after resume %+v %v", size, h, ok)
		}
	}
}

func TestHostScannerLosesTrack(t *testing.T) {
	for name, stream := range map[string]string{
		"upgrade":      "GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET http://b/ HTTP/1.1\r\n\r\n",
		"bad length":   "POST http://a/ HTTP/1.1\r\nContent-Length: x\r\n\r\nGET http://b/ HTTP/1.1\r\n\r\n",
		"long line":    "GET http://a/ HTTP/1.1\r\nX: " + strings.Repeat("a", maxScanLine) + "\r\n\r\nGET http://b/ HTTP/1.1\r\n\r\n",
		"bad chunk":    "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\nGET http://b/ HTTP/1.1\r\n\r\n",
		"paused bytes": "CONNECT a:1 HTTP/1.1\r\n\r\n\x16\x03\x01GET http://b/ HTTP/1.1\r\n\r\n",
	} {
		var s hostScanner
		s.feed([]byte(stream))
		s.resume()
		s.take("GET", "http://a/")
		s.take("POST", "http://a/")
		s.take("CONNECT", "a:1")
		if _, ok := s.take("GET", "http://b/"); ok {
			t.Errorf("%s: still reports after losing the framing", name)
		}
	}
}

func TestHostScannerOutOfStep(t *testing.T) {
	var s hostScanner
	s.feed([]byte("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nGET http://b/ HTTP/1.1\r\nHost: b\r\n\r\n"))
	if _, ok := s.take("GET", "http://b/"); ok {
		t.Fatal("took another request's header")
	}
	if _, ok := s.take("GET", "http://b/"); ok {
		t.Fatal("reports after getting out of step")
	}
}

func FuzzHostScanner(f *testing.F) {
	f.Add([]byte("GET http://a/ HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabcPOST http://c/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"), 5)
	f.Add([]byte("CONNECT a:1 HTTP/1.1\r\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		if size <= 0 {
			size = 1
		}
		var s hostScanner
		for i := 0; i < len(b); i += size {
			s.feed(b[i:min(i+size, len(b))])
		}
		if len(s.queue) > maxScanQueue || len(s.line) > maxScanLine {
			t.Fatalf("unbounded: queue %d line %d", len(s.queue), len(s.line))
		}
	})
}
