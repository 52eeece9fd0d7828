package proxy

import (
	"io"
	"net"
	"net/http"
	"sync"
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
func (s *Server) tunnel(w http.ResponseWriter, f *flow, snap *allowlist.Snapshot, up net.Conn) {
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
	_ = client.SetDeadline(time.Time{})
	if _, err := client.Write(s.connectReply(f)); err != nil {
		return
	}
	if n := brw.Reader.Buffered(); n > 0 { // bytes the client sent right after CONNECT
		b, _ := brw.Reader.Peek(n)
		m, err := up.Write(b)
		f.srcBytes += int64(m)
		if err != nil {
			return
		}
	}
	c, u := rawConn(client), rawConn(up)
	toUp := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { toUp <- n }()
		defer s.recoverGoroutine("tunnel")
		n = copyHalf(u, c, closeBoth)
	}()
	f.destBytes = copyHalf(c, u, closeBoth)
	f.srcBytes += <-toUp
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
	r := f.req
	r.Time = s.now()
	if d := snap.Decide(&r); !d.Pass() {
		f.cutFor(d.Reason)
	}
}

// copyHalf copies src to dst. At src's end of stream it half-closes dst so
// the other side sees it; on an error it closes the whole tunnel.
func copyHalf(dst, src net.Conn, closeBoth func()) int64 {
	n, err := io.Copy(dst, src)
	if err != nil {
		closeBoth()
		return n
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return n
		}
	}
	closeBoth()
	return n
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
