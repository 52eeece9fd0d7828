package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// newTransport returns the upstream transport: many idle connections per
// host (goproxy's default keeps net/http's 2, which caps plain-HTTP
// throughput), certificates verified (goproxy's default skips it), no
// environment proxy, and every dial through the checked dialer.
func (s *Server) newTransport(tlsConf *tls.Config) *http.Transport {
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConf = tlsConf.Clone()
	tlsConf.InsecureSkipVerify = false
	return &http.Transport{
		DialContext:            s.transportDial,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    tlsHandshake,
		MaxIdleConns:           maxIdle,
		MaxIdleConnsPerHost:    maxIdlePerHost,
		IdleConnTimeout:        upstreamIdle,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // pass the client's Accept-Encoding and the body through
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// newGoproxy returns the goproxy server that forwards absolute-form
// requests, with the decision as its request handler.
func (s *Server) newGoproxy() *goproxy.ProxyHttpServer {
	gp := goproxy.NewProxyHttpServer()
	gp.Tr = s.tr
	gp.ConnectDial = nil
	gp.Logger = printfLogger{s.log}
	gp.KeepAcceptEncoding = true
	gp.NonproxyHandler = http.HandlerFunc(s.serveDirect)
	gp.OnRequest().DoFunc(s.onRequest)
	return gp
}

// newFlow starts the flow of request r.
func (s *Server) newFlow(r *http.Request, action string) *flow {
	f := &flow{id: s.ids.next(), start: s.now(), action: action, method: r.Method,
		client: clientAddr(r.RemoteAddr)}
	f.req = allowlist.Request{ClientIP: f.client, Source: allowlist.SourceExplicit, Time: f.start}
	return f
}

// onRequest decides an absolute-form request. A request that must not go
// on gets its answer here; one that goes on carries its flow to
// roundTrip.
func (s *Server) onRequest(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	snap := s.engine.Snapshot()
	f := s.newFlow(r, logs.ActionHTTPRequest)
	authz := r.Header.Get("Proxy-Authorization")
	r.Header.Del("Proxy-Authorization") // never upstream, whatever happens next
	host, port, ok := httpTarget(r.URL)
	name, ip, err := allowlist.NormalizeHost(host)
	if !ok || err != nil {
		takeScan(r)
		s.endBody(r)
		s.m.refused.WithLabelValues("bad_request").Inc()
		p := gatewayPage(http.StatusBadRequest, "", explainBadRequest, f.id, snap.Config().Gateway.Name, f.start)
		return r, p.response(r, wantsHTML(r.Header.Get("Accept")))
	}
	f.path = recordPath(r.URL.Path)
	f.req.Host, f.req.Port, f.req.Path = name, port, r.URL.Path
	f.req.Action = allowlist.ActionFor(r.Method, r.Header.Get("Content-Type"))
	s.addrPlatform(&f.req, ip, f.start)
	v := s.decide(f, snap, authz)
	s.checkHostHeader(f, r, snap)
	s.count(f)
	if v != verdictForward {
		s.endBody(r)
		return r, s.answerHTTP(f, snap, r, v)
	}
	if f.d.Social {
		s.rememberRequest(r, f, snap)
	}
	r.URL.Host = hostPort(name, r.URL.Port())
	r.Host = "" // the Host upstream is the host decided on
	dropUpgrade(r.Header)
	f.snap = snap
	ctx.UserData = f
	ctx.RoundTripper = goproxy.RoundTripperFunc(s.roundTrip)
	return r, nil
}

// httpTarget returns the host and port of an absolute http or https URL.
func httpTarget(u *url.URL) (string, uint16, bool) {
	var port uint16
	switch u.Scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return "", 0, false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return "", 0, false
		}
		port = uint16(n)
	}
	h := u.Hostname()
	return h, port, h != ""
}

// hostPort joins a normalised host and an optional port.
func hostPort(host, port string) string {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// answerHTTP records a request that does not go upstream and returns its
// answer: a block page, a 407 challenge or a 429.
func (s *Server) answerHTTP(f *flow, snap *allowlist.Snapshot, r *http.Request, v verdict) *http.Response {
	f.status = verdictStatus(v)
	if err := s.logFlow(f); err != nil && f.d.Social {
		f.d = blockNow(f.d, allowlist.ReasonPolicyUnavailable)
		v, f.status = verdictBlock, http.StatusForbidden // no challenge nor retry helps
	}
	resp := s.decisionPage(f, snap, f.status).response(r, wantsHTML(r.Header.Get("Accept")))
	setVerdictHeaders(resp.Header, f, v)
	return resp
}

func verdictStatus(v verdict) int {
	switch v {
	case verdictChallenge:
		return http.StatusProxyAuthRequired
	case verdictLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

func setVerdictHeaders(h http.Header, f *flow, v verdict) {
	switch v {
	case verdictChallenge:
		h.Set("Proxy-Authenticate", `Basic realm="smgate"`)
	case verdictLimited:
		h.Set("Retry-After", strconv.Itoa(int(f.retry/time.Second)+1))
	}
}

// roundTrip sends a decided request upstream. It always returns a
// response: upstream failures become pages, never internal error text.
func (s *Server) roundTrip(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Response, error) {
	f, _ := ctx.UserData.(*flow)
	if f == nil {
		return s.tr.RoundTrip(req)
	}
	ctxUp := req.Context()
	if f.record {
		ctxUp = httptrace.WithClientTrace(ctxUp, &httptrace.ClientTrace{
			GotConn: func(ci httptrace.GotConnInfo) { f.dest = remoteAddrPort(ci.Conn) },
		})
	}
	track := f.d.Social
	var cancel context.CancelFunc
	if track {
		ctxUp, cancel = context.WithCancel(ctxUp)
		f.setCut(cancel)
		s.tracker.add(f)
		s.recheck(f, f.snap) // a swap since the decision missed the flow
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	served := req.Context()
	if ctxUp != served || hasBody {
		// One shallow copy of the request for both; never a change to
		// the request net/http serves, whose body it reads itself.
		req = req.WithContext(ctxUp)
	}
	if hasBody {
		req.Body = &forwardBody{ReadCloser: req.Body, s: s, r: req, served: served}
	}
	t0 := time.Now()
	resp, err := s.tr.RoundTrip(req)
	s.m.upstream.Observe(time.Since(t0).Seconds())
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols && !isWebSocket(resp.Header) {
		_ = resp.Body.Close()
		err = errUnrelayedUpgrade
	}
	if err != nil {
		if track {
			s.tracker.done(f)
		}
		if by := f.cutReason(); by != "" {
			return s.cutPage(f, req, by), nil
		}
		return s.upstreamFailed(f, req, err), nil
	}
	f.status = resp.StatusCode
	if err := s.logFlow(f); err != nil && f.d.Social {
		_ = resp.Body.Close()
		if track {
			s.tracker.done(f)
		}
		f.d = blockNow(f.d, allowlist.ReasonPolicyUnavailable)
		s.endBody(req)
		return s.decisionPage(f, s.engine.Snapshot(), http.StatusForbidden).response(req, wantsHTML(req.Header.Get("Accept"))), nil
	}
	if f.record {
		resp.Header.Set(headerRequestID, f.id)
	}
	if up, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = s.upgraded(f, req, up, track)
		return resp, nil
	}
	if resp.ContentLength < 0 {
		// goproxy flushes each write to the client only when the answer's
		// header says chunked, and the transport took Transfer-Encoding
		// out of it: say it again, so that a streamed answer (long poll,
		// server push) is not held in the server's buffer.
		resp.Header.Set("Transfer-Encoding", "chunked")
	}
	if track {
		resp.Body = untrackBody(resp.Body, func() { s.tracker.done(f) })
		cutAnswer(f, req, cancel)
	}
	return resp, nil
}

// cutAnswer makes a cut of f, once its answer is on its way, close the
// client connection too: goproxy ends its copy quietly when the cancelled
// upstream body fails, and net/http would then end the answer as if it
// were complete, so the client would take a cut page or file for the
// whole.
func cutAnswer(f *flow, req *http.Request, cancel context.CancelFunc) {
	client := connOf(req)
	if client == nil {
		return
	}
	// Closed first: once the request is cancelled, net/http may end the
	// answer at once.
	f.setCut(func() { _ = client.Close(); cancel() })
	if f.cutReason() != "" { // cut while the answer was on its way
		_ = client.Close()
	}
}

// errUnrelayedUpgrade is the failure of a request that the destination
// switched to a protocol other than WebSocket: goproxy relays only
// WebSocket, and would hold any other switched connection open without a
// byte to the client. The proxy asks for no other (see dropUpgrade), so
// only a destination that switches unasked gets here.
var errUnrelayedUpgrade = errors.New("the destination switched to a protocol other than WebSocket")

// isWebSocket reports whether h, a request's or a 101 answer's header,
// asks for or switches to WebSocket.
func isWebSocket(h http.Header) bool {
	return hasToken(h["Connection"], "upgrade") && hasToken(h["Upgrade"], "websocket")
}

// hasToken reports whether one of the comma-separated lists vs holds tok,
// in any case.
func hasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), tok) {
				return true
			}
		}
	}
	return false
}

// dropUpgrade takes out of a request that goes upstream any protocol
// switch other than WebSocket (h2c, TLS/1.0, ...): Upgrade is a hop-by-hop
// header, and the destination then answers in HTTP/1.1 as it must when it
// is not asked to switch.
func dropUpgrade(h http.Header) {
	if h["Upgrade"] == nil || isWebSocket(h) {
		return
	}
	h.Del("Upgrade")
	h.Del("Http2-Settings")
	conn := h["Connection"]
	if conn == nil {
		return
	}
	var keep []string
	for _, v := range conn {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "upgrade") && !strings.EqualFold(p, "http2-settings") {
				keep = append(keep, p)
			}
		}
	}
	if len(keep) == 0 {
		h.Del("Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

// upgraded returns the body of a 101 Switching Protocols answer: the
// upstream connection, which goproxy relays to the hijacked client
// connection until one side stops, then closes. goproxy never closes the
// client connection, so closing the body does: the client sees the end,
// and the connection gives back its descriptor and its place under
// max_conns. Cancelling the request no longer reaches a switched
// connection, so a policy cut closes the body instead.
func (s *Server) upgraded(f *flow, req *http.Request, up io.ReadWriteCloser, track bool) io.ReadWriteCloser {
	b := &upgradedBody{ReadWriteCloser: up}
	if lc := connOf(req); lc != nil {
		b.client = lc
	}
	if track {
		b.done = func() { s.tracker.done(f) }
		f.setCut(func() { _ = b.Close() })
		if f.cutReason() != "" { // cut while the answer was on its way
			_ = b.Close()
		}
	}
	return b
}

// upgradedBody closes the upstream and the client connection of a
// switched request together, once.
type upgradedBody struct {
	io.ReadWriteCloser
	client net.Conn
	done   func()
	once   sync.Once
	err    error
}

func (b *upgradedBody) Close() error {
	b.once.Do(func() {
		b.err = b.ReadWriteCloser.Close()
		if b.client != nil {
			_ = b.client.Close()
		}
		if b.done != nil {
			b.done()
		}
	})
	return b.err
}

// cutPage records a request that the policy cut before its answer came
// (a suspension, a reload, the end of a schedule) and returns the block
// page of the reason.
func (s *Server) cutPage(f *flow, req *http.Request, by allowlist.Reason) *http.Response {
	f.d = blockNow(f.d, by)
	f.status = http.StatusForbidden
	_ = s.logFlow(f)
	s.endBody(req)
	return s.decisionPage(f, s.engine.Snapshot(), http.StatusForbidden).response(req, wantsHTML(req.Header.Get("Accept")))
}

// upstreamFailed records a request whose upstream could not be reached and
// returns the page for it: 403 for a refused destination, 504 for a
// timeout, 502 otherwise, 400 for a host that cannot be dialled.
func (s *Server) upstreamFailed(f *flow, req *http.Request, err error) *http.Response {
	snap := s.engine.Snapshot()
	p := s.failurePage(f, snap, err)
	f.status = p.Status
	_ = s.logFlow(f)
	s.endBody(req)
	return p.response(req, wantsHTML(req.Header.Get("Accept")))
}

// statusClientClosed is the status recorded for a request whose client
// hung up before the upstream answered (nginx's 499); no client sees it.
const statusClientClosed = 499

// failurePage returns the page of a failed dial or round trip and notes
// the failure in the flow's record.
func (s *Server) failurePage(f *flow, snap *allowlist.Snapshot, err error) *page {
	status, explain, cause := http.StatusBadGateway, explainBadGateway, "upstream_error"
	var de *dialError
	switch {
	case errors.As(err, &de) && de.kind == dialRefused:
		status, explain, cause = http.StatusForbidden, explainRefused, "destination_refused"
	case errors.As(err, &de) && de.kind == dialBadHost:
		status, explain, cause = http.StatusBadRequest, explainBadRequest, "bad_request"
	case errors.As(err, &de) && de.kind == dialNoName:
		explain, cause = explainNoName, "no_such_name"
	case errors.Is(err, context.Canceled) && f.cutReason() == "":
		// The client went away while waiting: nothing failed upstream.
		status, cause = statusClientClosed, "client_closed"
	case classify(err, dialFailed) == dialTimeout:
		status, explain, cause = http.StatusGatewayTimeout, explainTimeout, "upstream_timeout"
	}
	s.m.refused.WithLabelValues(cause).Inc()
	f.note("gateway: " + cause)
	s.log.Info().Str(fieldID, f.id).Str(fieldHost, f.req.Host).Str(fieldCause, cause).Err(err).Msg("upstream failed")
	return gatewayPage(status, f.req.Host, explain, f.id, snap.Config().Gateway.Name, f.start)
}

// logFlow writes the flow's usage record when it has one.
func (s *Server) logFlow(f *flow) error {
	if !f.record {
		return nil
	}
	r := f.toRecord(s.now())
	// The destination's address: the one dialled, else an IP-literal host
	// (blocked before any dial), whose AS the decision has already.
	dest := r.DestIP
	if !dest.IsValid() {
		dest, _ = netip.ParseAddr(f.req.Host)
	}
	if dest.IsValid() {
		if s.country != nil {
			r.Country = s.country(dest)
		}
		if r.ASN == 0 && s.asn != nil {
			r.ASN = s.asn(dest)
		}
	}
	if err := s.sink.Log(r); err != nil {
		s.log.Error().Err(err).Str(fieldID, f.id).Msg("usage log refused a record")
		return err
	}
	return nil
}

// count counts a decision.
func (s *Server) count(f *flow) {
	s.m.countDecision(f.d.Platform, f.outcome(), string(f.d.Reason))
}

func remoteAddrPort(c net.Conn) netip.AddrPort {
	if c == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// untrackBody calls done once when the body is closed. A body that is
// also a writer (a 101 Switching Protocols upgrade) stays one.
func untrackBody(b io.ReadCloser, done func()) io.ReadCloser {
	t := &trackedBody{ReadCloser: b, done: done}
	if w, ok := b.(io.Writer); ok {
		return trackedRWBody{t, w}
	}
	return t
}

type trackedBody struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

type trackedRWBody struct {
	*trackedBody
	io.Writer
}

// printfLogger sends goproxy's messages to the operational log at debug
// level.
type printfLogger struct{ log zerolog.Logger }

func (p printfLogger) Printf(format string, v ...any) {
	p.log.Debug().Msgf(format, v...)
}

// recordPath returns path as url.path records it: without the parameters
// of its segments (";jsessionid=..."), which carry session tokens, as
// cookies and query strings do, and records hold none of those. A path
// without ';' is returned as it is.
func recordPath(path string) string {
	if strings.IndexByte(path, ';') < 0 {
		return path
	}
	var b strings.Builder
	for path != "" {
		i := strings.IndexByte(path, ';')
		if i < 0 {
			b.WriteString(path)
			break
		}
		b.WriteString(path[:i])
		j := strings.IndexByte(path[i:], '/')
		if j < 0 {
			break
		}
		path = path[i+j:]
	}
	return b.String()
}
