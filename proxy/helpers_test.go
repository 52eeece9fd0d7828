package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// testNow is the clock of every test: a Wednesday inside every approval of
// testdata/registry.toml except the expired one.
var testNow = time.Date(2026, 6, 3, 14, 0, 0, 0, time.UTC) // 10:00 in New York

// envConfig varies the gateway of a test env.
type envConfig struct {
	mode         string // "enforce" when empty
	logNotSocial bool
	maxConns     int
	dialTimeout  string
	resolver     Resolver  // nil = the env's DNS server through resolver.upstreams
	sink         logs.Sink // nil = the env's memSink
	self         []string  // extra Self addresses; "0.0.0.0:PROXY" is expanded
	mutate       func(*Options)
}

// env is a proxy under test with its origins, its DNS server and its sink.
type env struct {
	t         *testing.T
	dir       string
	engine    *allowlist.Engine
	sink      *memSink
	srv       *Server
	proxy     string // 127.0.0.1:port
	origin    *origin
	tlsOrigin *origin
	denied    *origin // on 127.0.0.2, inside deny_destinations
	dns       *dnsServer
	reg       *prometheus.Registry
	oplog     *lockedBuffer
	roots     *x509.CertPool
	serveErr  chan error
}

func newEnv(t *testing.T, c envConfig) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), sink: newMemSink(), reg: prometheus.NewRegistry(), oplog: &lockedBuffer{}}
	e.origin = newOrigin(t, "127.0.0.1", false)
	e.tlsOrigin = newOrigin(t, "127.0.0.1", true)
	e.denied = newOrigin(t, "127.0.0.2", false)
	e.roots = x509.NewCertPool()
	e.roots.AddCert(e.tlsOrigin.srv.Certificate())
	e.dns = newDNSServer(t, map[string]string{
		"facebook.com": "127.0.0.1", "instagram.com": "127.0.0.1", "x.com": "127.0.0.1",
		"youtube.com": "127.0.0.1", "tiktok.com": "127.0.0.1", "xn--bcher-kva.example": "127.0.0.1",
		"example.test": "127.0.0.1", "example.com": "127.0.0.1", "selfname.test": "127.0.0.1",
		"denied.test": "127.0.0.2", "dns.google": "127.0.0.1", "m.facebook.com": "127.0.0.2",
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.proxy = ln.Addr().String()
	e.writeConfig(c)
	e.engine, err = allowlist.NewEngine(filepath.Join(e.dir, "smgate.toml"), allowlist.EngineOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Engine: e.engine, Sink: e.sink, Logger: zerolog.New(e.oplog), Registerer: e.reg,
		Now: func() time.Time { return testNow }, Resolver: c.resolver, UpstreamTLS: &tls.Config{RootCAs: e.roots}}
	if c.sink != nil {
		o.Sink = c.sink
	}
	for _, s := range c.self {
		o.Self = append(o.Self, mustAddrPort(t, strings.ReplaceAll(s, "PROXY", portOf(e.proxy))))
	}
	if c.mutate != nil {
		c.mutate(&o)
	}
	e.srv, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.serveErr = make(chan error, 1)
	go func() { e.serveErr <- e.srv.Serve(ln) }()
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
	if err := <-e.serveErr; err != nil {
		e.t.Errorf("serve: %v", err)
	}
}

var configTemplate = template.Must(template.New("").Parse(`
[gateway]
name = "gw-test"
timezone = "America/New_York"
data_dir = "var"
mode = "{{.Mode}}"

[proxy]
listen = "{{.Listen}}"
auth = ["basic", "ip"]
allowed_ports = [80, 443, {{.Ports}}]
deny_destinations = ["127.0.0.2/32", "::1/128", "169.254.0.0/16"]
max_conns = {{.MaxConns}}
dial_timeout = "{{.DialTimeout}}"
log_not_social = {{.LogNotSocial}}

[resolver]
upstreams = ["{{.DNS}}"]
timeout = "2s"

[policy]
platforms = "platforms.toml"
registry = "registry.toml"
directory = "directory.toml"
`))

func (e *env) writeConfig(c envConfig) {
	e.t.Helper()
	for _, f := range []string{"platforms.toml", "registry.toml", "directory.toml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.dir, f), b, 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	v := map[string]any{
		"Mode": cmp(c.mode, "enforce"), "Listen": e.proxy, "MaxConns": cmpInt(c.maxConns, 1000),
		"Ports":        portOf(e.origin.addr) + ", " + portOf(e.tlsOrigin.addr) + ", " + portOf(e.denied.addr) + ", " + portOf(e.proxy),
		"DialTimeout":  cmp(c.dialTimeout, "2s"),
		"LogNotSocial": c.logNotSocial, "DNS": e.dns.addr,
	}
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, v); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "smgate.toml"), b.Bytes(), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cmpInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// client returns an http.Client that goes through the proxy, signed in as
// user (none when ""), dialling from the loopback address from (any when
// "").
func (e *env) client(user, pass, from string) *http.Client {
	pu := &url.URL{Scheme: "http", Host: e.proxy}
	if user != "" {
		pu.User = url.UserPassword(user, pass)
	}
	tr := &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: e.roots, ServerName: "example.com"},
	}
	if from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		tr.DialContext = d.DialContext
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get sends method to rawURL through c and returns the response with its
// body read.
func (e *env) do(c *http.Client, method, rawURL string, hdr http.Header) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return resp, string(b)
}

// raw writes a request to the proxy as it is, from the loopback address
// from, and reads one response. For a CONNECT answered 200 the connection
// is returned open; otherwise it is closed.
func (e *env) raw(from, request string) (*http.Response, string, net.Conn, *bufio.Reader) {
	e.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", e.proxy)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	method := strings.SplitN(request, " ", 2)[0]
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		c.Close()
		e.t.Fatalf("read response to %q: %v", firstLine(request), err)
	}
	if method == http.MethodConnect && resp.StatusCode == http.StatusOK {
		_ = c.SetDeadline(time.Time{})
		return resp, "", c, br
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.Close()
	return resp, string(b), nil, nil
}

func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// origin is an HTTP(S) server that records what reaches it.
type origin struct {
	srv  *httptest.Server
	addr string
	mu   sync.Mutex
	reqs []*http.Request
}

func newOrigin(t *testing.T, ip string, tlsOn bool) *origin {
	t.Helper()
	o := &origin{}
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, r.Clone(context.Background()))
		o.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from origin %s", r.URL.Path)
	}))
	o.srv.Listener.Close()
	o.srv.Listener = ln
	if tlsOn {
		o.srv.StartTLS()
	} else {
		o.srv.Start()
	}
	o.addr = ln.Addr().String()
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.reqs...)
}

// dnsServer answers A queries for a fixed map (and the names under each
// key) and nothing else.
type dnsServer struct {
	srv  *dns.Server
	addr string
}

func newDNSServer(t *testing.T, names map[string]string) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := strings.TrimSuffix(strings.ToLower(q.Question[0].Name), ".")
		ip, ok := lookupSuffix(names, name)
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name,
				Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip).To4()})
		}
		_ = w.WriteMsg(m)
	})
	d := &dnsServer{srv: &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }},
		addr: pc.LocalAddr().String()}
	go func() { _ = d.srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = d.srv.Shutdown() })
	return d
}

func lookupSuffix(names map[string]string, name string) (string, bool) {
	for h := name; ; {
		if ip, ok := names[h]; ok {
			return ip, true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return "", false
		}
		h = h[i+1:]
	}
}

// memSink collects records and can be made unhealthy or failing.
type memSink struct {
	mu      sync.Mutex
	recs    []*logs.Record
	changed chan struct{}
	health  error
	logErr  error
}

func newMemSink() *memSink { return &memSink{changed: make(chan struct{})} }

func (s *memSink) Log(r *logs.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logErr != nil {
		return s.logErr
	}
	c := *r // a sink copies what it keeps (logs.Sink)
	s.recs = append(s.recs, &c)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (s *memSink) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

func (s *memSink) set(health, logErr error) {
	s.mu.Lock()
	s.health, s.logErr = health, logErr
	s.mu.Unlock()
}

func (s *memSink) records() []*logs.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*logs.Record(nil), s.recs...)
}

// wait returns the first record that match accepts, waiting for it up to
// a few seconds.
func (s *memSink) wait(t *testing.T, match func(*logs.Record) bool) *logs.Record {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		ch := s.changed
		for _, r := range s.recs {
			if match(r) {
				s.mu.Unlock()
				return r
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no matching usage record among %d", len(s.records()))
			return nil
		}
	}
}

func byID(id string) func(*logs.Record) bool {
	return func(r *logs.Record) bool { return r.ID == id }
}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// rewritePolicy replaces old by new in a policy file of the env and
// reloads.
func (e *env) rewritePolicy(t *testing.T, file, old, new string) {
	t.Helper()
	p := filepath.Join(e.dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.engine.Reload(); err != nil {
		t.Fatal(err)
	}
}

// pipeline writes requests on one connection and reads every response.
func (e *env) pipeline(requests string) []*http.Response {
	e.t.Helper()
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, requests); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for range strings.Count(requests, " HTTP/1.1\r\n") {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			e.t.Fatalf("response %d: %v", len(out), err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, resp)
	}
	return out
}

// closedPort returns a loopback port nothing listens on: a destination
// that cannot be reached.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return portOf(ln.Addr().String())
}
