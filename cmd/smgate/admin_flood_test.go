package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestAdminUnauthorizedLogsShortPath: a request without the token is
// logged with its path cut short, so that whoever reaches the admin
// listener cannot write tens of kilobytes of operational log per request.
func TestAdminUnauthorizedLogsShortPath(t *testing.T) {
	oplog := &syncBuffer{}
	g, _ := runGatewayLog(t, adminConfig(t, true), zerolog.New(oplog))
	const n = 20
	for range n {
		path := "/api/v1/agencies/" + strings.Repeat("D", 40<<10) + "/suspend"
		if code, _ := apiCall(t, g, http.MethodPost, path, "", `{"reason":"x"}`); code != http.StatusUnauthorized {
			t.Fatalf("got %d", code)
		}
	}
	oplog.mu.Lock()
	log := oplog.b.String()
	oplog.mu.Unlock()
	if got := strings.Count(log, "request without a valid token"); got != n {
		t.Fatalf("%d refusals logged, want %d", got, n)
	}
	if len(log) > 64<<10 {
		t.Errorf("%d refused requests wrote %d KiB to the operational log", n, len(log)>>10)
	}
}

// TestAdminConnectionsCapped: past maxAdminConns open connections the
// admin listener accepts no more until one closes, so that whoever
// reaches it cannot take every file descriptor of the process.
func TestAdminConnectionsCapped(t *testing.T) {
	old := maxAdminConns
	maxAdminConns = 3
	t.Cleanup(func() { maxAdminConns = old })
	g, _ := runGateway(t, adminConfig(t, true))
	addr := g.ls.admin.Addr().String()
	var idle []net.Conn
	for range maxAdminConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	got := make(chan int, 1)
	go func() {
		c := &http.Client{Timeout: 20 * time.Second}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case code := <-got:
		t.Fatalf("answered %d while %d connections were open", code, maxAdminConns)
	case <-time.After(300 * time.Millisecond): // cannot fail a working cap, only miss a broken one
	}
	idle[0].Close()
	if code := <-got; code != http.StatusOK {
		t.Fatalf("after a connection closed: got %d, want 200", code)
	}
}
