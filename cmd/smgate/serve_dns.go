package main

import (
	"github.com/smgate/smgate/dnsfilter"
)

// newDNS makes the DNS filter when dns.listen is set; nil, nil when it is
// not. startFrontDoors makes it before the proxy, which resolves
// destination names through its cache (dnsfilter.Server.LookupNetIP).
func newDNS(g *gateway, ls *listeners) (*dnsfilter.Server, error) {
	if ls.dnsUDP == nil && ls.dnsTCP == nil {
		return nil, nil
	}
	return dnsfilter.New(dnsfilter.Options{
		Engine: g.engine, Sink: g.sink, Logger: g.log.With().Str("component", "dns").Logger(),
		Registerer: g.reg, Addrs: g.addrs,
	})
}

// startDNS starts the DNS filter newDNS made, on ls.dnsUDP and ls.dnsTCP.
// Returns nil, nil when there is none.
func startDNS(g *gateway, ls *listeners) (frontDoor, error) {
	if g.dns == nil {
		return nil, nil
	}
	return g.dns, g.dns.Start(ls.dnsUDP, ls.dnsTCP)
}
