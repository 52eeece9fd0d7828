package proxy

import (
	"net"
	"net/http"

	"github.com/smgate/smgate/allowlist"
)

// Keep-alive client connections outlive the decision of the request they
// carried: a suspended user whose browser keeps a connection open could
// otherwise go on using it until the idle timeout. Each connection
// remembers the last social-media request let through on it; every policy
// swap re-decides that request for the connections waiting idle between
// requests and closes those the new policy blocks. A connection busy with
// a request is re-decided when that request ends (and its next request is
// decided anyway); a social-media answer still streaming is a tracked flow,
// cut by onSwap itself.

// connState follows the client connections' states for the keep-alive
// re-decision; it is the http.Server's ConnState hook.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	switch st {
	case http.StateActive:
		lc.pmu.Lock()
		lc.idle = false
		lc.pmu.Unlock()
	case http.StateIdle:
		s.wentIdle(lc)
	case http.StateHijacked, http.StateClosed:
		s.forgetConn(lc)
	}
}

// wentIdle marks lc idle between requests and, when the policy changed
// since its last request was decided, re-decides that request now.
func (s *Server) wentIdle(lc *limitConn) {
	snap := s.engine.Snapshot()
	lc.pmu.Lock()
	lc.idle = true
	stale := lc.hasLast && lc.snap != snap
	lc.pmu.Unlock()
	if stale {
		s.recheckConn(lc, snap, false)
	}
}

// rememberRequest notes on the client connection of r the social-media
// request of f that the policy snap let through.
func (s *Server) rememberRequest(r *http.Request, f *flow, snap *allowlist.Snapshot) {
	lc := connOf(r)
	if lc == nil {
		return
	}
	lc.pmu.Lock()
	defer lc.pmu.Unlock()
	if lc.gone {
		return
	}
	lc.last, lc.hasLast, lc.snap = f.req, true, snap
	if !lc.listed {
		lc.listed = true
		s.connsMu.Lock()
		s.conns[lc] = struct{}{}
		s.connsMu.Unlock()
	}
}

// forgetConn drops a closed or hijacked connection from the keep-alive
// list.
func (s *Server) forgetConn(lc *limitConn) {
	lc.pmu.Lock()
	defer lc.pmu.Unlock()
	lc.gone, lc.hasLast = true, false
	if lc.listed {
		lc.listed = false
		s.connsMu.Lock()
		delete(s.conns, lc)
		s.connsMu.Unlock()
	}
}

// recheckIdleConns re-decides the last request of every idle keep-alive
// connection on snap and closes those it now blocks; without always, a
// connection already re-decided on snap is left alone.
func (s *Server) recheckIdleConns(snap *allowlist.Snapshot, always bool) {
	s.connsMu.Lock()
	list := make([]*limitConn, 0, len(s.conns))
	for lc := range s.conns {
		list = append(list, lc)
	}
	s.connsMu.Unlock()
	for _, lc := range list {
		s.recheckConn(lc, snap, always)
	}
}

// recheckConn re-decides the last request of lc on snap when lc is idle,
// and closes lc when snap blocks it. A busy connection is left to
// wentIdle.
func (s *Server) recheckConn(lc *limitConn, snap *allowlist.Snapshot, always bool) {
	lc.pmu.Lock()
	if !lc.idle || !lc.hasLast || lc.gone || lc.snap == snap && !always {
		lc.pmu.Unlock()
		return
	}
	r := lc.last
	r.Time = s.now()
	d := snap.Decide(&r)
	lc.snap = snap
	lc.pmu.Unlock()
	if d.Pass() {
		return
	}
	s.log.Info().Str(fieldClient, r.ClientIP.String()).Str(fieldUser, d.User).Str(fieldReason, string(d.Reason)).
		Msg("closing idle keep-alive connection: policy now blocks its last request")
	_ = lc.Close()
}

// connOf returns the client connection of r.
func connOf(r *http.Request) *limitConn {
	lc, _ := r.Context().Value(connKey{}).(*limitConn)
	return lc
}
