package proxy

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { _ = a.Close(); _ = r.c.Close() })
	return a, r.c
}

// TestPumpCopiesEverything: pump moves a stream larger than many copy
// buffers between two real sockets intact, in writes of odd sizes, and
// returns its length at the writer's end of stream.
func TestPumpCopiesEverything(t *testing.T) {
	writer, src := tcpPair(t)
	dst, reader := tcpPair(t)
	want := make([]byte, 5<<20+12345)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	go func() {
		for b := want; len(b) > 0; {
			k := min(len(b), 1+len(b)%70001)
			if _, err := writer.Write(b[:k]); err != nil {
				return
			}
			b = b[k:]
		}
		_ = writer.(*net.TCPConn).CloseWrite()
	}()
	type res struct {
		n   int64
		err error
	}
	done := make(chan res, 1)
	go func() { n, err := pump(dst, src, nil); _ = dst.(*net.TCPConn).CloseWrite(); done <- res{n, err} }()
	_ = reader.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != int64(len(want)) {
		t.Fatalf("pump = %d, %v; want %d, nil", r.n, r.err, len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
	}
}

// TestPumpEndsWhenClosed: closing the source while pump waits for it to
// be readable ends pump with an error.
func TestPumpEndsWhenClosed(t *testing.T) {
	_, src := tcpPair(t)
	dst, _ := tcpPair(t)
	done := make(chan error, 1)
	go func() { _, err := pump(dst, src, nil); done <- err }()
	_ = src.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("pump returned no error for a closed source")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pump still waiting after its source was closed")
	}
}
