package proxy

import "net/http"

// checkHostHeader notes, in the flow's record and the operational log, a
// Host header that disagrees with the absolute URI the request was decided
// on. (net/http drops the Host header of an absolute-form request; the
// connection's header scanner keeps it.)
func (s *Server) checkHostHeader(f *flow, r *http.Request, decided string) {}
