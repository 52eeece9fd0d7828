package main

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/proxy"
)

// runPac prints the proxy auto-configuration file that the proxy serves at
// /proxy.pac and /wpad.dat, for admins who publish it elsewhere (a web
// server, a group policy, DHCP option 252).
func runPac(e *env, args []string) int {
	fs := newFlags(e, "pac", "[--config F] [--proxy HOST:PORT] [--only-social]")
	cfgPath := fs.String("config", defaultConfig(), "gateway configuration `file`")
	addr := fs.String("proxy", "", "`host:port` clients reach the proxy at (default: proxy.listen)")
	onlySocial := fs.Bool("only-social", false, "send only the catalogue's domains and IP literals through the proxy, everything else DIRECT")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "smgate pac: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	l, err := allowlist.Load(*cfgPath)
	if err != nil {
		printLoadError(e, "pac", err)
		return 1
	}
	p := *addr
	if p == "" {
		p = l.Config.Proxy.Listen
		if p == "" {
			fmt.Fprintf(e.stderr, "smgate pac: proxy.listen is empty in %s; give the address clients use with --proxy HOST:PORT\n", *cfgPath)
			return 2
		}
		if host, _, err := net.SplitHostPort(p); err == nil && host == "" || listensEverywhere(p) {
			fmt.Fprintf(e.stderr, "smgate pac: proxy.listen %s listens on every address; give the one clients use with --proxy HOST:PORT\n", p)
			return 2
		}
	} else if host, port, err := net.SplitHostPort(p); err != nil || host == "" || port == "" {
		fmt.Fprintf(e.stderr, "smgate pac: invalid --proxy %q: want host:port\n", p)
		return 2
	}
	_, _ = e.stdout.Write(proxy.PAC(l.Snapshot, proxy.PACOptions{Proxy: p, OnlySocial: *onlySocial, Gateway: l.Config.Gateway.Name}))
	return 0
}

// listensEverywhere reports whether addr is a wildcard address such as
// 0.0.0.0:3128 or [::]:3128; clients cannot reach the proxy there.
func listensEverywhere(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Addr().IsUnspecified()
}
