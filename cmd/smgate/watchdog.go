package main

import (
	"context"
	"os"
	"strconv"
	"time"
)

// watchdogInterval returns how often to ping systemd's watchdog: half of
// WATCHDOG_USEC, when it is set for this process (WATCHDOG_PID absent or
// ours).
func watchdogInterval() (time.Duration, bool) {
	return parseWatchdog(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

func parseWatchdog(usec, pid string, self int) (time.Duration, bool) {
	if usec == "" {
		return 0, false
	}
	if pid != "" && pid != strconv.Itoa(self) {
		return 0, false
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Microsecond / 2, true
}

// runWatchdog sends WATCHDOG=1 through notify every interval while healthy
// reports true, until ctx ends. An unhealthy gateway stops pinging, so
// that systemd restarts it once WatchdogSec passes.
func runWatchdog(ctx context.Context, every time.Duration, healthy func() bool, notify func(string)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if healthy() {
			notify("WATCHDOG=1")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gatewayHealthy reports whether the engine has a policy and the usage
// log can be written.
func gatewayHealthy(g *gateway) bool {
	return g.engine.Snapshot() != nil && g.sink.Healthy() == nil
}
