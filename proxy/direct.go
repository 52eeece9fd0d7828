package proxy

import (
	"net/http"
)

// serveDirect answers a request made to the proxy itself rather than
// through it: the PAC file, or a short page saying what this is.
func (s *Server) serveDirect(w http.ResponseWriter, r *http.Request) {
	takeScan(r)
	s.endBody(r)
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.URL.Path == "/proxy.pac" || r.URL.Path == "/wpad.dat") {
		s.servePAC(w, r)
		return
	}
	s.m.refused.WithLabelValues("not_proxy_request").Inc()
	snap := s.engine.Snapshot()
	gatewayPage(http.StatusNotFound, "", "This is the smgate proxy. Configure it as your web proxy, or use the automatic configuration at /proxy.pac.",
		s.ids.next(), snap.Config().Gateway.Name, s.now()).write(w, wantsHTML(r.Header.Get("Accept")))
}
