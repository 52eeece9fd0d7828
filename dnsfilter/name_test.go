package dnsfilter

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestHostOf(t *testing.T) {
	cases := []struct {
		name, host string
		plain      bool
	}{
		{"facebook.com.", "facebook.com", true},
		{"FaceBook.COM.", "facebook.com", true},
		{"facebook.com", "facebook.com", true},
		{".", "", true},
		{"_dns.resolver.arpa.", "_dns.resolver.arpa", true},
		{"*.facebook.com.", "facebook.com", true},
		{"x/y.facebook.com.", "facebook.com", true},
		{"a\\.b.facebook.com.", "facebook.com", false},
		{"\\070acebook.com.", "facebook.com", false},
		{"\\070ACEBOOK.com.", "facebook.com", false},
		{"f\\acebook.com.", "facebook.com", false},
		{"b\\195\\188cher.example.", "example", false},
		{"face\\000book.com.", "com", false},
		{"facebook\\.com.", "", false},
		{"x\\ y.example.org.", "example.org", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, plain := hostOf(c.name)
			if h != c.host || plain != c.plain {
				t.Errorf("hostOf(%q) = %q, %v; want %q, %v", c.name, h, plain, c.host, c.plain)
			}
		})
	}
}

func TestHostOfDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { hostOf("www.facebook.com.") }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzHostOf: the host is lower-case host labels, idempotent, and a
// label-wise suffix of the name.
func FuzzHostOf(f *testing.F) {
	for _, s := range []string{"facebook.com.", "A\\.B.facebook.com.", "\\070acebook.com.", ".", "x\\", "\\1", "..", "a..b", "-.-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h, _ := hostOf(name)
		if h == "" {
			return
		}
		for _, l := range strings.Split(h, ".") {
			if l == "" {
				t.Fatalf("hostOf(%q) = %q: empty label", name, h)
			}
			for i := 0; i < len(l); i++ {
				if !hostByte(l[i]) {
					t.Fatalf("hostOf(%q) = %q: byte %q", name, h, l[i])
				}
			}
		}
		if h2, _ := hostOf(h + "."); h2 != h {
			t.Fatalf("hostOf(%q) = %q, but hostOf(%q) = %q", name, h, h+".", h2)
		}
		if _, ok := dns.IsDomainName(name); ok && !strings.Contains(name, "\\") {
			if l := strings.ToLower(strings.TrimSuffix(name, ".")); l != h && !strings.HasSuffix(l, "."+h) {
				t.Fatalf("hostOf(%q) = %q is no suffix", name, h)
			}
		}
	})
}
