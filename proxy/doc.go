// Package proxy is smgate's explicit forward proxy: absolute-form HTTP
// requests (forwarded by github.com/elazarl/goproxy) and CONNECT tunnels,
// each identified (Proxy-Authorization Basic or the directory's IP
// bindings), decided by allowlist.Snapshot.Decide, answered (forward,
// 407 challenge, block page) and written to the usage log as one
// logs.Record per social-media decision.
//
// The proxy never decides policy itself. It does refuse, whatever the
// decision, to connect to proxy.deny_destinations and to the gateway's own
// listeners, checked on every resolved address and dialled by address so
// that no later resolution can change it.
package proxy
