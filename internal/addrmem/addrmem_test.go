package addrmem

import (
	"net/netip"
	"testing"
	"time"
)

func TestRememberAndExpire(t *testing.T) {
	m := New(0)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("157.240.1.35")
	m.Remember(a, "facebook", 5*time.Minute, now)
	if got := m.Platform(netip.MustParseAddr("::ffff:157.240.1.35"), now); got != "facebook" {
		t.Fatalf("IPv4-mapped lookup = %q, want facebook", got)
	}
	if got := m.Platform(a, now.Add(6*time.Minute)); got != "" {
		t.Fatalf("after TTL = %q, want forgotten", got)
	}
	m.Remember(a, "facebook", 0, now)
	if got := m.Platform(a, now.Add(30*time.Second)); got != "facebook" {
		t.Fatalf("a zero TTL must still be remembered for MinTTL, got %q", got)
	}
}

func TestBounded(t *testing.T) {
	m := New(100)
	now := time.Now()
	for i := range 1000 {
		m.Remember(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "x", time.Hour, now)
	}
	if m.Len() > 100 {
		t.Fatalf("Len = %d, want at most 100", m.Len())
	}
	last := netip.AddrFrom4([4]byte{10, 0, 3, 231})
	if m.Platform(last, now) != "x" {
		t.Fatal("the newest address was evicted")
	}
}
