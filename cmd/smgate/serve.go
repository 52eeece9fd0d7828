package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/addrmem"
	"github.com/smgate/smgate/internal/geoip"
	"github.com/smgate/smgate/logs"
)

// shutdownGrace bounds how long serve drains connections on SIGTERM.
const shutdownGrace = 15 * time.Second

func runServe(e *env, args []string) int {
	fs := newFlags(e, "serve", "[--config F] [--log-level L] [--accept-log-mismatch]")
	cfgPath := fs.String("config", defaultConfig(), "gateway configuration `file`")
	level := fs.String("log-level", "info", "operational log level: debug, info, warn, error")
	accept := fs.Bool("accept-log-mismatch", false, "start although the usage log does not match its checkpoint (a cut tail, a deleted day file);\nthe gateway records what it found and accepted. Keep a copy of the log directory as evidence first")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil || *level == "" {
		fmt.Fprintf(e.stderr, "smgate serve: invalid --log-level %q (want debug, info, warn or error)\n", *level)
		return 2
	}
	log := zerolog.New(e.stderr).Level(lvl).With().Timestamp().Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serveWith(ctx, *cfgPath, log, nil, *accept); err != nil {
		printLoadError(e, "serve", err)
		return 1
	}
	return 0
}

// printLoadError prints err, one problem a line when it lists problems.
func printLoadError(e *env, cmd string, err error) {
	if ps := allowlist.AsProblems(err); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(e.stderr, "%s\n", p)
		}
		fmt.Fprintf(e.stderr, "smgate %s: %d problem(s); nothing was started\n", cmd, len(ps))
		return
	}
	fmt.Fprintf(e.stderr, "smgate %s: %v\n", cmd, err)
}

// serve runs the gateway until ctx ends. ready, when not nil, receives the
// gateway once every listener serves (tests use it).
func serve(ctx context.Context, cfgPath string, log zerolog.Logger, ready chan<- *gateway) error {
	return serveWith(ctx, cfgPath, log, ready, false)
}

// serveWith is serve; acceptMismatch opens a usage log that does not match
// its checkpoint, recording what was found. Usage records that could not
// be written before the log closed make it fail, after the rest of the
// shutdown: the exit status says that records were lost.
func serveWith(ctx context.Context, cfgPath string, log zerolog.Logger, ready chan<- *gateway, acceptMismatch bool) (err error) {
	engine, err := allowlist.NewEngine(cfgPath, allowlist.EngineOptions{Logger: log})
	if err != nil {
		return err
	}
	cfg := engine.Config()
	if err := preflight(cfg, log); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	w, err := openUsageLog(cfg, log, reg, acceptMismatch)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); cerr != nil {
			log.Error().Err(cerr).Msg("closing the usage log")
			if err == nil {
				err = cerr
			}
		}
	}()
	geo, err := geoip.Open(cfg.GeoIP.CountryDB, cfg.GeoIP.ASNDB)
	if err != nil {
		return err
	}
	defer geo.Close()
	ls, err := bindListeners(cfg)
	if err != nil {
		return err
	}
	defer ls.closeAll()
	g := &gateway{cfg: cfg, engine: engine, sink: w, log: log, reg: reg, addrs: addrmem.New(0), self: ls.addrs(), writer: w, ls: ls, geo: geo,
		reloaded: new(atomic.Pointer[map[string]fileState])}
	stopOps, err := startOps(ctx, g)
	if err != nil {
		return err
	}
	defer stopOps()
	doors, err := startFrontDoors(g, ls)
	defer shutdownAll(doors, log)
	if err != nil {
		return err
	}
	// SIGHUP is caught before systemd hears READY=1: its default action
	// would end the gateway, and ExecReload may send it at once.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info().Str("config", cfgPath).Str("mode", string(cfg.Gateway.Mode)).Dict("listen", listenDict(ls)).Msg("gateway serving")
	notifySystemd("READY=1")
	if ready != nil {
		ready <- g
	}
	loop(ctx, g, hup)
	notifySystemd("STOPPING=1")
	log.Info().Msg("shutting down")
	return nil
}

// startFrontDoors starts the proxy, the DNS filter and the admin listener,
// in the order they are shut down. The DNS filter is made first, since the
// proxy resolves names through it, and shut down after the proxy, which
// may still resolve names while its connections drain.
func startFrontDoors(g *gateway, ls *listeners) ([]frontDoor, error) {
	var err error
	if g.dns, err = newDNS(g, ls); err != nil {
		return nil, err
	}
	var doors []frontDoor
	for _, start := range []func(*gateway, *listeners) (frontDoor, error){startProxy, startDNS, startAdmin} {
		d, err := start(g, ls)
		if d != nil {
			doors = append(doors, d) // shut down even when it failed half-way
		}
		if err != nil {
			if g.dns != nil && !slices.Contains(doors, frontDoor(g.dns)) {
				doors = append(doors, g.dns) // made, not started: its upstream sockets
			}
			return doors, err
		}
	}
	return doors, nil
}

func shutdownAll(doors []frontDoor, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, d := range doors {
		if err := d.Shutdown(ctx); err != nil {
			log.Warn().Err(err).Msg("shutdown did not drain every connection")
		}
	}
}

// loop reloads on each signal from hup (SIGHUP) and prunes daily until
// ctx ends.
func loop(ctx context.Context, g *gateway, hup <-chan os.Signal) {
	prune := time.NewTicker(24 * time.Hour)
	defer prune.Stop()
	dailyPrune(g)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_, _ = reload(g, "SIGHUP")
		case <-prune.C:
			dailyPrune(g)
		}
	}
}

// dailyPrune deletes day files past logs.retention_days that no hold
// keeps; logs.Prune records what it deleted.
func dailyPrune(g *gateway) {
	cfg := g.engine.Config()
	var res logs.PruneResult
	key, err := readHMACKey(cfg.Logs.HMACKeyFile)
	if err == nil {
		res, err = logs.Prune(logs.PruneOptions{Dir: cfg.Logs.Dir, StateDir: g.cfg.Gateway.DataDir, HMACKey: key,
			RetentionDays: cfg.Logs.RetentionDays, Writer: g.writer, By: "smgate serve"})
		if err == nil && len(res.Deleted) > 0 {
			g.log.Info().Strs("deleted", res.Deleted).Int("held", len(res.Held)).Msg("usage log pruned")
		}
	}
	if err != nil {
		// Prune may stop part way; it says which files it deleted.
		g.log.Error().Err(err).Strs("deleted", res.Deleted).Msg("daily prune failed")
	}
}

// openUsageLog opens the durable usage-log writer of cfg.
func openUsageLog(cfg *allowlist.Config, log zerolog.Logger, reg prometheus.Registerer, acceptMismatch bool) (*logs.Writer, error) {
	key, err := readHMACKey(cfg.Logs.HMACKeyFile)
	if err != nil {
		return nil, err
	}
	w, err := logs.Open(logs.Options{
		Dir: cfg.Logs.Dir, StateDir: cfg.Gateway.DataDir, Observer: cfg.Gateway.Name,
		HMACKey: key, QueueSize: cfg.Logs.QueueSize, Logger: log, Registerer: reg,
		AcceptTamperedTail: acceptMismatch, AcceptedBy: whoami(),
	})
	var ve *logs.VerifyError
	if errors.As(err, &ve) {
		return nil, fmt.Errorf("%w\nsee 'smgate logs verify' for what differs; keep a copy of %s and %s as evidence, then start once with 'smgate serve --accept-log-mismatch', which records what it accepted", err, cfg.Logs.Dir, cfg.Gateway.DataDir)
	}
	if errors.Is(err, logs.ErrLocked) {
		return nil, fmt.Errorf("another smgate serve is running with this data_dir %s and log dir %s: stop it, or give this gateway its own gateway.data_dir and logs.dir (%w)",
			cfg.Gateway.DataDir, cfg.Logs.Dir, err)
	}
	return w, err
}

// listenDict names the address of each bound listener, as the readiness
// check names them: proxy, transparent, dns_udp, dns_tcp, admin.
func listenDict(ls *listeners) *zerolog.Event {
	d := zerolog.Dict()
	add := func(name string, a net.Addr) {
		if a != nil {
			d.Str(name, addrPortOf(a).String())
		}
	}
	if ls.proxy != nil {
		add("proxy", ls.proxy.Addr())
	}
	if ls.transparent != nil {
		add("transparent", ls.transparent.Addr())
	}
	if ls.dnsUDP != nil {
		add("dns_udp", ls.dnsUDP.LocalAddr())
	}
	if ls.dnsTCP != nil {
		add("dns_tcp", ls.dnsTCP.Addr())
	}
	if ls.admin != nil {
		add("admin", ls.admin.Addr())
	}
	return d
}

// readHMACKey reads logs.hmac_key_file; "" means no key.
func readHMACKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	key, err := readKey(path)
	if err != nil {
		return nil, fmt.Errorf("logs.hmac_key_file: %w", err)
	}
	return key, nil
}

// bindListeners opens every socket the config names.
func bindListeners(cfg *allowlist.Config) (ls *listeners, err error) {
	ls = &listeners{}
	defer func() {
		if err != nil {
			ls.closeAll()
		}
	}()
	tcp := func(key, addr string, dst *net.Listener) error {
		if addr == "" {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*dst = l
		return nil
	}
	if err = tcp("proxy.listen", cfg.Proxy.Listen, &ls.proxy); err != nil {
		return ls, err
	}
	if err = tcp("proxy.transparent_listen", cfg.Proxy.TransparentListen, &ls.transparent); err != nil {
		return ls, err
	}
	if err = tcp("admin.listen", cfg.Admin.Listen, &ls.admin); err != nil {
		return ls, err
	}
	if cfg.DNS.Listen != "" {
		ls.dnsUDP, ls.dnsTCP, err = bindDNS(cfg.DNS.Listen)
	}
	return ls, err
}

// dnsBindAttempts bounds how often bindDNS tries another port for ":0".
const dnsBindAttempts = 20

// bindDNS binds UDP and TCP on the same address. With port 0, TCP takes
// the port UDP got; when that port is busy for TCP (a client connection
// may hold it), it tries another.
func bindDNS(addr string) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for i := 0; ; i++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns.listen: %w", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) || i+1 == dnsBindAttempts {
			return nil, nil, fmt.Errorf("dns.listen: %w", err)
		}
	}
}

func (ls *listeners) closeAll() {
	for _, l := range []net.Listener{ls.proxy, ls.transparent, ls.dnsTCP, ls.admin} {
		if l != nil {
			l.Close()
		}
	}
	if ls.dnsUDP != nil {
		ls.dnsUDP.Close()
	}
}

// addrs returns the addresses of every bound listener.
func (ls *listeners) addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, l := range []net.Listener{ls.proxy, ls.transparent, ls.dnsTCP, ls.admin} {
		if l != nil {
			out = append(out, addrPortOf(l.Addr()))
		}
	}
	if ls.dnsUDP != nil {
		out = append(out, addrPortOf(ls.dnsUDP.LocalAddr()))
	}
	return out
}

func addrPortOf(a net.Addr) netip.AddrPort {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// notifySystemd sends state to systemd's notify socket when serve runs
// under Type=notify; it does nothing otherwise.
func notifySystemd(state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if strings.HasPrefix(sock, "@") {
		sock = "\x00" + sock[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
