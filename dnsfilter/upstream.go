package dnsfilter

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// connsPerUpstream is how many UDP sockets each upstream gets; queries
// are spread over them and multiplexed by ID.
const connsPerUpstream = 4

// Upstream errors.
var (
	errTimeout = errors.New("upstream timeout")
	errClosed  = errors.New("upstream closed")
	errRcode   = errors.New("upstream failure rcode")
	errRefused = errors.New("upstream refused the connection")
)

// upstreams forwards questions to the resolvers in turn until one answers.
type upstreams struct {
	addrs   []string
	timeout time.Duration
	conns   [][]*muxConn // by upstream
	next    atomic.Uint32
	m       *metrics
}

func newUpstreams(addrs []string, timeout time.Duration, m *metrics) (*upstreams, error) {
	u := &upstreams{addrs: addrs, timeout: timeout, m: m}
	for _, a := range addrs {
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			u.close()
			return nil, fmt.Errorf("upstream %q: %w", a, err)
		}
		cs := make([]*muxConn, connsPerUpstream)
		for i := range cs {
			if cs[i], err = dialMux(ua); err != nil {
				u.conns = append(u.conns, cs[:i])
				u.close()
				return nil, fmt.Errorf("upstream %q: %w", a, err)
			}
		}
		u.conns = append(u.conns, cs)
	}
	return u, nil
}

func (u *upstreams) close() {
	for _, cs := range u.conns {
		for _, c := range cs {
			c.close()
		}
	}
}

// exchange sends the packed query q (its ID is set per attempt) to each
// upstream in turn, starting with the next in rotation, and returns the
// first usable response: NOERROR or NXDOMAIN, complete (over TCP when UDP
// came back truncated).
func (u *upstreams) exchange(q []byte, question []byte) (*dns.Msg, error) {
	n := uint32(len(u.addrs))
	first := u.next.Add(1)
	var err error
	for i := uint32(0); i < n; i++ {
		k := (first + i) % n
		start := time.Now()
		var m *dns.Msg
		m, err = u.attempt(int(k), int(first), q, question)
		u.m.upstreamSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			return m, nil
		}
		u.m.upstreamFailures.Inc()
	}
	return nil, err
}

func (u *upstreams) attempt(k, spread int, q, question []byte) (*dns.Msg, error) {
	c := u.conns[k][spread%len(u.conns[k])]
	b, err := c.exchange(q, question, u.timeout)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, fmt.Errorf("upstream answer: %w", err)
	}
	if m.Truncated {
		if m, err = u.overTCP(k, q); err != nil {
			return nil, err
		}
	}
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%w %s", errRcode, dns.RcodeToString[m.Rcode])
	}
	return m, nil
}

// overTCP asks upstream k the packed query b again over TCP, after a
// truncated answer over UDP.
func (u *upstreams) overTCP(k int, b []byte) (*dns.Msg, error) {
	q := new(dns.Msg)
	if err := q.Unpack(b); err != nil {
		return nil, err
	}
	q.Id = dns.Id()
	cl := dns.Client{Net: "tcp", Timeout: u.timeout}
	m, _, err := cl.Exchange(q, u.addrs[k])
	if err != nil {
		return nil, fmt.Errorf("upstream over tcp: %w", err)
	}
	return m, nil
}

// systemResolvers returns the nameservers of a resolv.conf file as
// host:port, or nil when it cannot be read.
func systemResolvers(path string) []string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out
}
