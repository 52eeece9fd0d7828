package main

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseWatchdog(t *testing.T) {
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		ok              bool
	}{
		{"unset", "", "", 0, false},
		{"ours", "30000000", "42", 15 * time.Second, true},
		{"no pid", "2000000", "", time.Second, true},
		{"another process", "30000000", "43", 0, false},
		{"zero", "0", "", 0, false},
		{"garbage", "30s", "", 0, false},
		{"negative", "-5", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseWatchdog(tc.usec, tc.pid, 42)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseWatchdog(%q, %q) = %v, %v; want %v, %v", tc.usec, tc.pid, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestWatchdogPingsOnlyWhileHealthy: pings stop while the gateway is
// not alive, so that systemd restarts it.
func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	checks := make(chan struct{}) // unbuffered: the watchdog runs in step with the test
	var mu sync.Mutex
	pings := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runWatchdog(ctx, time.Millisecond, func() bool {
			checks <- struct{}{}
			return healthy.Load()
		}, func(s string) {
			if s != "WATCHDOG=1" {
				t.Errorf("notify %q", s)
			}
			mu.Lock()
			pings++
			mu.Unlock()
		})
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return pings }
	waitChecks := func(n int) {
		for range n {
			select {
			case <-checks:
			case <-time.After(10 * time.Second):
				t.Fatal("the watchdog stopped checking health")
			}
		}
	}
	waitChecks(2)
	if count() == 0 {
		t.Fatal("no ping while healthy")
	}
	healthy.Store(false)
	waitChecks(1) // the check after the change: every earlier ping has completed
	n := count()
	waitChecks(3)
	if count() != n {
		t.Errorf("%d pings while unhealthy", count()-n)
	}
	cancel()
	for {
		select {
		case <-checks:
			continue
		case <-done:
			return
		case <-time.After(10 * time.Second):
			t.Fatal("the watchdog did not stop")
		}
	}
}

// TestWatchdogNotifiesSystemd: pings reach NOTIFY_SOCKET.
func TestWatchdogNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("no unix datagram sockets: %v", err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		runWatchdog(ctx, time.Millisecond, func() bool { return true }, notifySystemd)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "WATCHDOG=1" {
		t.Fatalf("read %q, %v; want WATCHDOG=1", buf[:n], err)
	}
}

// TestWatchdogAliveWhileLogFails: a gateway whose usage log cannot be
// written is alive: a restart would lose the queued records and free no
// disk.
func TestWatchdogAliveWhileLogFails(t *testing.T) {
	g, _, _ := engineGateway(t)
	g.sink = failingSink{}
	if !gatewayAlive(g) {
		t.Error("a gateway that cannot write its log stops pinging the watchdog")
	}
}
