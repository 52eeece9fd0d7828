package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/logs"
)

// Server is the explicit forward proxy.
type Server struct {
	engine   *allowlist.Engine
	sink     logs.Sink
	log      zerolog.Logger
	m        *metrics
	addrs    *addrmem.Memory
	self     *selfSet
	now      func() time.Time
	resolver Resolver
	asn      func(netip.Addr) uint32
	country  func(netip.Addr) string
	auth     *authenticator
	ids      *idSource
	tracker  *tracker

	resolveTimeout time.Duration
	dialTimeout    time.Duration
	tunnelLife     time.Duration
	maxConns       int64
	open           atomic.Int64 // client connections open
	rejecting      atomic.Int64 // connections being answered 503

	dialer *net.Dialer
	tr     *http.Transport
	gp     *goproxy.ProxyHttpServer
	srv    *http.Server

	// connsMu guards conns, the keep-alive client connections that carried
	// a social-media request let through (keepalive.go).
	connsMu sync.Mutex
	conns   map[*limitConn]struct{}

	denyMu sync.Mutex
	deny   []allowlist.Prefix // deny list of the last snapshot seen by onSwap

	// The minute clock (onMinute) starts with the first Serve and stops
	// at Shutdown.
	clockOnce, stopOnce sync.Once
	stopClock           chan struct{}

	// testHook, when set, runs at the start of every request (tests use it
	// to panic).
	testHook func(*http.Request)
}

// New returns a Server for the policy of o.Engine. Listen addresses,
// timeouts, the connection cap and the resolver are read from the
// configuration in force now; changing them needs a restart.
func New(o Options) (*Server, error) {
	if o.Engine == nil || o.Sink == nil {
		return nil, errors.New("proxy: Engine and Sink are required")
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("proxy: register metrics: %w", err)
	}
	cfg := o.Engine.Config()
	s := &Server{
		engine: o.Engine, sink: o.Sink, log: o.Logger, m: m, addrs: o.Addrs,
		self: newSelfSet(o.Self), now: o.Now, resolver: o.Resolver, asn: o.ASN, country: o.Country,
		auth: newAuthenticator(runtime.GOMAXPROCS(0)), ids: newIDSource(), tracker: newTracker(), stopClock: make(chan struct{}),
		resolveTimeout: cfg.Resolver.Timeout.Duration, dialTimeout: cfg.Proxy.DialTimeout.Duration,
		maxConns: int64(cfg.Proxy.MaxConns), deny: cfg.Proxy.DenyDestinations,
		conns: map[*limitConn]struct{}{},
	}
	if s.addrs == nil {
		s.addrs = addrmem.New(0)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tunnelLife = o.TunnelLifetime; s.tunnelLife <= 0 {
		s.tunnelLife = tunnelLifetime
	}
	if s.resolver == nil {
		s.resolver = newResolver(cfg.Resolver)
	}
	s.dialer = &net.Dialer{KeepAlive: 30 * time.Second}
	s.tr = s.newTransport(o.UpstreamTLS)
	s.gp = s.newGoproxy()
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.Proxy.HeaderTimeout.Duration,
		IdleTimeout:       cfg.Proxy.IdleTimeout.Duration,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(debugWriter{s.log}, "", 0),
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnContext:       connContext,
		ConnState:         s.connState,
		// Every request reaches the handler, so that the Host header
		// scanner's queue stays in step with the requests.
		DisableGeneralOptionsHandler: true,
	}
	o.Engine.OnSwap(s.onSwap)
	return s, nil
}

// Serve accepts connections on ln until Shutdown; ln's address is added
// to the gateway's own addresses. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		s.self.add(ap)
	}
	s.log.Info().Str("addr", ln.Addr().String()).Msg("proxy listening")
	s.clockOnce.Do(func() { go s.onMinute(s.stopClock) })
	err := s.srv.Serve(&limitListener{Listener: ln, s: s})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits until ctx ends for open requests and
// tunnels to finish, then closes what is left; every tunnel's record is
// handed to the sink before Shutdown returns. It returns ctx's error when
// it had to close connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopClock) })
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(ctx) }()
	tunnelsErr := s.tracker.wait(ctx)
	err := <-done
	if err != nil || tunnelsErr != nil {
		_ = s.srv.Close()
		s.tracker.cutAll()
		s.tracker.wait(context.Background()) //nolint:errcheck // cannot fail without a deadline
		err = errors.Join(err, tunnelsErr)
	}
	s.tr.CloseIdleConnections()
	s.log.Info().Msg("proxy stopped")
	return err
}

// ServeHTTP serves one request: CONNECT, an absolute-form request to
// forward, or a direct request to the proxy itself (the PAC file).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.recoverPanic(r)
	if s.testHook != nil {
		s.testHook(r)
	}
	switch {
	case r.Method == http.MethodConnect:
		s.serveConnect(w, r)
	case r.URL.IsAbs():
		s.gp.ServeHTTP(w, r)
	default:
		s.serveDirect(w, r)
	}
}

// recoverPanic logs and counts a panic while serving r, then lets net/http
// abort the connection quietly; everyone else is served on.
func (s *Server) recoverPanic(r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
		panic(v)
	}
	s.m.panics.Inc()
	s.log.Error().Str(fieldClient, r.RemoteAddr).Str("panic", fmt.Sprint(v)).
		Bytes("stack", stack()).Msg("panic serving connection")
	panic(http.ErrAbortHandler)
}

// debugWriter sends net/http's and goproxy's own messages to the
// operational log at debug level.
type debugWriter struct{ log zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug().Bytes("msg", p).Msg("http server")
	return len(p), nil
}
