package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/smgate/smgate/allowlist"
)

// dialKind says why a dial failed; it picks the answer to the client.
type dialKind int

const (
	dialFailed  dialKind = iota // connection refused, unreachable: 502
	dialTimeout                 // 504
	dialRefused                 // a denied destination or the gateway itself: 403
	dialNoName                  // the name does not resolve: 502
	dialBadHost                 // no valid host: 400
)

// dialError is a failed dial to a destination. Its text is for the
// operational log, never for the client.
type dialError struct {
	kind dialKind
	addr netip.AddrPort // the refused address, for dialRefused
	err  error
}

func (e *dialError) Error() string {
	if e.kind == dialRefused {
		return fmt.Sprintf("destination %s refused by policy", e.addr)
	}
	return fmt.Sprintf("dial: %v", e.err)
}

func (e *dialError) Unwrap() error { return e.err }

// dial connects to host:port. It resolves host through the gateway's
// resolver, drops every address that is denied or is the gateway's own
// listener, and dials the addresses it checked: never the name, so that
// no second resolution can change the answer.
func (s *Server) dial(ctx context.Context, snap *allowlist.Snapshot, host string, port uint16) (net.Conn, error) {
	name, ip, err := allowlist.NormalizeHost(host)
	if err != nil {
		return nil, &dialError{kind: dialBadHost, err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	addrs, err := s.resolve(ctx, snap, name, ip)
	if err != nil {
		return nil, &dialError{kind: classify(err, dialNoName), err: err}
	}
	pol := destPolicy{deny: snap.Config().Proxy.DenyDestinations, self: s.self}
	var refused netip.AddrPort
	var last error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), port)
		if pol.refused(ap) {
			refused = ap
			continue
		}
		c, err := s.dialer.DialContext(ctx, "tcp", ap.String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	switch {
	case last != nil:
		return nil, &dialError{kind: classify(last, dialFailed), err: last}
	case refused.IsValid():
		return nil, &dialError{kind: dialRefused, addr: refused}
	}
	return nil, &dialError{kind: dialNoName, err: errNoAddress}
}

var errNoAddress = errors.New("name has no address")

// classify tells a timeout from other failures.
func classify(err error, other dialKind) dialKind {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return dialTimeout
	}
	return other
}

// transportDial is the upstream http.Transport's DialContext.
func (s *Server) transportDial(ctx context.Context, _, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &dialError{kind: dialBadHost, err: err}
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return nil, &dialError{kind: dialBadHost, err: fmt.Errorf("bad port %q", p)}
	}
	c, err := s.dial(ctx, s.engine.Snapshot(), host, uint16(port))
	if err != nil {
		return nil, err
	}
	return upstreamConn{c}, nil
}
