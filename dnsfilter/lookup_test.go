package dnsfilter

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestLookupNetIPSharesTheCache resolves names as the proxy does and
// checks that the answers come from the filter's cache: one upstream
// question per name and type, whichever of the proxy and a DNS client
// asks first.
func TestLookupNetIPSharesTheCache(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{})
	ctx := context.Background()

	for range 3 {
		got, err := f.s.LookupNetIP(ctx, "ip", "WWW.Facebook.com.")
		if err != nil {
			t.Fatal(err)
		}
		if want := []netip.Addr{netip.MustParseAddr("157.240.1.36")}; !slices.Equal(got, want) {
			t.Fatalf("www.facebook.com: %v, want %v (through its CNAME)", got, want)
		}
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if n := up.count("udp", "www.facebook.com.", qt); n != 1 {
			t.Errorf("upstream asked %d times for www.facebook.com %s, want 1", n, dns.TypeToString[qt])
		}
	}

	// A client of the filter asking afterwards is answered from the same
	// cache entry.
	if m := f.ask(t, bjones, "udp", "www.facebook.com.", dns.TypeA, false); m.Rcode != dns.RcodeSuccess {
		t.Fatalf("filter answered %s", dns.RcodeToString[m.Rcode])
	}
	if n := up.count("udp", "www.facebook.com.", dns.TypeA); n != 1 {
		t.Errorf("upstream asked %d times after the filter's client, want 1", n)
	}

	got, err := f.s.LookupNetIP(ctx, "ip6", "facebook.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("2a03:2880:f101:83:face:b00c:0:25de")}; !slices.Equal(got, want) {
		t.Errorf("facebook.com ip6: %v, want %v", got, want)
	}
	got, err = f.s.LookupNetIP(ctx, "ip4", "facebook.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("157.240.1.35")}; !slices.Equal(got, want) {
		t.Errorf("facebook.com ip4: %v, want %v", got, want)
	}
}

func TestLookupNetIPErrors(t *testing.T) {
	up := startUpstream(t)
	f := startFilter(t, up, fixtureOpts{timeout: 200 * time.Millisecond})
	ctx := context.Background()

	var de *net.DNSError
	_, err := f.s.LookupNetIP(ctx, "ip", "gone.nx.example.org")
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("NXDOMAIN: %v, want a not-found *net.DNSError", err)
	}
	// The negative answer is cached like any other.
	_, _ = f.s.LookupNetIP(ctx, "ip", "gone.nx.example.org")
	if n := up.count("udp", "gone.nx.example.org.", dns.TypeA); n != 1 {
		t.Errorf("upstream asked %d times for a cached NXDOMAIN, want 1", n)
	}

	// A name without addresses (example.org has no AAAA) is not found.
	_, err = f.s.LookupNetIP(ctx, "ip6", "example.org")
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("no AAAA: %v, want a not-found *net.DNSError", err)
	}

	// An upstream that does not answer is a timeout, as net.Resolver says
	// it, not "no such host" (the proxy answers 504, not 502).
	_, err = f.s.LookupNetIP(ctx, "ip", "drop.example.org")
	if !errors.As(err, &de) || de.IsNotFound || !de.Timeout() {
		t.Errorf("unanswered: %v, want a timeout *net.DNSError", err)
	}

	// The caller's deadline ends its wait.
	up.mu.Lock()
	hold := make(chan struct{})
	up.hold = hold
	up.mu.Unlock()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = f.s.LookupNetIP(short, "ip4", "instagram.com")
	cancel()
	close(hold)
	if !errors.As(err, &de) || !de.IsTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v, want a timeout *net.DNSError", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.s.LookupNetIP(gone, "ip4", "drop.example.org")
	if !errors.As(err, &de) || de.IsTimeout || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v, want a *net.DNSError wrapping context.Canceled", err)
	}

	got, err := f.s.LookupNetIP(ctx, "ip", "LocalHost.")
	if want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}; err != nil || !slices.Equal(got, want) {
		t.Errorf("localhost: %v %v, want %v", got, err, want)
	}
	if n := up.count("udp", "localhost.", dns.TypeA); n != 0 {
		t.Errorf("upstream asked %d times for localhost", n)
	}
	if _, err := f.s.LookupNetIP(ctx, "tcp", "facebook.com"); err == nil {
		t.Error(`network "tcp" accepted`)
	}
	if _, err := f.s.LookupNetIP(ctx, "ip", "bad..name"); !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("invalid name: %v, want a not-found *net.DNSError", err)
	}
}
