package dnsfilter

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/logs"
)

// Clients of the test directory, by source address.
const (
	bjones  = "127.0.0.2" // DCF, facebook + instagram on a schedule
	tlee    = "127.0.0.3" // DOT, a youtube account only
	nobody  = "127.0.0.1" // bound to no user
	gwName  = "gw-dns-test"
	nyZone  = "America/New_York"
	testTTL = 300
)

// wednesday10 is inside bjones's schedule (Mon-Fri 07:00-19:00 New York).
var wednesday10 = mustTime("2026-06-10T10:00:00")

func mustTime(s string) time.Time {
	loc, err := time.LoadLocation(nyZone)
	if err != nil {
		panic(err)
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

// clock is the injected clock of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// policyDir copies testdata to a temporary directory, applying edits
// (old → new text) to smgate.toml, and returns the config path.
func policyDir(t testing.TB, edits ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"smgate.toml", "platforms.toml", "registry.toml", "directory.toml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "smgate.toml" {
			s := string(b)
			for i := 0; i+1 < len(edits); i += 2 {
				if !strings.Contains(s, edits[i]) {
					t.Fatalf("policyDir: %q not in smgate.toml", edits[i])
				}
				s = strings.Replace(s, edits[i], edits[i+1], 1)
			}
			b = []byte(s)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "smgate.toml")
}

// fixture is a filter serving on loopback with its policy, usage log and
// upstream.
type fixture struct {
	s      *Server
	addr   string // host:port, UDP and TCP
	engine *allowlist.Engine
	log    *logs.Writer
	logDir string
	clock  *clock
	addrs  *addrmem.Memory
	up     *upstream
	reg    *prometheus.Registry
}

type fixtureOpts struct {
	edits     []string      // smgate.toml edits
	upstreams []string      // nil: the fixture's upstream
	timeout   time.Duration // zero: 1s
	cacheSize int
	// now replaces the fixture's clock for the filter, the policy and the
	// usage log (benchmarks: a lock-free clock that moves); f.clock then
	// does not apply.
	now func() time.Time
	// listen replaces listenPair: the sockets the filter serves.
	listen func(testing.TB) (net.PacketConn, net.Listener)
}

// startFilter starts a filter forwarding to up (which may be nil when
// o.upstreams is set), at wednesday10.
func startFilter(t testing.TB, up *upstream, o fixtureOpts) *fixture {
	t.Helper()
	checkLeaks(t)
	f := &fixture{clock: &clock{t: wednesday10}, up: up, addrs: addrmem.New(0), reg: prometheus.NewRegistry()}
	now := f.clock.Now
	if o.now != nil {
		now = o.now
	}
	cfg := policyDir(t, o.edits...)
	var err error
	f.engine, err = allowlist.NewEngine(cfg, allowlist.EngineOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(cfg)
	f.logDir = filepath.Join(dir, "logs")
	f.log, err = logs.Open(logs.Options{Dir: f.logDir, StateDir: filepath.Join(dir, "var"), Observer: gwName, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.log.Close() })
	ups := o.upstreams
	if ups == nil {
		ups = []string{up.addr}
	}
	f.s, err = New(Options{Engine: f.engine, Sink: f.log, Now: now, Addrs: f.addrs,
		Registerer: f.reg, Upstreams: ups, Timeout: o.timeout, CacheSize: o.cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	listen := listenPair
	if o.listen != nil {
		listen = o.listen
	}
	pc, l := listen(t)
	f.addr = pc.LocalAddr().String()
	if err := f.s.Start(pc, l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return f
}

// listenPair binds UDP and TCP on one loopback port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		_ = pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// ask sends one question from src over nw ("udp" or "tcp") and returns
// the answer.
func (f *fixture) ask(t testing.TB, src, nw, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(EDNSBufferSize, false)
	}
	r, err := f.exchange(src, nw, m)
	if err != nil {
		t.Fatalf("%s %s %s from %s: %v", nw, name, dns.TypeToString[qtype], src, err)
	}
	return r
}

func (f *fixture) exchange(src, nw string, m *dns.Msg) (*dns.Msg, error) {
	var local net.Addr = &net.UDPAddr{IP: net.ParseIP(src)}
	if nw == "tcp" {
		local = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c := dns.Client{Net: nw, Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}}
	r, _, err := c.Exchange(m, f.addr)
	return r, err
}

// records flushes the usage log and returns its dns_query records.
func (f *fixture) records(t *testing.T) []logs.Record {
	t.Helper()
	if err := f.log.Flush(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(f.logDir, "usage-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []logs.Record
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			r, err := logs.DecodeRecord([]byte(line))
			if err != nil {
				t.Fatalf("decode %q: %v", line, err)
			}
			if r.Action == logs.ActionDNSQuery {
				out = append(out, r)
			}
		}
	}
	return out
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// checkLeaks fails the test when, after its cleanups, more goroutines run
// than before it. The os/signal loop is not counted: the fuzzing engine
// starts it (signal.Notify for its interrupt) during the fuzz target, and
// it lives as long as the process.
func checkLeaks(t testing.TB) {
	t.Helper()
	before := countGoroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for countGoroutines() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("leaked goroutines: %d before, %d after\n%s", before, countGoroutines(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// countGoroutines returns how many goroutines run, the os/signal loop
// excepted.
func countGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && !strings.Contains(g, "os/signal.loop") {
			n++
		}
	}
	return n
}
