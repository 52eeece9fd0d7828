package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// limitListener caps the client connections open at once (tunnels
// included: a hijacked connection counts until it closes). Past the cap a
// connection is answered 503 and closed.
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.open.Add(1) > l.s.maxConns {
			l.s.open.Add(-1)
			l.s.reject(c)
			continue
		}
		l.s.m.conns.Inc()
		return &limitConn{Conn: c, s: l.s}, nil
	}
}

// limitConn is an accepted connection; closing it frees its place.
type limitConn struct {
	net.Conn
	s    *Server
	once sync.Once
	scan hostScanner

	// pmu guards the keep-alive state (keepalive.go): the last
	// social-media request let through on the connection, the snapshot it
	// was last decided on, whether the connection waits between requests,
	// whether it is in Server.conns, and whether it is closed or hijacked.
	pmu     sync.Mutex
	last    allowlist.Request
	hasLast bool
	snap    *allowlist.Snapshot
	idle    bool
	listed  bool
	gone    bool
}

// Read feeds what the server reads to the Host header scanner.
func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.scan.feed(p[:n])
	}
	return n, err
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.open.Add(-1)
		c.s.m.conns.Dec()
	})
	return err
}

// CloseWrite half-closes the accepted connection: the client reads the
// end of stream after what was written. net/http does so before it
// closes a connection whose request body it left unread (an answer to a
// large upload, see endBody), so that the client reads the answer and
// then a clean end rather than the reset that closing with unread bytes
// makes the kernel send; it looks for the method on the connection it
// serves, which the embedded net.Conn does not carry.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the accepted connection, for splicing tunnels.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

// reject answers a connection past the cap with 503. It reads what the
// client sends for a moment first, so that closing does not reset the
// connection before the client reads the answer; past maxRejecting such
// answers at once it just closes.
func (s *Server) reject(c net.Conn) {
	s.m.refused.WithLabelValues("connection_cap").Inc()
	if s.rejecting.Add(1) > maxRejecting {
		s.rejecting.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer s.rejecting.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(rejectReadWindow))
		readHead(bufio.NewReaderSize(c, 4096))
		_, _ = c.Write(busyResponse)
	}()
}

// readHead reads until the end of a request header, an error or 16 KiB.
func readHead(r *bufio.Reader) {
	for n := 0; n < 16<<10; {
		line, err := r.ReadSlice('\n')
		n += len(line)
		if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
			return
		}
	}
}

var busyResponse = func() []byte {
	body := "503 Service Unavailable: " + explainBusy + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()
