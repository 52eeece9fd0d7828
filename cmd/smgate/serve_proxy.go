package main

import (
	"context"

	"github.com/smgate/smgate/proxy"
)

// startProxy starts the forward proxy on ls.proxy. Returns nil, nil when
// proxy.listen is empty. What this build cannot serve (a transparent
// listener, TLS interception) preflight has refused (unbuilt).
func startProxy(g *gateway, ls *listeners) (frontDoor, error) {
	if ls.proxy == nil {
		return nil, nil
	}
	o := proxy.Options{
		Engine: g.engine, Sink: g.sink, Logger: g.log.With().Str("component", "proxy").Logger(),
		Registerer: g.reg, Addrs: g.addrs, Self: g.self,
	}
	if g.dns != nil {
		o.Resolver = proxy.WithFallback(g.dns, g.cfg.Resolver)
	}
	if g.geo.HasASN() {
		o.ASN = g.geo.ASN
	}
	if g.geo.Enabled() {
		o.Country = g.geo.Country
	}
	s, err := proxy.New(o)
	if err != nil {
		return nil, err
	}
	d := &proxyDoor{s: s, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		if err := s.Serve(ls.proxy); err != nil {
			g.log.Error().Err(err).Msg("proxy listener stopped")
		}
	}()
	return d, nil
}

// proxyDoor is the running proxy.
type proxyDoor struct {
	s    *proxy.Server
	done chan struct{} // closed when Serve has returned
}

// Shutdown drains the proxy, then waits for its accept loop to end.
func (d *proxyDoor) Shutdown(ctx context.Context) error {
	err := d.s.Shutdown(ctx)
	<-d.done
	return err
}
