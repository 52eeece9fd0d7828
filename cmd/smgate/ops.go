package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ops is the operations side of serve: policy metrics, the policy file
// watcher, the systemd watchdog, and the shutdown flag that readiness
// reports.
type ops struct {
	stopping atomic.Bool // set as soon as serve's context ends
}

// startOps registers the policy metrics on g.reg, sets g.ops and starts
// the watcher and the watchdog until ctx ends. stop ends them and waits.
func startOps(ctx context.Context, g *gateway) (stop func(), err error) {
	if err := g.reg.Register(newPolicyCollector(g.engine)); err != nil {
		return nil, fmt.Errorf("register policy metrics: %w", err)
	}
	o := &ops{}
	g.ops = o
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		o.stopping.Store(true)
	})
	w := newWatcher(g, watchInterval)
	wg.Go(func() { w.run(ctx) })
	if tuneGCEnabled {
		wg.Go(func() { tuneGC(ctx, 2*time.Second) })
	}
	if every, ok := watchdogInterval(); ok {
		g.log.Info().Dur("every", every).Msg("systemd watchdog enabled")
		wg.Go(func() { runWatchdog(ctx, every, func() bool { return gatewayAlive(g) }, notifySystemd) })
	}
	return func() {
		cancel()
		wg.Wait()
	}, nil
}
