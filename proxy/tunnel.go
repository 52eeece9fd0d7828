package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smgate/smgate/allowlist"
)

var (
	connectOK   = []byte("HTTP/1.1 200 Connection established\r\n\r\n")
	connectOKID = "HTTP/1.1 200 Connection established\r\n" + headerRequestID + ": "
)

// tunnel hijacks the client connection of an allowed CONNECT and copies
// bytes both ways until either side closes, the policy cuts it or the
// server shuts down. The flow's one usage record is written at the end,
// with the bytes each way; the sink's health was checked before.
func (s *Server) tunnel(w http.ResponseWriter, f *flow, snap *allowlist.Snapshot, up net.Conn, authz string) {
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = up.Close()
		s.log.Error().Err(err).Str(fieldID, f.id).Msg("cannot hijack connect")
		return
	}
	var once sync.Once
	closeBoth := func() { once.Do(func() { _ = client.Close(); _ = up.Close() }) }
	defer closeBoth()
	f.status = http.StatusOK
	f.setCut(closeBoth)
	s.tracker.add(f)
	s.m.tunnels.Inc()
	defer func() {
		s.tracker.done(f)
		s.m.tunnels.Dec()
		_ = s.logFlow(f)
	}()
	s.recheck(f, snap)
	life := time.AfterFunc(s.tunnelLife, func() { f.expired.Store(true); closeBoth() })
	defer life.Stop()
	_ = client.SetDeadline(time.Time{})
	c, u := rawConn(client), rawConn(up)
	limitUnsent(c)
	limitUnsent(u)
	if _, err := client.Write(s.connectReply(f)); err != nil {
		return
	}
	h := &halves{idle: s.tunnelIdle(), closeBoth: closeBoth}
	fromUp := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { fromUp <- n }()
		defer s.recoverGoroutine("tunnel")
		n = h.copy(c, u, c)
	}()
	if s.helloFirst(f, authz, c, up, brw.Reader) {
		if h.oneEnded.Load() {
			// The server's direction ended while the hello was read,
			// whose deadline replaced the idle bound on the client.
			_ = c.SetReadDeadline(time.Now().Add(h.idle))
		}
		f.srcBytes += h.copy(u, c, u)
	} else {
		closeBoth()
	}
	f.destBytes = <-fromUp
}

// helloFirst passes on the client's first bytes (those it sent right
// after CONNECT, or its first read) and, when they begin a TLS handshake
// (a handshake record, or the alert records a server skips before it),
// decides the server name its ClientHello asks for (see serverNamed). It
// reports whether the tunnel goes on. The server name is decided on the
// policy in force once the hello is read, not on the one the CONNECT was
// decided on: a suspension that lands in between still applies.
func (s *Server) helloFirst(f *flow, authz string, c, up net.Conn, br *bufio.Reader) bool {
	var first []byte
	if n := br.Buffered(); n > 0 {
		first, _ = br.Peek(n)
	} else {
		bp, n, err := firstRead(c)
		if bp == nil {
			// At the client's end of stream the copy reads again and
			// meets the same end, and passes it on as a half-close. An
			// error (a reset) is reported once: the client is gone, and
			// the tunnel ends now, not after idle_timeout.
			return errors.Is(err, io.EOF)
		}
		defer copyBufs.Put(bp)
		first = (*bp)[:n]
	}
	if first[0] == recordTypeHandshake || first[0] == recordTypeAlert {
		name, seen, err := readServerName(c, first, time.Now().Add(s.helloTimeout()))
		first = seen
		if !s.serverNamed(f, s.engine.Snapshot(), authz, name, err) {
			return false
		}
	}
	m, err := up.Write(first)
	f.srcBytes += int64(m)
	return err == nil
}

// firstRead waits for the client's first bytes and returns them in a
// pooled buffer, or nil and io.EOF at its end of stream, or nil and the
// error. Like the copy, it takes the buffer only once bytes are there
// (see rawReader): a tunnel whose client waits for the server, or never
// speaks, holds none.
func firstRead(c net.Conn) (*[]byte, int, error) {
	if rc := rawConnOf(c); rc != nil {
		return newRawReader(c, rc).read()
	}
	bp := copyBufs.Get().(*[]byte)
	n, err := c.Read(*bp)
	if n == 0 {
		copyBufs.Put(bp)
		if err == nil {
			err = io.EOF
		}
		return nil, 0, err
	}
	return bp, n, nil
}

// tunnelIdle is how long the open half of a half-closed tunnel may stay
// silent: proxy.idle_timeout.
func (s *Server) tunnelIdle() time.Duration {
	if d := s.srv.IdleTimeout; d > 0 {
		return d
	}
	return defaultIdle
}

// connectReply is the 200 answer to a CONNECT, naming the request id when
// the tunnel has a usage record.
func (s *Server) connectReply(f *flow) []byte {
	if !f.record {
		return connectOK
	}
	return []byte(connectOKID + f.id + "\r\n\r\n")
}

// recheck re-decides a tunnel when the policy was swapped between its
// decision and its tracking, which onSwap would otherwise miss.
func (s *Server) recheck(f *flow, decided *allowlist.Snapshot) {
	snap := s.engine.Snapshot()
	if snap == decided {
		return
	}
	for _, r := range f.requests() {
		r.Time = s.now()
		if d := snap.Decide(&r); !d.Pass() {
			f.cutFor(d.Reason)
			return
		}
	}
}

// halves are the two directions of a tunnel.
type halves struct {
	idle      time.Duration
	closeBoth func()
	// oneEnded is set when one direction has ended and been passed on
	// as a half-close; from then on the other must move a byte at least
	// every idle, or the tunnel is closed. A client that closes its
	// socket while the destination stays silent would otherwise hold a
	// connection (and its place under proxy.max_conns) for as long as the
	// destination likes.
	oneEnded atomic.Bool
}

// copy copies src to dst. At src's end of stream it half-closes dst so
// the other side sees it, and bounds the other direction, whose source is
// other, by h.idle; on an error it closes the whole tunnel.
func (h *halves) copy(dst, src, other net.Conn) int64 {
	n, err := pump(dst, src, h)
	if err != nil {
		h.closeBoth()
		return n
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			if !h.oneEnded.Swap(true) {
				_ = other.SetReadDeadline(time.Now().Add(h.idle))
			}
			return n
		}
	}
	h.closeBoth()
	return n
}

// copyBufSize is the size of a tunnel's copy buffer.
const copyBufSize = 64 << 10

// copyBufs are the tunnels' copy buffers. A tunnel takes one only while
// bytes move (see rawReader), so an idle tunnel holds none.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// pump copies src to dst until src's end of stream or an error, through
// a pooled buffer that a tunnel holds only while bytes move (see
// rawReader). It used to be io.Copy, which splices between two TCP
// sockets without copying in the proxy; but the segments a splice
// forwards cost the receiving side more to take in, and a TLS download
// through a tunnel in the benchmark lab (proxy and client on their own
// cores) ran at 0.57-0.81 of direct with splice against 0.78-1.09 with
// read and write (three runs each, side by side). It then waited for the
// source with a peek before each read; reading at once and waiting only
// when the read finds nothing saves that system call on every chunk of a
// download.
//
// Once the other direction of h has ended, each read waits for src at
// most h.idle: the deadline is set before the read, not after the last
// one, so that the time a write waits for dst to take the bytes (a slow
// client; a tunnel's sockets queue little unsent, see unsentLimit) does
// not count as src's silence. h may be nil.
func pump(dst, src net.Conn, h *halves) (int64, error) {
	rc := rawConnOf(src)
	if rc == nil {
		return io.Copy(dst, src)
	}
	var n int64
	r := newRawReader(src, rc)
	for {
		if h != nil && h.oneEnded.Load() {
			_ = src.SetReadDeadline(time.Now().Add(h.idle))
		}
		bp, m, rerr := r.read()
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
		w, werr := dst.Write((*bp)[:m])
		copyBufs.Put(bp)
		n += int64(w)
		if werr != nil {
			return n, werr
		}
	}
}

// rawConnOf returns c's syscall.RawConn, or nil.
func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawConn returns the TCP connection under a wrapper, so that io.Copy can
// splice between two sockets.
func rawConn(c net.Conn) net.Conn {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = u.NetConn()
	}
}
