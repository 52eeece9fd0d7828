package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/geoip"
	"github.com/smgate/smgate/internal/geoip/geoiptest"
	"github.com/smgate/smgate/logs"
)

// The benchmarks run the proxy as `smgate serve` does and as the
// side-by-side lab (/work/shared/bench) measures it: a real Server on
// 127.0.0.1:0 with its metrics registered, Basic authentication, the
// policy deciding every request, and a real usage-log Writer (group
// commit, fsync) in a temporary directory as the sink. Like the lab, the
// client names the origin by its address, 127.0.0.1, which the ASN
// database (a real MaxMind file) maps to Facebook's AS, so every request
// is a social-media request of user bjones, granted Facebook, and is
// logged.

const benchBody = 200 // bytes of the origin's small answer, as the lab's /small

// benchEnv is a proxy under benchmark with its origins.
type benchEnv struct {
	proxy  string // 127.0.0.1:port
	origin string // HTTP origin, 127.0.0.1:port
	bulk   string // raw TCP origin: sends the number of bytes asked for
	auth   string // Proxy-Authorization value
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	dir := b.TempDir()
	small := strings.Repeat("x", benchBody)
	origin := newBenchOrigin(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, small) //nolint:errcheck // the client sees a short body
	}))
	bulk := newBulkOrigin(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{"platforms.toml", "registry.toml", "directory.toml"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(benchConfig, ln.Addr(), portOf(origin), portOf(bulk))
	if err := os.WriteFile(filepath.Join(dir, "smgate.toml"), []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	engine, err := allowlist.NewEngine(filepath.Join(dir, "smgate.toml"), allowlist.EngineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := logs.Open(logs.Options{Dir: filepath.Join(dir, "logs"), StateDir: filepath.Join(dir, "var"), Observer: "gw-bench"})
	if err != nil {
		b.Fatal(err)
	}
	geo, err := geoip.Open("", geoiptest.WriteASN(b, map[string]uint32{"127.0.0.0/8": 32934}))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Engine: engine, Sink: w, Registerer: prometheus.NewRegistry(), ASN: geo.ASN, Country: geo.Country})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			b.Errorf("serve: %v", err)
		}
		if err := w.Close(); err != nil {
			b.Errorf("close usage log: %v", err)
		}
		if benchRecords(b, filepath.Join(dir, "logs")) == 0 {
			b.Error("no usage record: the requests did not go through the policy as social-media requests")
		}
	})
	return &benchEnv{proxy: ln.Addr().String(), origin: origin, bulk: bulk, auth: basic("bjones", "hunter2")}
}

// benchRecords counts the lines of the usage log in dir.
func benchRecords(b *testing.B, dir string) int {
	files, err := logs.DayFiles(dir)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if err != nil {
			b.Fatal(err)
		}
		n += strings.Count(string(data), `"event.reason":"allowed-grant"`)
	}
	return n
}

const benchConfig = `
[gateway]
name = "gw-bench"
timezone = "America/New_York"
data_dir = "var"

[proxy]
listen = "%[1]s"
auth = ["basic", "ip"]
allowed_ports = [80, 443, %[2]s, %[3]s]
deny_destinations = ["169.254.0.0/16"]

[policy]
platforms = "platforms.toml"
registry = "registry.toml"
directory = "directory.toml"
`

func newBenchOrigin(b *testing.B, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// newBulkOrigin serves raw TCP: it reads a big-endian uint64 n and sends
// n bytes, again and again until the client closes.
func newBulkOrigin(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	chunk := make([]byte, 64<<10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [8]byte
				for {
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					for n := binary.BigEndian.Uint64(hdr[:]); n > 0; {
						m := min(n, uint64(len(chunk)))
						if _, err := c.Write(chunk[:m]); err != nil {
							return
						}
						n -= m
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// cpuMeter reports the CPU time (user and system) of the whole process per
// op, as cpu-ns/op: on a shared machine it moves much less with other
// load than ns/op, which is wall time. Client, proxy and origin share
// the process, so it is the cost of the op end to end.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{start: processCPU(b)}
}

func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(processCPU(b)-m.start)/float64(b.N), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// connect opens a tunnel to target through the proxy.
func (be *benchEnv) connect(b *testing.B, target string) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", be.proxy)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\nProxy-Authorization: "+be.auth+"\r\n\r\n"); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	return c, br
}

// BenchmarkPlainHTTP: allowed social-media plain-HTTP requests on
// keep-alive connections, in parallel; each is authenticated, decided and
// logged.
func BenchmarkPlainHTTP(b *testing.B) {
	be := newBenchEnv(b)
	tr := &http.Transport{
		Proxy:               http.ProxyURL(&url.URL{Scheme: "http", Host: be.proxy, User: url.UserPassword("bjones", "hunter2")}),
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
	}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	target := "http://" + be.origin + "/small"
	b.ReportAllocs()
	cpu := startCPU(b)
	defer cpu.report(b)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 512)
		for pb.Next() {
			resp, err := c.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.ReadFull(resp.Body, buf[:benchBody])
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n != benchBody {
				b.Errorf("got %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

// BenchmarkConnectNewTunnel: per op, a new client connection, an
// authenticated CONNECT, one plain request inside the tunnel and its
// answer, then close: the proxy's tunnel set-up cost (the lab's
// tun_new_tcp figure).
func BenchmarkConnectNewTunnel(b *testing.B) {
	be := newBenchEnv(b)
	get := "GET /small HTTP/1.1\r\nHost: " + be.origin + "\r\nConnection: close\r\n\r\n"
	b.ReportAllocs()
	cpu := startCPU(b)
	defer cpu.report(b)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 512)
		for pb.Next() {
			c, br := be.connect(b, be.origin)
			if _, err := io.WriteString(c, get); err != nil {
				b.Error(err)
				c.Close()
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				c.Close()
				return
			}
			n, _ := io.ReadFull(resp.Body, buf[:benchBody])
			resp.Body.Close()
			c.Close()
			if resp.StatusCode != http.StatusOK || n != benchBody {
				b.Errorf("got %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

// BenchmarkConnectBulk: bytes from the origin through one tunnel, 64 KiB
// per op.
func BenchmarkConnectBulk(b *testing.B) {
	be := newBenchEnv(b)
	c, br := be.connect(b, be.bulk)
	defer c.Close()
	const chunk = 64 << 10
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(b.N)*chunk)
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ReportAllocs()
	cpu := startCPU(b)
	defer cpu.report(b)
	if _, err := c.Write(hdr[:]); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := io.ReadFull(br, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerName measures reading the server name of a tunnel's
// ClientHello (what each TLS tunnel pays when its first bytes come in one
// read, as they do from browsers).
func BenchmarkServerName(b *testing.B) {
	hello := clientHello(b, "www.instagram.com")
	a, c := net.Pipe()
	defer a.Close()
	defer c.Close()
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.SetBytes(int64(len(hello)))
	for b.Loop() {
		name, _, err := readServerName(a, hello, deadline)
		if err != nil || name != "www.instagram.com" {
			b.Fatal(name, err)
		}
	}
}
