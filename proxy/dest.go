package proxy

import (
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/smgate/smgate/allowlist"
)

// selfSet is the gateway's own listeners: exact addresses, and ports
// listened on every local address (an unspecified listen address).
type selfSet struct {
	mu       sync.RWMutex
	exact    map[netip.AddrPort]bool
	anyPorts map[uint16]bool
	local    map[netip.Addr]bool // addresses of the machine's interfaces
}

func newSelfSet(list []netip.AddrPort) *selfSet {
	s := &selfSet{exact: map[netip.AddrPort]bool{}, anyPorts: map[uint16]bool{}, local: localAddrs()}
	for _, ap := range list {
		s.add(ap)
	}
	return s
}

// localAddrs returns the addresses of the machine's interfaces.
func localAddrs() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	as, _ := net.InterfaceAddrs() // none known: loopback and unspecified are still caught
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			m[p.Addr().Unmap()] = true
		}
	}
	return m
}

func (s *selfSet) add(ap netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := ap.Addr().Unmap()
	if a.IsUnspecified() {
		s.anyPorts[ap.Port()] = true
		return
	}
	s.exact[netip.AddrPortFrom(a, ap.Port())] = true
}

// contains reports whether dialling ap (unmapped) reaches one of the
// gateway's listeners.
func (s *selfSet) contains(ap netip.AddrPort) bool {
	a := ap.Addr()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.exact[ap] {
		return true
	}
	if !s.anyPorts[ap.Port()] {
		return false
	}
	return a.IsLoopback() || s.local[a]
}

// destPolicy says which destination addresses the proxy refuses, whatever
// the decision: the deny list of the configuration in force, the gateway's
// listeners, and unspecified addresses (which reach the local host).
type destPolicy struct {
	deny []allowlist.Prefix
	self *selfSet
}

// refused reports whether the proxy must not connect to ap.
func (p destPolicy) refused(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	if a.IsUnspecified() || !a.IsValid() {
		return true
	}
	for _, pr := range p.deny {
		if pr.Contains(a) {
			return true
		}
	}
	return p.self.contains(netip.AddrPortFrom(a, ap.Port()))
}

// sameDeny reports whether two deny lists are equal.
func sameDeny(a, b []allowlist.Prefix) bool { return slices.Equal(a, b) }
