package main

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/dnsfilter"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/internal/geoip"
	"github.com/smgate/smgate/logs"
)

// gateway is what serve hands each front door: the policy engine, the
// usage log, the operational logger, the metrics registry, the shared
// address memory and the addresses of every listener of this gateway
// (all bound before any front door starts, so that the proxy can refuse
// to forward to any of them).
type gateway struct {
	cfg    *allowlist.Config // as loaded at start; the engine has the one in force
	engine *allowlist.Engine
	sink   logs.Sink
	log    zerolog.Logger
	reg    prometheus.Registerer
	addrs  *addrmem.Memory
	self   []netip.AddrPort
	writer *logs.Writer      // the sink, for prune and flush; nil in tests of one front door
	ls     *listeners        // the bound sockets
	ops    *ops              // metrics, watcher, watchdog, shutdown flag; nil in tests of one front door
	geo    *geoip.DB         // country and ASN databases; nil or empty when none is configured
	dns    *dnsfilter.Server // the DNS filter, made by startFrontDoors; nil when dns.listen is empty
	// reloaded is the state of the policy files as the last reload found
	// them, whoever asked for it and whatever came of it (see
	// watcher.tick); nil in tests that do not watch.
	reloaded *atomic.Pointer[map[string]fileState]
}

// frontDoor is a started listener service.
type frontDoor interface {
	// Shutdown stops accepting, drains open connections until ctx ends,
	// then closes what is left.
	Shutdown(ctx context.Context) error
}

// listeners are the sockets serve binds before starting the front doors;
// nil when the config leaves that listener empty.
type listeners struct {
	proxy, transparent net.Listener
	dnsUDP             net.PacketConn
	dnsTCP             net.Listener
	admin              net.Listener
}
