package main

import (
	"context"
	"errors"

	"github.com/smgate/smgate/proxy"
)

// startProxy starts the forward proxy on ls.proxy. Returns nil, nil when
// proxy.listen is empty.
func startProxy(g *gateway, ls *listeners) (frontDoor, error) {
	if ls.transparent != nil {
		// An open port that nobody serves would hang every client sent to
		// it; refuse to start instead.
		return nil, errors.New("proxy.transparent_listen is set, but this build has no transparent mode; leave it empty")
	}
	if g.cfg.Proxy.Intercept.Enabled {
		// Account-level rules would silently fall back to platform level;
		// an operator who asked for interception must know it is not there.
		return nil, errors.New("proxy.intercept.enabled is true, but this build has no TLS interception; set it to false (account grants are then applied at platform level, see proxy.unverified_accounts)")
	}
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
