package proxy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/logs"
)

// TestRequestIDIsEventIDInLogFile runs the proxy on the real usage-log
// writer: the request id of a block page and of a tunnel is the event.id
// of the JSON line written for it, with the decision and the bytes; no
// line holds the query string or a password.
func TestRequestIDIsEventIDInLogFile(t *testing.T) {
	dir := t.TempDir()
	w, err := logs.Open(logs.Options{Dir: filepath.Join(dir, "logs"), StateDir: dir, Observer: "gw-test",
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	e := newEnv(t, envConfig{sink: w})

	resp, body := e.do(e.client("tlee", "roads", ""), "GET", "http://www.facebook.com:"+portOf(e.origin.addr)+"/page?q=secret",
		http.Header{"Accept": {"text/html"}})
	blockedID := resp.Header.Get(headerRequestID)
	if resp.StatusCode != http.StatusForbidden || blockedID == "" || !strings.Contains(body, blockedID) {
		t.Fatalf("got %d, id %q", resp.StatusCode, blockedID)
	}
	resp, _, conn, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{T}"}))
	tunnelID := resp.Header.Get(headerRequestID)
	if got := getOverTunnel(t, e, conn); got != "hello from origin /tunnelled" {
		t.Fatalf("tunnel: %q", got)
	}

	lines := map[string]map[string]any{}
	deadline := time.Now().Add(5 * time.Second) // the tunnel's record is handed over when its copy ends
	for lines[tunnelID] == nil || lines[blockedID] == nil {
		if time.Now().After(deadline) {
			t.Fatalf("lines for %s and %s not in the usage log: %v", blockedID, tunnelID, lines)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		lines = readLogLines(t, filepath.Join(dir, "logs", "usage-2026-06-03.jsonl"))
	}
	b := lines[blockedID]
	for k, want := range map[string]any{"event.action": "http_request", "event.outcome": "blocked", "event.reason": "blocked-no-grant",
		"url.domain": "www.facebook.com", "url.path": "/page", "user.name": "tlee", "smgate.platform": "facebook",
		"http.response.status_code": float64(403), "observer.name": "gw-test"} {
		if b[k] != want {
			t.Errorf("blocked line %s = %v, want %v", k, b[k], want)
		}
	}
	for _, l := range lines {
		if raw, _ := json.Marshal(l); strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "roads") {
			t.Errorf("usage line holds the query or a password: %s", raw)
		}
	}
	tl := lines[tunnelID]
	if tl["event.action"] != "connect" || tl["event.reason"] != "allowed-grant" || tl["destination.ip"] != "127.0.0.1" {
		t.Errorf("tunnel line %v", tl)
	}
	if n, _ := tl["source.bytes"].(float64); n <= 0 {
		t.Errorf("tunnel line source.bytes %v", tl["source.bytes"])
	}
	if n, _ := tl["destination.bytes"].(float64); n <= 0 {
		t.Errorf("tunnel line destination.bytes %v", tl["destination.bytes"])
	}
}

// readLogLines returns the JSON lines of a usage-log file by event.id.
func readLogLines(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[string]map[string]any{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		if id, ok := m["event.id"].(string); ok {
			out[id] = m
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
