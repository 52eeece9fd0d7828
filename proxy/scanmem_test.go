package proxy

import (
	"runtime"
	"strings"
	"testing"
)

// TestScannerKeepsNoLongLine: a connection whose request header had a
// long line split over two reads does not keep that line's buffer for
// the rest of its life: an idle keep-alive connection (or a tunnel) would
// otherwise hold up to 16 KiB more, 160 MiB under the default max_conns.
func TestScannerKeepsNoLongLine(t *testing.T) {
	const n = 1000
	scans := make([]hostScanner, n)
	head := "GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\nCookie: " + strings.Repeat("c", 15<<10)
	before := heapInUse()
	for i := range scans {
		scans[i].feed([]byte(head[:len(head)/2]))
		scans[i].feed([]byte(head[len(head)/2:] + "\r\n\r\n"))
		if _, ok := scans[i].take("GET", "http://example.test/"); !ok {
			t.Fatal("request not scanned")
		}
	}
	if grown := int64(heapInUse()) - int64(before); grown > 2<<20 {
		t.Errorf("%d scanners hold %d KiB after their requests", n, grown>>10)
	}
	// Nor the request line of a request already taken.
	target := "http://example.test/" + strings.Repeat("t", 15<<10)
	before = heapInUse()
	for i := range scans {
		scans[i].feed([]byte("GET " + target + " HTTP/1.1\r\nHost: example.test\r\n\r\n"))
		if _, ok := scans[i].take("GET", target); !ok {
			t.Fatal("request not scanned")
		}
	}
	if grown := int64(heapInUse()) - int64(before); grown > 2<<20 {
		t.Errorf("%d scanners hold %d KiB after taking their requests", n, grown>>10)
	}
	// A line past the scanner's limit loses the framing; its buffer goes.
	half := []byte(strings.Repeat("c", 10<<10))
	before = heapInUse()
	for i := range scans {
		scans[i].feed(half)
		scans[i].feed(half)
	}
	if grown := int64(heapInUse()) - int64(before); grown > 2<<20 {
		t.Errorf("%d scanners that lost the framing hold %d KiB", n, grown>>10)
	}
	runtime.KeepAlive(scans)
}
