package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/smgate/smgate/logs"
)

// startServe runs serve on a copy of configs/ with every listener on a
// free loopback port and returns the gateway once it serves.
func startServe(t *testing.T) (*gateway, string) {
	t.Helper()
	path := copyConfigs(t, "smgate.toml", `listen = "127.0.0.1:3128"`, `listen = "127.0.0.1:0"`)
	b, _ := os.ReadFile(path)
	s := strings.NewReplacer(`listen = "127.0.0.1:5353"`, `listen = "127.0.0.1:0"`, `listen = "127.0.0.1:8088"`, `listen = "127.0.0.1:0"`,
		`data_dir = "../var"`, `data_dir = "./var"`).Replace(string(b))
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *gateway, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, path, zerolog.Nop(), ready) }()
	t.Cleanup(func() {
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
	select {
	case g := <-ready:
		return g, path
	case err := <-done:
		t.Fatalf("serve stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve was not ready within 30s")
	}
	return nil, ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeAdminEndpoints(t *testing.T) {
	g, _ := startServe(t)
	admin := "http://" + g.ls.admin.Addr().String()
	if code, body := get(t, admin+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, admin+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := get(t, admin+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, %d bytes", code, len(body))
	}
}

func TestServeReloadIsRecorded(t *testing.T) {
	g, path := startServe(t)
	gen := g.engine.Snapshot().Gen()
	if _, err := reload(g, "test"); err != nil {
		t.Fatalf("reload of unchanged files: %v", err)
	}
	if g.engine.Snapshot().Gen() == gen {
		t.Error("reload did not swap the snapshot")
	}
	// A broken registry keeps the last good policy.
	reg := filepath.Join(filepath.Dir(path), "registry.toml")
	if err := os.WriteFile(reg, []byte("[[account]]\nid = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := g.engine.Snapshot()
	if _, err := reload(g, "test"); err == nil {
		t.Fatal("reload of a broken registry succeeded")
	}
	if g.engine.Snapshot() != good {
		t.Error("a failed reload replaced the policy")
	}
	if st := g.engine.Status(); st.LastError == "" || st.Failures < 1 { // the file watcher may fail on it too
		t.Errorf("status after a failed reload: %+v", st)
	}
	var outcomes []string
	for _, r := range usageRecords(t, g) {
		if r.Action == logs.ActionReload && r.By == "test" { // not the file watcher's
			outcomes = append(outcomes, r.Outcome)
		}
	}
	if strings.Join(outcomes, ",") != "success,failure" {
		t.Errorf("reload records: %v, want success then failure", outcomes)
	}
}

// TestBindDNS: UDP and TCP share one port, for ":0" too; a fixed port
// that TCP cannot have is an error naming dns.listen, with nothing left
// bound.
func TestBindDNS(t *testing.T) {
	for range 50 {
		pc, l, err := bindDNS("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, tc := addrPortOf(pc.LocalAddr()), addrPortOf(l.Addr())
		pc.Close()
		l.Close()
		if u != tc || u.Port() == 0 {
			t.Fatalf("udp %v, tcp %v: want one port", u, tc)
		}
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	if _, _, err := bindDNS(addr); err == nil || !strings.Contains(err.Error(), "dns.listen") {
		t.Fatalf("bindDNS(%s) with the TCP port taken = %v, want a dns.listen error", addr, err)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the failed bindDNS left UDP %s bound: %v", addr, err)
	}
	pc.Close()
}
