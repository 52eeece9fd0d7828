package proxy

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/smgate/smgate/allowlist"
)

type connKey struct{}

// connContext gives each request of a connection the connection itself:
// its Host header scanner and its keep-alive state.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

func scannerOf(r *http.Request) *hostScanner {
	if lc := connOf(r); lc != nil {
		return &lc.scan
	}
	return nil
}

// checkHostHeader notes, in the flow's record and the operational log, a
// Host header that disagrees with the absolute URI the request was decided
// on (and forwarded with: the Host header upstream is the URI's). A
// disagreeing header that names a social-media platform gets the request a
// usage record even when it would have none.
func (s *Server) checkHostHeader(f *flow, r *http.Request, snap *allowlist.Snapshot) {
	sc := scannerOf(r)
	if sc == nil {
		return
	}
	h, ok := sc.take(r.Method, r.RequestURI)
	if !ok || !h.hasHost {
		return
	}
	host, port := h.host, ""
	if hh, pp, err := net.SplitHostPort(h.host); err == nil {
		host, port = hh, pp
	}
	var pb [5]byte
	portOK := port == "" || port == string(strconv.AppendUint(pb[:0], uint64(f.req.Port), 10))
	if host == f.req.Host && portOK {
		return // already in canonical form: the usual case, without normalising again
	}
	name, _, err := allowlist.NormalizeHost(host)
	if err == nil && name == f.req.Host && portOK {
		return
	}
	header := h.host
	if len(header) > 256 {
		header = header[:256]
	}
	f.note("host header " + strconv.Quote(header) + " disagrees with the request URI; decided on the URI")
	if platform, _, bypass := snap.Lookup(name); err == nil && (platform != "" || bypass) {
		f.record = true
	}
	s.log.Warn().Str(fieldID, f.id).Str(fieldClient, f.client.String()).Str(fieldHost, f.req.Host).
		Str("host_header", header).Msg("host header disagrees with the request uri")
}

// resumeScan tells the connection's scanner that a CONNECT was answered
// without becoming a tunnel: more requests may follow on the connection.
func resumeScan(r *http.Request) {
	if sc := scannerOf(r); sc != nil {
		sc.resume()
	}
}

// takeScan drops the scanned header of a request the proxy does not check.
func takeScan(r *http.Request) {
	if sc := scannerOf(r); sc != nil {
		sc.take(r.Method, r.RequestURI)
	}
}
