package allowlist

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Size of the generated policy of the benchmarks.
const (
	genAgencies = 100
	genAccounts = 10000
	genRoles    = 2000
	genUsers    = 100000
)

// genPlatforms are the platforms of the built-in catalogue that accounts
// and roles of the generated policy use.
var genPlatforms = []string{"facebook", "instagram", "x", "youtube", "linkedin", "reddit", "pinterest", "flickr"}

// writeGeneratedPolicy writes a policy of the sizes above, on the built-in
// catalogue, into dir and returns the gateway file. Role r of agency r%100
// grants platform genPlatforms[r%8] for view when r is even, and five
// accounts of its agency when r is odd; user u has roles u%2000 and
// (u+1)%2000 rebased to its agency, and address 10.u>>16.u>>8.u.
func writeGeneratedPolicy(tb testing.TB, dir string) string {
	tb.Helper()
	var reg, d strings.Builder
	for a := range genAccounts {
		fmt.Fprintf(&reg, "[[account]]\nid = \"acct-%d\"\nagency = \"AG%d\"\nplatform = %q\nhandle = \"Handle%d\"\npurpose = \"p\"\napproved_by = \"Commissioner\"\napproved_on = 2026-01-01\nexpires_on = 2027-06-01\nstatus = \"active\"\n\n",
			a, a%genAgencies, genPlatforms[a%len(genPlatforms)], a)
	}
	for a := range genAgencies {
		fmt.Fprintf(&d, "[[agency]]\nid = \"AG%d\"\nname = \"Agency %d\"\n\n", a, a)
	}
	for r := range genRoles {
		ag := r % genAgencies
		fmt.Fprintf(&d, "[[role]]\nid = \"role-%d\"\nagency = \"AG%d\"\n", r, ag)
		if r%2 == 0 {
			fmt.Fprintf(&d, "platforms = [%q]\nactions = [\"view\"]\n", genPlatforms[r%len(genPlatforms)])
		} else {
			var accts []string
			for k := range 5 { // accounts ag, ag+100, ... belong to agency ag
				accts = append(accts, fmt.Sprintf("%q", fmt.Sprintf("acct-%d", ag+genAgencies*((r/genAgencies+k)%(genAccounts/genAgencies)))))
			}
			fmt.Fprintf(&d, "accounts = [%s]\nactions = [\"view\", \"post\"]\nschedule = \"Mon-Fri 07:00-19:00\"\n", strings.Join(accts, ", "))
		}
		d.WriteString("\n")
	}
	const hash = "$2a$04$1Tl4NHUwgcDb5geNGnOofeuGD1jwJ0NAbqdVuvUr3jAlHQ4hvymUq"
	for u := range genUsers {
		ag := u % genAgencies
		r1 := ag + genAgencies*((u/genAgencies)%(genRoles/genAgencies))
		r2 := ag + genAgencies*((u/genAgencies+1)%(genRoles/genAgencies))
		fmt.Fprintf(&d, "[[user]]\nid = \"user%d\"\nname = \"User %d\"\nagency = \"AG%d\"\nroles = [\"role-%d\", \"role-%d\"]\npassword_bcrypt = %q\nips = [\"%s\"]\nacknowledged_on = 2026-01-10\n\n",
			u, u, ag, r1, r2, hash, genUserIP(u))
	}
	gw := "[gateway]\nname = \"bench\"\ntimezone = \"America/New_York\"\ndata_dir = \"./var\"\n\n[policy]\nplatforms = \"\"\nregistry = \"registry.toml\"\ndirectory = \"directory.toml\"\n"
	for name, text := range map[string]string{"smgate.toml": gw, "registry.toml": reg.String(), "directory.toml": d.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return filepath.Join(dir, "smgate.toml")
}

func genUserIP(u int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(u >> 16), byte(u >> 8), byte(u)})
}

func BenchmarkDecide(b *testing.B) {
	l, err := LoadAt(writeGeneratedPolicy(b, b.TempDir()), monday10)
	if err != nil {
		b.Fatal(err)
	}
	s := l.Snapshot
	// user 0 of AG0 has roles role-0 (facebook view) and role-100 (facebook view).
	// user 3 of AG3 has role-3 and role-103 (accounts only, on x/linkedin...).
	cases := []struct {
		name string
		req  Request
		want Reason
	}{
		{"allowed-grant", Request{ClientIP: genUserIP(0), Host: "www.facebook.com", Port: 443, Source: SourceExplicit, Time: monday10}, ReasonAllowedGrant},
		{"allowed-grant-basic-auth", Request{User: "user0", ClientIP: netip.MustParseAddr("192.0.2.1"), Host: "scontent.xx.fbcdn.net", Port: 443, Time: monday10}, ReasonAllowedGrant},
		{"allowed-grant-account-path", Request{ClientIP: genUserIP(3), Host: "www.youtube.com", Path: "/Handle3/videos", Action: ActionPost, Port: 80, Time: monday10}, ReasonAllowedGrant},
		{"blocked-no-grant", Request{ClientIP: genUserIP(0), Host: "www.reddit.com", Port: 443, Time: monday10}, ReasonNoGrant},
		{"allowed-not-social", Request{ClientIP: genUserIP(0), Host: "www.example.com", Port: 443, Time: monday10}, ReasonAllowedNotSocial},
		{"blocked-platform-banned", Request{ClientIP: genUserIP(0), Host: "www.tiktok.com", Port: 443, Time: monday10}, ReasonPlatformBanned},
	}
	for _, c := range cases {
		if d := s.Decide(&c.req); d.Reason != c.want {
			b.Fatalf("%s: got %+v, want %s", c.name, d, c.want)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			req := c.req
			for b.Loop() {
				_ = s.Decide(&req)
			}
		})
	}
}

// BenchmarkLoad loads and validates the generated policy from its files.
func BenchmarkLoad(b *testing.B) {
	path := writeGeneratedPolicy(b, b.TempDir())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadAt(path, monday10); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecideNoAlloc(t *testing.T) {
	e := newTestEngine(t, nil)
	s := e.Snapshot()
	for _, r := range []Request{
		{ClientIP: ip("10.20.0.16"), Host: "www.facebook.com", Port: 443, Time: monday10},
		{ClientIP: ip("10.30.0.5"), Host: "facebook.com", Port: 443, Time: monday10},
		{ClientIP: ip("10.30.0.5"), Host: "example.com", Port: 443, Time: monday10},
	} {
		if n := testing.AllocsPerRun(100, func() { _ = s.Decide(&r) }); n != 0 {
			t.Errorf("Decide(%s) allocates %v times", r.Host, n)
		}
	}
}
