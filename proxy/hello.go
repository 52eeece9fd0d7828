package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// recordTypeHandshake is the first byte of a TLS record that carries a
// handshake message, as a ClientHello does.
const recordTypeHandshake = 0x16

// recordTypeAlert is the first byte of a TLS alert record. Some TLS
// servers (crypto/tls among them; not OpenSSL 3.0) skip warning alerts that
// come before the ClientHello, so a tunnel that begins with one may begin a
// TLS handshake too.
const recordTypeAlert = 0x15

// maxHello bounds the bytes read while looking for a ClientHello. crypto/tls
// refuses a handshake message over 64 KiB; its records add 5 bytes per
// 16 KiB.
const maxHello = 64<<10 + 5*5

// errHelloRead stops crypto/tls once it has parsed the ClientHello.
var errHelloRead = errors.New("client hello read")

// errHelloTooLong is returned when a client sends more than maxHello bytes
// without completing its ClientHello.
var errHelloTooLong = errors.New("TLS client hello longer than 64 KiB")

// helloConn hands crypto/tls the bytes of a tunnel's client, first those
// already read (pending), then from the client itself, and keeps every
// byte read (seen), so that they go on to the destination as they came.
// What crypto/tls writes (an alert when it stops) is dropped: the client
// talks to the destination, not to the gateway.
type helloConn struct {
	net.Conn
	pending []byte
	seen    []byte
}

func (h *helloConn) Read(p []byte) (int, error) {
	if len(h.pending) > 0 {
		n := copy(p, h.pending)
		h.pending = h.pending[n:]
		return n, nil
	}
	if len(h.seen) >= maxHello {
		return 0, errHelloTooLong
	}
	if room := maxHello - len(h.seen); len(p) > room {
		p = p[:room]
	}
	n, err := h.Conn.Read(p)
	h.seen = append(h.seen, p[:n]...)
	return n, err
}

func (h *helloConn) Write(p []byte) (int, error) { return len(p), nil }

// Close leaves the client open: the tunnel goes on.
func (h *helloConn) Close() error { return nil }

// readServerName reads the ClientHello that begins with first (bytes
// already read from client, first[0] being a handshake or an alert record)
// and returns the server name it asks for ("" when it names none) and
// every byte read from the client, first included. The ClientHello is parsed by crypto/tls
// itself, which takes a message split over several records or segments
// the way a TLS server does. It stops at deadline; an error means the
// client sent something that crypto/tls does not read as a ClientHello.
func readServerName(client net.Conn, first []byte, deadline time.Time) (string, []byte, error) {
	h := &helloConn{Conn: client, pending: first, seen: first}
	var name string
	cfg := &tls.Config{GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		name = hi.ServerName
		return nil, errHelloRead
	}}
	_ = client.SetReadDeadline(deadline)
	err := tls.Server(h, cfg).Handshake()
	_ = client.SetReadDeadline(time.Time{})
	if errors.Is(err, errHelloRead) {
		err = nil
	}
	return name, h.seen, err
}

// helloTimeout bounds reading the rest of a ClientHello once its first
// byte came: proxy.header_timeout, as for a request header.
func (s *Server) helloTimeout() time.Duration { return s.headerTimeout() }

// serverNamed decides a tunnel on the server name its ClientHello asks for
// (name; err when crypto/tls could not read the hello) and reports whether
// the tunnel goes on. The CONNECT decided the host the client named to the
// proxy; the server at the dialled address answers the name in the hello.
// When they differ and the hello names a platform (a bare address of a
// platform that the gateway had not learned, a name that aliases one,
// domain fronting), the tunnel is decided as that platform: it goes on,
// recorded as that platform, when the client's grants allow it, and is
// closed otherwise, recorded blocked-bypass where the block would say
// blocked-no-grant or blocked-unauthenticated (no challenge can be sent
// inside a tunnel). A hello that crypto/tls cannot read is closed as
// blocked-bypass: the server might read a name that the gateway did not.
// In report mode nothing is closed; the record says what enforce would do.
func (s *Server) serverNamed(f *flow, snap *allowlist.Snapshot, authz, name string, err error) bool {
	var host string
	if err == nil && name != "" {
		var ip netip.Addr
		host, ip, err = allowlist.NormalizeHost(name)
		if err == nil && (ip.IsValid() || host == f.req.Host) {
			return true
		}
	}
	if err == nil && name == "" {
		return true
	}
	if errors.Is(err, net.ErrClosed) {
		// The gateway closed the tunnel (policy change, lifetime,
		// shutdown) while the hello was coming: no bypass of the client's.
		return false
	}
	var readErr *net.OpError // the client's connection failed (a reset): it left
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &readErr) && readErr.Op == "read" {
		// The client left, or stalled past proxy.header_timeout, before
		// its hello was whole: nothing of it reached the server, so the
		// tunnel ends as it was decided, with no bypass in the record.
		if errors.Is(err, os.ErrDeadlineExceeded) {
			f.note("closed: the client did not complete its TLS client hello in time")
		} else {
			f.note("closed: the client ended the tunnel during its TLS client hello")
		}
		return false
	}
	if err != nil {
		f.d = blockNow(f.d, allowlist.ReasonBypass)
		f.record = true
		s.count(f)
		if f.d.Pass() { // report mode: recorded as not enforced, let through
			f.note("the gateway could not read the TLS client hello (" + err.Error() + ")")
			return true
		}
		f.note("closed: the gateway could not read the TLS client hello (" + err.Error() + ")")
		s.log.Warn().Err(err).Str(fieldID, f.id).Str(fieldClient, f.client.String()).Str(fieldHost, f.req.Host).
			Msg("closing tunnel: unreadable TLS client hello")
		return false
	}
	g := &flow{id: f.id, start: f.start, action: f.action, client: f.client, req: f.req}
	g.req.Host, g.req.AddrPlatform, g.req.ASN, g.req.User, g.req.Time = host, "", 0, "", s.now()
	v := s.decide(g, snap, authz)
	if !g.d.Social || f.d.Social && g.d.Platform == f.d.Platform && v == verdictForward {
		return true
	}
	d := g.d
	if !d.Allow && (d.Reason == allowlist.ReasonNoGrant || d.Reason == allowlist.ReasonUnauthenticated) {
		d.Reason = allowlist.ReasonBypass // in report mode too: the record says what enforce does
	}
	g.d = d
	s.count(g)
	msg := "TLS server name " + host + " in a tunnel to " + f.req.Host
	if v == verdictForward {
		if !f.d.Allow && d.Allow {
			// Report mode let a blocked CONNECT through: its record keeps
			// the block that enforce would have made.
			d = f.d
		}
		f.adopt(g.req, d)
		f.note(msg)
		// A policy swap since snap re-decided the tunnel as its CONNECT
		// host, not as the platform it now is.
		s.recheck(f, snap)
		return true
	}
	f.adopt(g.req, d)
	f.note("closed: " + msg)
	s.log.Info().Str(fieldID, f.id).Str(fieldClient, f.client.String()).Str(fieldHost, host).
		Str(fieldReason, string(d.Reason)).Msg("closing tunnel: TLS server name blocked")
	return false
}
