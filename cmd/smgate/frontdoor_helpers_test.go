package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/logs"
)

// opsEnv is a whole gateway (proxy, DNS filter, admin API with a token)
// serving the shipped policy, with a loopback origin and a loopback
// upstream resolver that maps the platforms' names to the origin.
type opsEnv struct {
	g      *gateway
	stop   func()
	oplog  *syncBuffer                         // the operational log, JSON lines
	path   string                              // the gateway file
	origin string                              // host:port of the origin
	port   string                              // the origin's port
	asked  func(name string, qtype uint16) int // questions the upstream resolver got
}

// startOpsGateway starts the origin, the upstream resolver and the
// gateway. The proxy may reach the origin: deny_destinations keeps only
// 127.0.0.2, and the origin's port is allowed.
func startOpsGateway(t *testing.T) *opsEnv {
	t.Helper()
	checkGoroutines(t, true) // after the origin and the resolver are closed too
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin %s%s", r.Host, r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	up, asked := startCountingResolver(t, "facebook.com", "instagram.com", "youtube.com")
	e := &opsEnv{origin: origin.Listener.Addr().String(), asked: asked}
	_, e.port, _ = net.SplitHostPort(e.origin)
	e.path = adminConfig(t, true)
	editFile(t, e.path,
		`allowed_ports = [80, 443]`, `allowed_ports = [80, 443, `+e.port+`]`,
		`deny_destinations = ["127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", "0.0.0.0/8"]`, `deny_destinations = ["127.0.0.2/32"]`,
		`upstreams = []`, `upstreams = ["`+up+`"]`)
	e.oplog = &syncBuffer{}
	e.g, e.stop = runGatewayLog(t, e.path, zerolog.New(e.oplog).Level(zerolog.InfoLevel))
	return e
}

// syncBuffer is a bytes.Buffer that the gateway's goroutines may write
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(s.b.Bytes(), []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("operational log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// checkGoroutines fails the test when, once the cleanups registered after
// it have run, goroutines of smgate's packages are still running: a
// gateway that does not stop everything it started. With ofTests, also
// those the test code started.
func checkGoroutines(t *testing.T, ofTests bool) {
	t.Helper()
	t.Cleanup(func() {
		var left []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			left = smgateGoroutines(ofTests)
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond) // poll interval of a bounded poll
		}
		for _, g := range left {
			t.Errorf("goroutine left running after the gateway stopped:\n%s", g)
		}
	})
}

// smgateGoroutines returns the stacks of the other goroutines that run
// code of this module's packages; with ofTests false, not those that test
// code started.
func smgateGoroutines(ofTests bool) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := strings.Split(string(buf), "\n\n")
	var out []string
	for _, st := range stacks[1:] { // the first is this goroutine
		if !strings.Contains(st, "github.com/smgate/smgate/") || strings.Contains(st, "testing.tRunner") {
			continue
		}
		if _, creator, _ := strings.Cut(st, "\ncreated by "); !ofTests && strings.Contains(creator, "_test.go:") {
			continue
		}
		out = append(out, st)
	}
	return out
}

// startUpstreamResolver serves A records pointing at 127.0.0.1 for each
// zone and every name under it, an empty answer for other types there,
// and NXDOMAIN elsewhere, over UDP on loopback. It returns its address
// once it serves.
func startUpstreamResolver(t *testing.T, zones ...string) string {
	t.Helper()
	addr, _ := startCountingResolver(t, zones...)
	return addr
}

// startCountingResolver is startUpstreamResolver that also returns how
// often it was asked a name (FQDN, any case) and type.
func startCountingResolver(t *testing.T, zones ...string) (string, func(name string, qtype uint16) int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	key := func(name string, qtype uint16) string { return strings.ToLower(name) + " " + dns.TypeToString[qtype] }
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Rcode = dns.RcodeNameError
		qq := q.Question[0]
		mu.Lock()
		counts[key(qq.Name, qq.Qtype)]++
		mu.Unlock()
		name := strings.TrimSuffix(strings.ToLower(qq.Name), ".")
		for _, z := range zones {
			if name != z && !strings.HasSuffix(name, "."+z) {
				continue
			}
			m.Rcode = dns.RcodeSuccess
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(127, 0, 0, 1).To4()})
			}
		}
		if len(m.Answer) == 0 { // negative answers carry their SOA, so that they are cached
			m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "ns.test.", Mbox: "hostmaster.test.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60})
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return pc.LocalAddr().String(), func(name string, qtype uint16) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[key(name, qtype)]
	}
}

// client returns an HTTP client that goes through the gateway's proxy as
// tlee (the shipped directory binds 127.0.0.1 to him). Its connections
// are kept alive; the test's cleanup closes them.
func (e *opsEnv) client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: e.g.ls.proxy.Addr().String()})}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get fetches http://host:<origin port>/path through c and returns the
// status, the reason header and the body.
func (e *opsEnv) get(t *testing.T, c *http.Client, host, path string) (int, string, string) {
	t.Helper()
	resp, err := c.Get("http://" + net.JoinHostPort(host, e.port) + path)
	if err != nil {
		t.Fatalf("GET %s%s through the proxy: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s%s: read body: %v", host, path, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Smgate-Reason"), string(b)
}

// tunnel is a CONNECT tunnel through the gateway's proxy.
type tunnel struct {
	conn net.Conn
	br   *bufio.Reader
}

// connect opens a CONNECT tunnel to host:<origin port>; it returns the
// status of the answer and, for 200, the open tunnel.
func (e *opsEnv) connect(t *testing.T, host string) (int, *tunnel) {
	t.Helper()
	c, err := net.Dial("tcp", e.g.ls.proxy.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(host, e.port)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		c.Close()
		return resp.StatusCode, nil
	}
	t.Cleanup(func() { c.Close() })
	return resp.StatusCode, &tunnel{conn: c, br: br}
}

// roundTrip sends one HTTP request for path through the tunnel and
// returns the origin's answer.
func (tn *tunnel) roundTrip(t *testing.T, host, path string) (int, string) {
	t.Helper()
	fmt.Fprintf(tn.conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	resp, err := http.ReadResponse(tn.br, nil)
	if err != nil {
		t.Fatalf("GET %s through the tunnel: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s through the tunnel: read body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// keepAlive opens a plain connection to the proxy, for requests in
// absolute form one after the other.
func (e *opsEnv) keepAlive(t *testing.T) *tunnel {
	t.Helper()
	c, err := net.Dial("tcp", e.g.ls.proxy.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tunnel{conn: c, br: bufio.NewReader(c)}
}

// closed starts a read that blocks until the connection is closed, and
// returns the channel that gets its error. A test that hangs fails after
// 30 s rather than waiting forever.
func (tn *tunnel) closed() <-chan error {
	ch := make(chan error, 1)
	go func() {
		_ = tn.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := tn.br.ReadByte()
		ch <- err
	}()
	return ch
}

// checkCut fails unless err is the end of a connection the gateway closed.
func checkCut(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("the suspension did not close %s", what)
	case !errors.Is(err, io.EOF):
		t.Errorf("read on %s after the suspension: %v, want EOF", what, err)
	}
}

// dnsQuery asks the gateway's DNS filter for the A record of name over
// nw ("udp" or "tcp"), from 127.0.0.1 (tlee).
func (e *opsEnv) dnsQuery(t *testing.T, nw, name string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	addr := e.g.ls.dnsUDP.LocalAddr().String()
	if nw == "tcp" {
		addr = e.g.ls.dnsTCP.Addr().String()
	}
	c := &dns.Client{Net: nw, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("DNS %s %s: %v", nw, name, err)
	}
	return r
}

// answered reports whether r answers with 127.0.0.1.
func answered(r *dns.Msg) bool {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.Equal(net.IPv4(127, 0, 0, 1)) {
			return r.Rcode == dns.RcodeSuccess
		}
	}
	return false
}

// usageLog flushes the usage log and returns every record in it.
func usageLog(t *testing.T, g *gateway) []logs.Record {
	t.Helper()
	if err := g.writer.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []logs.Record
	_, err := logs.Search(g.cfg.Logs.Dir, logs.Query{}, func(_ []byte, r *logs.Record) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
