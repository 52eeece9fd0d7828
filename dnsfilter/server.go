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
	udp     []*udpServer
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
		u, err := newUDPServer(s, pc)
		if err != nil {
			return err
		}
		if u != nil {
			s.startUDP(u)
		} else if err := s.start(&dns.Server{PacketConn: pc, UDPSize: udpReadSize}); err != nil {
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

// startUDP starts the batch server u, which serves from its first read.
func (s *Server) startUDP(u *udpServer) {
	u.start()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := u.wait(); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
	}()
	s.mu.Lock()
	s.udp = append(s.udp, u)
	s.mu.Unlock()
	s.log.Info().Str("addr", u.addr()).Msg("dns filter serving")
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
	servers, udp := s.servers, s.udp
	s.servers, s.udp = nil, nil
	s.mu.Unlock()
	var errs []error
	for _, u := range udp {
		if err := u.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, srv := range servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.up.close()
	s.m.unregister(s.reg)
	return errors.Join(errs...)
}
