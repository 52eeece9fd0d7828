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

// runWatchdog sends WATCHDOG=1 through notify every interval while alive
// reports true, until ctx ends. A gateway that stops pinging is restarted
// by systemd once WatchdogSec passes.
func runWatchdog(ctx context.Context, every time.Duration, alive func() bool, notify func(string)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if alive() {
			notify("WATCHDOG=1")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gatewayAlive reports whether the gateway has a policy to serve. A usage
// log that cannot be written does not count: the gateway then blocks
// social media (blocked-policy-unavailable), keeps forwarding the rest,
// says so on /readyz and in smgate_logs_healthy, and writes again once
// the disk is writable. A restart would change none of that, would lose
// the records still queued in memory, and, repeated, would hit the
// unit's start limit and leave the agency with no gateway at all.
func gatewayAlive(g *gateway) bool {
	return g.engine.Snapshot() != nil
}
