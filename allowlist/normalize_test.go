package allowlist

import (
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		in, want string
		ip       bool
		bad      bool
	}{
		{in: "facebook.com", want: "facebook.com"},
		{in: "FaceBook.Com", want: "facebook.com"},
		{in: "facebook.com.", want: "facebook.com"},
		{in: "m.facebook.com", want: "m.facebook.com"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "XN--BCHER-KVA.example", want: "xn--bcher-kva.example"},
		{in: "ｆａｃｅｂｏｏｋ．ｃｏｍ", want: "facebook.com"},
		{in: "_dns.resolver.arpa", want: "_dns.resolver.arpa"},
		{in: "127.0.0.1", want: "127.0.0.1", ip: true},
		{in: "127.1", want: "127.0.0.1", ip: true},
		{in: "2130706433", want: "127.0.0.1", ip: true},
		{in: "0x7f.1", want: "127.0.0.1", ip: true},
		{in: "0x7f000001", want: "127.0.0.1", ip: true},
		{in: "0177.0.0.01", want: "127.0.0.1", ip: true},
		{in: "127.0.0.1.", want: "127.0.0.1", ip: true},
		{in: "0", want: "0.0.0.0", ip: true},
		{in: "[::1]", want: "::1", ip: true},
		{in: "::ffff:127.0.0.1", want: "127.0.0.1", ip: true},
		{in: "[::ffff:7f00:1]", want: "127.0.0.1", ip: true},
		{in: "[2001:DB8::1]", want: "2001:db8::1", ip: true},
		{in: "", bad: true},
		{in: ".", bad: true},
		{in: "exa mple.com", bad: true},
		{in: "a..b", bad: true},
		{in: "-a.com", bad: true},
		{in: "256.1.1.1", bad: true},
		{in: "1.2.3.4.5", bad: true},
		{in: "0x", want: "0.0.0.0", ip: true},
		{in: "fe80::1%eth0", bad: true},
		{in: strings.Repeat("a", 64) + ".com", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ip, err := NormalizeHost(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("NormalizeHost(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want || ip.IsValid() != tc.ip {
				t.Fatalf("NormalizeHost(%q) = %q, ip %v, %v; want %q, ip %v", tc.in, got, ip, err, tc.want, tc.ip)
			}
		})
	}
}

func TestNormalizeHostNoAlloc(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { _, _, _ = NormalizeHost("www.facebook.com") })
	if n != 0 {
		t.Fatalf("canonical host allocates %v times", n)
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"facebook.com", "FACEBOOK.com.", "bücher.example", "0x7f.1", "127.1",
		"[::ffff:127.0.0.1]", "2130706433", "xn--", "ｆａｃｅｂｏｏｋ．ｃｏｍ", "a..b", "1.2.3.4.", "0x7f", "_dns.resolver.arpa", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ip, err := NormalizeHost(s)
		if err != nil {
			return
		}
		n2, ip2, err := NormalizeHost(n)
		if err != nil || n2 != n || ip2 != ip {
			t.Fatalf("not idempotent: %q → %q (%v) → %q (%v, %v)", s, n, ip, n2, ip2, err)
		}
		if n != strings.ToLower(n) || strings.HasSuffix(n, ".") && n != "." {
			t.Fatalf("%q normalised to %q, not lower case without trailing dot", s, n)
		}
	})
}
