package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

const testToken = "test-token-0123456789abcdef0123456789abcdef"

// adminConfig copies configs/ into a temporary directory with every
// listener on a free loopback port, the state in the copy and, when
// withToken, a private admin token file. It returns the gateway file.
func adminConfig(t *testing.T, withToken bool) string {
	t.Helper()
	path := copyConfigs(t, "smgate.toml", `listen = "127.0.0.1:3128"`, `listen = "127.0.0.1:0"`)
	pairs := []string{`listen = "127.0.0.1:5353"`, `listen = "127.0.0.1:0"`, `listen = "127.0.0.1:8088"`, `listen = "127.0.0.1:0"`,
		`data_dir = "../var"`, `data_dir = "./var"`}
	if withToken {
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "admin.token"), []byte(testToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, `token_file = ""`, `token_file = "admin.token"`)
	}
	editFile(t, path, pairs...)
	return path
}

// editFile replaces each old by its new (pairs) in the file at path,
// failing when an old is not there.
func editFile(t *testing.T, path string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s does not contain %q", path, pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runGateway runs serve on the gateway file at path until stop, which the
// test's cleanup also calls, and returns the gateway once it serves.
func runGateway(t *testing.T, path string) (g *gateway, stop func()) {
	t.Helper()
	return runGatewayLog(t, path, zerolog.Nop())
}

// runGatewayLog is runGateway with the operational log going to log.
func runGatewayLog(t *testing.T, path string, log zerolog.Logger) (g *gateway, stop func()) {
	t.Helper()
	checkGoroutines(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *gateway, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, path, log, ready) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop within 30s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case g = <-ready:
		return g, stop
	case err := <-done:
		once.Do(cancel)
		t.Fatalf("serve stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve was not ready within 30s")
	}
	return nil, nil
}

// apiCall sends a request to the admin listener of g with token ("" for
// none) and returns the status and the body.
func apiCall(t *testing.T, g *gateway, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+g.ls.admin.Addr().String()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// decodeJSON decodes body into a value of type T.
func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

// usageRecords flushes the usage log of g and returns its admin records
// (suspend, reinstate, reload).
func usageRecords(t *testing.T, g *gateway) []logs.Record {
	t.Helper()
	if err := g.writer.Flush(); err != nil {
		t.Fatal(err)
	}
	return readAdminRecords(t, g.cfg.Logs.Dir)
}

func readAdminRecords(t *testing.T, dir string) []logs.Record {
	t.Helper()
	return dayRecords(t, dir, func(r *logs.Record) bool {
		switch r.Action {
		case logs.ActionSuspend, logs.ActionReinstate, logs.ActionReload:
			return true
		}
		return false
	})
}

// dayRecords decodes the records of the day files in dir and returns
// those keep takes.
func dayRecords(t *testing.T, dir string, keep func(*logs.Record) bool) []logs.Record {
	t.Helper()
	files, err := logs.DayFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []logs.Record
	for _, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			r, err := logs.DecodeRecord(sc.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if keep(&r) {
				out = append(out, r)
			}
		}
		fh.Close()
	}
	return out
}

// decideTLee decides a request of tlee (DOT, bound to 10.30.0.5) to host.
func decideTLee(g *gateway, host string) allowlist.Decision {
	return g.engine.Snapshot().Decide(&allowlist.Request{
		ClientIP: netip.MustParseAddr("10.30.0.5"), Host: host, Port: 443, Source: allowlist.SourceExplicit,
	})
}

// metricValue returns the value of the series name{labels} in g's
// registry, and whether it exists.
func metricValue(t *testing.T, g *gateway, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.reg.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue(), true
				case m.Gauge != nil:
					return m.Gauge.GetValue(), true
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount()), true
				}
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded poll, not a synchronisation
	}
}
