package main

import (
	"fmt"
	"strings"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// reload reloads the policy and records the attempt in the usage log. A
// successful reload warns about edited keys that only a restart applies.
func reload(g *gateway, by string) (*allowlist.Loaded, error) {
	var files map[string]fileState
	if g.reloaded != nil {
		files = scanFiles(policyPaths(g)) // before the files are read: see watcher.tick
	}
	l, err := g.engine.Reload()
	if g.reloaded != nil {
		g.reloaded.Store(&files)
	}
	r := &logs.Record{Action: logs.ActionReload, Outcome: logs.OutcomeSuccess, By: by,
		Message: fmt.Sprintf("policy generation %d", g.engine.Snapshot().Gen())}
	if err != nil {
		r.Outcome = logs.OutcomeFailure
		r.Message = "reload failed, last good policy kept: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	if err == nil && g.cfg != nil {
		for _, key := range restartOnlyChanges(g.cfg, l.Config) {
			g.log.Warn().Str("key", key).Msg("edited key takes effect on restart")
			l.Warnings = append(l.Warnings, &allowlist.Problem{File: l.Config.Path, Line: l.Config.Line(key), Key: key, Msg: "changes take effect on restart"})
		}
	}
	if lerr := g.logChange(r); lerr != nil {
		g.log.Error().Err(lerr).Msg("cannot record the reload in the usage log")
	}
	return l, err
}

// logChange queues the usage record of a change that is in force
// whatever becomes of its record (a suspension, a reinstatement, a
// reload). Through the usage-log writer it is queued even while the log
// cannot be written, and written once it can, rather than refused and
// lost as a request's record is; Flush tells whether it is written yet.
func (g *gateway) logChange(r *logs.Record) error {
	if g.writer != nil {
		return g.writer.LogAlways(r)
	}
	return g.sink.Log(r)
}

// restartOnly lists the gateway-file keys that serve sets up once, at
// start: sockets, the usage-log writer, the databases, the resolvers and
// the connection limits. gateway.data_dir is warned about by the engine.
var restartOnly = []struct {
	key string
	get func(*allowlist.Config) any
}{
	{"gateway.name", func(c *allowlist.Config) any { return c.Gateway.Name }},
	{"proxy.listen", func(c *allowlist.Config) any { return c.Proxy.Listen }},
	{"proxy.transparent_listen", func(c *allowlist.Config) any { return c.Proxy.TransparentListen }},
	{"proxy.max_conns", func(c *allowlist.Config) any { return c.Proxy.MaxConns }},
	{"proxy.dial_timeout", func(c *allowlist.Config) any { return c.Proxy.DialTimeout }},
	{"proxy.header_timeout", func(c *allowlist.Config) any { return c.Proxy.HeaderTimeout }},
	{"proxy.idle_timeout", func(c *allowlist.Config) any { return c.Proxy.IdleTimeout }},
	{"dns.listen", func(c *allowlist.Config) any { return c.DNS.Listen }},
	{"dns.cache_size", func(c *allowlist.Config) any { return c.DNS.CacheSize }},
	{"resolver.upstreams", func(c *allowlist.Config) any { return c.Resolver.Upstreams }},
	{"resolver.timeout", func(c *allowlist.Config) any { return c.Resolver.Timeout }},
	{"admin.listen", func(c *allowlist.Config) any { return c.Admin.Listen }},
	{"admin.token_file", func(c *allowlist.Config) any { return c.Admin.TokenFile }},
	{"logs.dir", func(c *allowlist.Config) any { return c.Logs.Dir }},
	{"logs.hmac_key_file", func(c *allowlist.Config) any { return c.Logs.HMACKeyFile }},
	{"logs.queue_size", func(c *allowlist.Config) any { return c.Logs.QueueSize }},
	{"geoip.country_db", func(c *allowlist.Config) any { return c.GeoIP.CountryDB }},
	{"geoip.asn_db", func(c *allowlist.Config) any { return c.GeoIP.ASNDB }},
}

// restartOnlyChanges returns the restart-only keys whose values differ
// between the config serve started with and a reloaded one.
func restartOnlyChanges(started, loaded *allowlist.Config) []string {
	var keys []string
	for _, k := range restartOnly {
		if fmt.Sprint(k.get(started)) != fmt.Sprint(k.get(loaded)) {
			keys = append(keys, k.key)
		}
	}
	return keys
}
