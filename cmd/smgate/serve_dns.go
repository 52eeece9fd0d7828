package main

import (
	"github.com/smgate/smgate/dnsfilter"
)

// startDNS starts the DNS filter on ls.dnsUDP and ls.dnsTCP. Returns nil,
// nil when dns.listen is empty.
func startDNS(g *gateway, ls *listeners) (frontDoor, error) {
	if ls.dnsUDP == nil && ls.dnsTCP == nil {
		return nil, nil
	}
	s, err := dnsfilter.New(dnsfilter.Options{
		Engine: g.engine, Sink: g.sink, Logger: g.log.With().Str("component", "dns").Logger(),
		Registerer: g.reg, Addrs: g.addrs,
	})
	if err != nil {
		return nil, err
	}
	if err := s.Start(ls.dnsUDP, ls.dnsTCP); err != nil {
		return s, err
	}
	return s, nil
}
