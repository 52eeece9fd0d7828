package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// TestWithFallback: names the first resolver knows come from it; a name
// it does not know goes to Go's resolver for resolver.upstreams (which
// also reads the hosts file and the search list); a name neither knows is
// not found.
func TestWithFallback(t *testing.T) {
	first := newDNSServer(t, map[string]string{"known.test": "127.0.0.9"})
	second := newDNSServer(t, map[string]string{"known.test": "127.0.0.99", "intranet-only.test": "127.0.0.10"})
	var d net.Dialer
	r := WithFallback(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, first.addr)
	}}, allowlist.ResolverConfig{Upstreams: []string{second.addr}, Timeout: allowlist.Duration{Duration: 2 * time.Second}})
	ctx := context.Background()

	for _, c := range []struct{ name, want string }{
		{"known.test", "127.0.0.9"},
		{"intranet-only.test", "127.0.0.10"},
	} {
		got, err := r.LookupNetIP(ctx, "ip", c.name)
		if want := []netip.Addr{netip.MustParseAddr(c.want)}; err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, want)
		}
	}
	_, err := r.LookupNetIP(ctx, "ip", "nowhere.test")
	if de, ok := errors.AsType[*net.DNSError](err); !ok || !de.IsNotFound {
		t.Errorf("nowhere.test: %v, want a not-found *net.DNSError", err)
	}
}
