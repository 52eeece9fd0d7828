package proxy

import (
	"fmt"
	"runtime/debug"
)

func stack() []byte { return debug.Stack() }

// recoverGoroutine recovers a panic in a goroutine of the proxy's own (a
// tunnel's copy), logs and counts it; the caller's deferred cleanup runs.
func (s *Server) recoverGoroutine(what string) {
	if v := recover(); v != nil {
		s.m.panics.Inc()
		s.log.Error().Str("in", what).Str("panic", fmt.Sprint(v)).Bytes("stack", stack()).Msg("panic recovered")
	}
}
