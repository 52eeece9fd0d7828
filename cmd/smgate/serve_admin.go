package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// Admin routes, also the route label of smgate_admin_requests_total.
const (
	routeHealthz     = "/healthz"
	routeReadyz      = "/readyz"
	routeMetrics     = "/metrics"
	routeStatus      = "/api/v1/status"
	routeSuspensions = "/api/v1/suspensions"
	routeReload      = "/api/v1/reload"
	routeSuspend     = "/api/v1/{scope}/{id}/suspend"
	routeReinstate   = "/api/v1/{scope}/{id}/reinstate"
	routeOther       = "other"
)

// minTokenLen is the token length below which serve warns.
const minTokenLen = 16

// adminServer serves health, readiness, metrics and the admin API on
// admin.listen.
type adminServer struct {
	srv *http.Server
}

// admin holds what the admin handlers share.
type admin struct {
	g        *gateway
	tokenSum *[sha256.Size]byte // nil: the API is disabled (no admin.token_file)
	requests *prometheus.CounterVec
	// changeMu orders suspension changes and their usage records alike:
	// two operators acting on one target at once get records in the order
	// of the changes.
	changeMu sync.Mutex
}

// startAdmin serves the admin listener. It refuses to start when
// admin.token_file is set but empty or readable by group or others.
func startAdmin(g *gateway, ls *listeners) (frontDoor, error) {
	if ls.admin == nil {
		return nil, nil
	}
	a := &admin{g: g}
	if path := g.cfg.Admin.TokenFile; path != "" {
		tok, err := readToken(path)
		if err != nil {
			return nil, err
		}
		if len(tok) < minTokenLen {
			g.log.Warn().Str("file", path).Int("length", len(tok)).Msg("admin token is short; use 32 random bytes or more")
		}
		sum := sha256.Sum256([]byte(tok))
		a.tokenSum = &sum
	} else {
		g.log.Warn().Msg("admin.token_file is not set: the admin API is disabled")
	}
	var err error
	if a.requests, err = newAdminMetrics(g.reg); err != nil {
		return nil, err
	}
	s := &adminServer{srv: &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}}
	go func() {
		if err := s.srv.Serve(netutil.LimitListener(ls.admin, maxAdminConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	return s, nil
}

// maxAdminConns caps the admin listener's open connections. Whoever
// reaches it could otherwise open connections until the process has no
// file descriptor left, and the proxy could accept none: past the cap new
// connections wait in the kernel's queue until one closes. Scrapes and
// operators need a handful; the cap is high so that a few stalled
// clients do not shut them out. A variable for tests.
var maxAdminConns = 1024

func (s *adminServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// readToken reads the bearer token of the admin API from path. The file
// must be private to its owner (mode 0600 or 0400) and not empty (see
// readSecret, which smgate check uses too).
func readToken(path string) (string, error) {
	tok, err := readSecret(path)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	return tok, nil
}

// routes returns the admin handler. Every route is counted under its
// pattern, never under the path, so ids do not become label values.
func (a *admin) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(route string, h http.Handler) {
		mux.Handle(route, promhttp.InstrumentHandlerCounter(a.requests.MustCurryWith(prometheus.Labels{"route": route}), h))
	}
	handle(routeHealthz, methods(http.HandlerFunc(a.healthz), http.MethodGet))
	handle(routeReadyz, methods(http.HandlerFunc(a.readyz), http.MethodGet))
	handle(routeMetrics, methods(a.metricsHandler(), http.MethodGet))
	handle(routeStatus, a.api(methods(http.HandlerFunc(a.status), http.MethodGet)))
	handle(routeSuspensions, a.api(methods(http.HandlerFunc(a.suspensions), http.MethodGet)))
	handle(routeReload, a.api(methods(http.HandlerFunc(a.reload), http.MethodPost)))
	handle(routeSuspend, a.api(methods(http.HandlerFunc(a.suspend), http.MethodPost)))
	handle(routeReinstate, a.api(methods(http.HandlerFunc(a.reinstate), http.MethodPost)))
	a.holdRoutes(handle)
	other := promhttp.InstrumentHandlerCounter(a.requests.MustCurryWith(prometheus.Labels{"route": routeOther}), http.HandlerFunc(notFound))
	mux.Handle("/", other)
	mux.Handle("/api/", promhttp.InstrumentHandlerCounter(a.requests.MustCurryWith(prometheus.Labels{"route": routeOther}), a.api(http.HandlerFunc(notFound))))
	return mux
}

// metricsHandler serves the registry, or 404 when it cannot be gathered.
func (a *admin) metricsHandler() http.Handler {
	gatherer, ok := a.g.reg.(prometheus.Gatherer)
	if !ok {
		return http.HandlerFunc(notFound)
	}
	return promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
}

// api guards h with the bearer token; without a token file the API is
// disabled and answers 404.
func (a *admin) api(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.tokenSum == nil {
			writeError(w, http.StatusNotFound, "the admin API is disabled: set admin.token_file in the gateway configuration")
			return
		}
		if !a.authorized(r) {
			path := r.URL.Path
			if len(path) > maxLoggedPath { // the client's, up to the header's size
				path = path[:maxLoggedPath] + "..."
			}
			a.g.log.Warn().Str("remote", r.RemoteAddr).Str("path", path).Msg("admin api: request without a valid token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="smgate"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// maxLoggedPath bounds the path of a refused admin request, as the
// operational log shows it.
const maxLoggedPath = 256

// authorized reports whether r carries the admin token. The hashes are
// compared in constant time, so neither the token nor its length leaks.
func (a *admin) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// methods answers 405 with a JSON error unless the request uses one of
// allowed (GET also allows HEAD).
func methods(h http.Handler, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed (want %s)", r.Method, strings.Join(allowed, " or ")))
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
}

func (a *admin) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 only when the policy is loaded, the usage log can be
// written, every configured listener is bound and serve is not stopping.
func (a *admin) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if why := notReady(a.g); len(why) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %s\n", strings.Join(why, "; "))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// notReady returns why the gateway cannot serve, or nil when it can.
// Front doors start before the admin listener, so a bound listener is a
// served one.
func notReady(g *gateway) []string {
	var why []string
	if g.ops != nil && g.ops.stopping.Load() {
		why = append(why, "shutting down")
	}
	if g.engine == nil || g.engine.Snapshot() == nil {
		why = append(why, "no policy loaded")
	}
	if err := g.sink.Healthy(); err != nil {
		why = append(why, "usage log cannot be written: "+err.Error())
	}
	for name, addr := range configuredListeners(g) {
		if addr == "" {
			why = append(why, name+" listener is not bound")
		}
	}
	return why
}

// configuredListeners maps each listener the config asks for to its bound
// address ("" when it is not bound).
func configuredListeners(g *gateway) map[string]string {
	out := map[string]string{}
	add := func(name, want string, bound fmt.Stringer) {
		if want == "" {
			return
		}
		out[name] = ""
		if bound != nil {
			out[name] = bound.String()
		}
	}
	ls := g.ls
	if ls == nil {
		ls = &listeners{}
	}
	add("proxy", g.cfg.Proxy.Listen, addrOf(ls.proxy))
	add("transparent", g.cfg.Proxy.TransparentListen, addrOf(ls.transparent))
	add("dns_tcp", g.cfg.DNS.Listen, addrOf(ls.dnsTCP))
	add("admin", g.cfg.Admin.Listen, addrOf(ls.admin))
	var udp fmt.Stringer
	if ls.dnsUDP != nil {
		udp = ls.dnsUDP.LocalAddr()
	}
	add("dns_udp", g.cfg.DNS.Listen, udp)
	return out
}

// addrOf returns the address of l, or nil when l is nil.
func addrOf(l net.Listener) fmt.Stringer {
	if l == nil {
		return nil
	}
	return l.Addr()
}
