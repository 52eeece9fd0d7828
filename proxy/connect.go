package proxy

import (
	"net"
	"net/http"
	"strconv"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// serveConnect decides a CONNECT on its host without the port, then dials
// the checked address and tunnels. The proxy handles CONNECT itself rather
// than through goproxy's handler: that one drops bytes the client sent
// right after the CONNECT header, and copies in goroutines the proxy could
// neither count, cut on suspension nor drain on shutdown.
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	f := s.newFlow(r, logs.ActionConnect)
	takeScan(r)
	host, port, ok := connectTarget(r.URL.Host)
	name, ip, err := allowlist.NormalizeHost(host)
	if !ok || err != nil {
		resumeScan(r)
		s.endBody(r)
		s.m.refused.WithLabelValues("bad_request").Inc()
		gatewayPage(http.StatusBadRequest, "", "A CONNECT request needs a host and a port (host:port).",
			f.id, snap.Config().Gateway.Name, f.start).write(w, false)
		return
	}
	f.req.Host, f.req.Port = name, port
	f.req.Action = allowlist.ActionFor(http.MethodConnect, "")
	s.addrPlatform(&f.req, ip, f.start)
	v := s.decide(f, snap, r.Header.Get("Proxy-Authorization"))
	s.count(f)
	if v != verdictForward {
		s.answerConnect(w, r, f, snap, v)
		return
	}
	t0 := s.now()
	up, err := s.dial(r.Context(), snap, name, port)
	s.m.upstream.Observe(s.now().Sub(t0).Seconds())
	if err != nil {
		resumeScan(r)
		s.endBody(r)
		p := s.failurePage(f, snap, err)
		f.status = p.Status
		_ = s.logFlow(f)
		p.write(w, false)
		return
	}
	f.dest = remoteAddrPort(up)
	s.tunnel(w, f, snap, up, r.Header.Get("Proxy-Authorization"))
}

// connectTarget splits a CONNECT authority; a missing or bad port is
// refused rather than guessed.
func connectTarget(authority string) (string, uint16, bool) {
	host, p, err := net.SplitHostPort(authority)
	if err != nil || host == "" {
		return "", 0, false
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return host, uint16(n), true
}

// answerConnect records a CONNECT that does not go through and answers it:
// 403 with the reason in X-Smgate-Reason and a text body, 407 or 429.
func (s *Server) answerConnect(w http.ResponseWriter, r *http.Request, f *flow, snap *allowlist.Snapshot, v verdict) {
	resumeScan(r)
	s.endBody(r)
	f.status = verdictStatus(v)
	if err := s.logFlow(f); err != nil && f.d.Social {
		f.d = blockNow(f.d, allowlist.ReasonPolicyUnavailable)
		v, f.status = verdictBlock, http.StatusForbidden // no challenge nor retry helps
	}
	setVerdictHeaders(w.Header(), f, v)
	s.decisionPage(f, snap, f.status).write(w, false)
}
