package proxy

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// endBody bounds by proxy.header_timeout the reading of what is left of
// the body of r, a request the proxy answers itself (a block page, a
// challenge, a failure page) rather than forwards. net/http reads up to
// 256 KiB of a body the handler left unread before it sends the answer,
// so that the connection can carry another request, and it reads with no
// deadline once the header is in: a client that sent a header and then
// stalled its body would hold its connection, a goroutine and its place
// under proxy.max_conns for ever, without even an answer. Past the bound
// the answer goes out and the connection is closed. A request without a
// body is left alone: net/http then waits for the client's next bytes in
// the background, and a deadline would end that wait as an error.
func (s *Server) endBody(r *http.Request) {
	if r.ContentLength == 0 {
		return
	}
	if lc := connOf(r); lc != nil {
		_ = lc.SetReadDeadline(time.Now().Add(s.headerTimeout()))
	}
}

// headerTimeout is proxy.header_timeout.
func (s *Server) headerTimeout() time.Duration {
	if d := s.srv.ReadHeaderTimeout; d > 0 {
		return d
	}
	return tlsHandshake
}

// forwardBody is the body of a request sent upstream. When the transport
// closes it before its end (the dial or the upstream failed, the upstream
// answered without reading it), what is left is read within
// proxy.header_timeout, as for a request the proxy answers itself; net/http
// would read it with no deadline. A body read to its end is closed as it is.
type forwardBody struct {
	io.ReadCloser
	s      *Server
	r      *http.Request
	served context.Context // of the request net/http serves, not r's
	eof    atomic.Bool     // the transport reads and closes from different goroutines
	read   atomic.Bool     // the transport read from it
	n      atomic.Int64    // bytes the transport read
}

func (b *forwardBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if err == io.EOF { //nolint:errorlint // io.EOF is returned unwrapped by contract
		b.eof.Store(true)
	}
	return n, err
}

func (b *forwardBody) Close() error {
	lc := connOf(b.r)
	if b.eof.Load() || lc == nil || b.served.Err() != nil {
		// At its end, or the request is over: net/http has answered it,
		// closed its body and set the connection's deadlines for what
		// follows, which one set here must not replace. (The transport
		// closes a body on its own goroutine, which can come after the
		// handler; the served request's context ends with the handler.)
		return b.ReadCloser.Close()
	}
	if !b.read.Load() && expectsContinue(b.r) || b.r.ContentLength-b.n.Load() > maxBodyDrain {
		// Not worth reading: the connection closes after the answer
		// whatever is read, and waiting would hold the answer. Either
		// the transport sends no body (the destination answered without
		// 100 Continue, or could not be reached) and the client waits
		// to be asked for it (net/http answers 100 Continue to the first
		// read: it would upload a body nobody reads), or more is left
		// than net/http reads to keep a connection (its Close then
		// gives up without a read). Closed at once, unread.
		_ = lc.SetReadDeadline(time.Now())
		return b.ReadCloser.Close()
	}
	_ = lc.SetReadDeadline(time.Now().Add(b.s.headerTimeout()))
	if _, err := io.CopyN(io.Discard, b.ReadCloser, maxBodyDrain); err == io.EOF { //nolint:errorlint // as above
		// The connection may carry another request: net/http now waits
		// for it in the background, with no deadline but its own.
		_ = lc.SetReadDeadline(time.Time{})
	}
	return b.ReadCloser.Close()
}

// expectsContinue reports whether r asks for 100 Continue before its body.
func expectsContinue(r *http.Request) bool {
	return hasToken(r.Header["Expect"], "100-continue")
}

// maxBodyDrain is how much of an unread body is read to keep the
// connection for another request (net/http reads as much).
const maxBodyDrain = 256 << 10
