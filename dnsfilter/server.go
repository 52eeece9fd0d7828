package dnsfilter

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/logs"
)

// udpReadSize is the largest query read over UDP.
const udpReadSize = 4096

// Server is the DNS filter: a dns.Handler serving UDP and TCP.
type Server struct {
	engine *allowlist.Engine
	sink   logs.Sink
	log    zerolog.Logger
	now    func() time.Time
	addrs  *addrmem.Memory
	reg    prometheus.Registerer

	cache   *cache
	flights flights
	up      *upstreams
	lim     limiter
	m       *metrics
	bufs    sync.Pool

	mu      sync.Mutex
	servers []*dns.Server
	wg      sync.WaitGroup
	errs    []error
}

// New returns a Server for o. It registers the metrics and opens the
// upstream sockets; Shutdown releases both.
func New(o Options) (*Server, error) {
	if o.Engine == nil {
		return nil, errors.New("dnsfilter: Options.Engine is required")
	}
	o, err := o.withDefaults(o.Engine.Config())
	if err != nil {
		return nil, err
	}
	s := &Server{engine: o.Engine, sink: o.Sink, log: o.Logger, now: o.Now, addrs: o.Addrs,
		reg: o.Registerer, cache: newCache(o.CacheSize)}
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	s.m = newMetrics(func() float64 { return float64(s.cache.len()) })
	if err := s.m.register(o.Registerer); err != nil {
		return nil, err
	}
	if s.up, err = newUpstreams(o.Upstreams, o.Timeout, s.m); err != nil {
		s.m.unregister(o.Registerer)
		return nil, err
	}
	return s, nil
}

// Start serves DNS on pc (UDP) and l (TCP), either of which may be nil,
// and returns once both are serving. The Server closes them on Shutdown.
func (s *Server) Start(pc net.PacketConn, l net.Listener) error {
	if pc != nil {
		if err := s.start(&dns.Server{PacketConn: plainUDP(pc), UDPSize: udpReadSize}); err != nil {
			return err
		}
	}
	if l != nil {
		if err := s.start(&dns.Server{Listener: l}); err != nil {
			return err
		}
	}
	return nil
}

// Serve is Start, then waits until the servers stop (Shutdown) and returns
// the first error they stopped with.
func (s *Server) Serve(pc net.PacketConn, l net.Listener) error {
	if err := s.Start(pc, l); err != nil {
		return err
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func (s *Server) start(srv *dns.Server) error {
	srv.Handler = s
	srv.MsgAcceptFunc = acceptQuery
	srv.MsgInvalidFunc = func([]byte, error) { s.m.malformed.Inc() }
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := srv.ActivateAndServe()
		errc <- err
		if err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
	}()
	select {
	case <-started:
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.mu.Unlock()
		s.log.Info().Str("addr", srvAddr(srv)).Msg("dns filter serving")
		return nil
	case err := <-errc:
		return err
	}
}

// boundUDP is a UDP socket bound to one address, served without control
// messages: miekg/dns serves a *net.UDPConn with IP_PKTINFO on every read
// and write (so that a wildcard socket answers from the address the query
// went to), which costs a parse and a marshal of the control message per
// query and more work in the kernel. A socket bound to one address always
// answers from it, so it does not need them. Any type but *net.UDPConn
// makes the server use plain ReadFrom and WriteTo.
type boundUDP struct{ *net.UDPConn }

// plainUDP returns pc as a boundUDP when it is a UDP socket bound to a
// specified address, otherwise pc.
func plainUDP(pc net.PacketConn) net.PacketConn {
	if u, ok := pc.(*net.UDPConn); ok {
		if a, ok := u.LocalAddr().(*net.UDPAddr); ok && a.IP != nil && !a.IP.IsUnspecified() {
			return boundUDP{u}
		}
	}
	return pc
}

func srvAddr(srv *dns.Server) string {
	if srv.PacketConn != nil {
		return "udp/" + srv.PacketConn.LocalAddr().String()
	}
	return "tcp/" + srv.Listener.Addr().String()
}

// Shutdown stops the servers, waiting for queries in flight until ctx
// ends, then closes the upstream sockets and unregisters the metrics.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.up.close()
	s.m.unregister(s.reg)
	return errors.Join(errs...)
}
