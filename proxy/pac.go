package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/smgate/smgate/allowlist"
)

// PACOptions configure PAC.
type PACOptions struct {
	// Proxy is the host:port that clients reach the proxy at.
	Proxy string
	// OnlySocial sends only the catalogue's domains (platforms, shared and
	// bypass domains) and IP literals through the proxy, everything else
	// DIRECT. When false, every request except plain (single-label,
	// intranet) host names goes through the proxy, so that IP literals,
	// platforms added to the catalogue later and bypass services are all
	// decided by the gateway.
	OnlySocial bool
	// Gateway names the gateway in the file's comment.
	Gateway string
}

// PAC returns a proxy auto-configuration file for the policy of snap.
// There is no DIRECT fallback after the proxy: a gateway that is down
// must not turn into unfiltered access.
func PAC(snap *allowlist.Snapshot, o PACOptions) []byte {
	var b bytes.Buffer
	b.WriteString("// smgate proxy auto-configuration")
	if o.Gateway != "" {
		b.WriteString(" for gateway " + strings.Map(pacCommentRune, o.Gateway))
	}
	b.WriteString(".\n// Generated; do not edit. Serve it from the proxy at /proxy.pac or /wpad.dat.\n")
	b.WriteString("var smgateProxy = " + jsString("PROXY "+o.Proxy) + ";\n")
	if !o.OnlySocial {
		b.WriteString(pacAll)
		return b.Bytes()
	}
	b.WriteString("var smgateDomains = {")
	for i, d := range pacDomains(snap) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  " + jsString(d) + ": true")
	}
	b.WriteString("\n};\n")
	b.WriteString(pacSocial)
	return b.Bytes()
}

const pacAll = `function FindProxyForURL(url, host) {
  if (isPlainHostName(host)) {
    return "DIRECT";
  }
  return smgateProxy;
}
`

const pacSocial = `function FindProxyForURL(url, host) {
  host = host.toLowerCase();
  if (host.charAt(host.length - 1) == ".") {
    host = host.substring(0, host.length - 1);
  }
  if (/^[0-9.]+$/.test(host) || /^0x/.test(host) || host.indexOf(":") >= 0) {
    return smgateProxy; // IP literals: the gateway matches them to platforms
  }
  for (var h = host; ; ) {
    if (smgateDomains.hasOwnProperty(h)) {
      return smgateProxy;
    }
    var i = h.indexOf(".");
    if (i < 0) {
      return "DIRECT";
    }
    h = h.substring(i + 1);
  }
}
`

// pacDomains returns every catalogue domain, sorted.
func pacDomains(snap *allowlist.Snapshot) []string {
	c := &snap.Policy().Catalogue
	ds := append([]string(nil), c.BypassDomains...)
	for _, p := range c.Platforms {
		ds = append(append(ds, p.Domains...), p.SharedDomains...)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// pacCommentRune drops from a comment what would end it: every control
// character and JavaScript's other line terminators, U+2028 and U+2029. A
// PAC file that does not parse sends browsers DIRECT, past the proxy.
func pacCommentRune(r rune) rune {
	if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
		return -1
	}
	return r
}

// servePAC answers a direct GET of /proxy.pac or /wpad.dat with the PAC
// file naming the address the client reached the proxy at.
func (s *Server) servePAC(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	addr := ""
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(interface{ String() string }); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil {
			addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
		}
	}
	body := PAC(snap, PACOptions{Proxy: addr, Gateway: snap.Config().Gateway.Name})
	w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
	w.Header().Set("Cache-Control", "max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
