package configs_test

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/configs"
)

// categories are the category strings a catalogue may use.
var categories = []string{
	"video-sharing", "microblogging", "blogging", "social-networking",
	"photo-sharing", "social-bookmarking", "communal-knowledge", "forums",
	"messaging",
}

var (
	idRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	// domainRE: lower-case LDH labels of 1 to 63 characters, at least two
	// labels, a last label that starts with a letter (no IP literals).
	domainRE = regexp.MustCompile(`^([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// decodeBuiltin decodes the embedded catalogue, failing on any key the
// catalogue type does not know.
func decodeBuiltin(t *testing.T) allowlist.Catalogue {
	t.Helper()
	var c allowlist.Catalogue
	md, err := toml.Decode(string(configs.Platforms), &c)
	if err != nil {
		t.Fatalf("decode built-in platforms.toml: %v", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("built-in platforms.toml has unknown keys: %v", u)
	}
	return c
}

// allDomains returns a platform's domains and shared domains.
func allDomains(p allowlist.Platform) []string {
	return append(slices.Clone(p.Domains), p.SharedDomains...)
}

// under reports whether host is name or a subdomain of it.
func under(host, name string) bool {
	return host == name || strings.HasSuffix(host, "."+name)
}

// lookup matches host on the longest listed suffix, as the gateway does,
// and returns the ids of the platforms that list that suffix, sorted, and
// whether the suffix is a bypass domain.
func lookup(c allowlist.Catalogue, host string) (ids []string, bypass bool) {
	owners := map[string][]string{}
	for _, p := range c.Platforms {
		for _, d := range allDomains(p) {
			owners[d] = append(owners[d], p.ID)
		}
	}
	for _, d := range c.BypassDomains {
		owners[d] = nil
	}
	for h := host; ; {
		if ids, ok := owners[h]; ok {
			sort.Strings(ids)
			return ids, ids == nil
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return nil, false
		}
		h = h[i+1:]
	}
}

func platformByID(t *testing.T, c allowlist.Catalogue, id string) allowlist.Platform {
	t.Helper()
	for _, p := range c.Platforms {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("platform %q is not in the catalogue", id)
	return allowlist.Platform{}
}

func TestCatalogueSize(t *testing.T) {
	c := decodeBuiltin(t)
	if n := len(c.Platforms); n < 40 {
		t.Errorf("catalogue has %d platforms, want at least 40", n)
	}
}

func TestCategories(t *testing.T) {
	c := decodeBuiltin(t)
	used := map[string]int{}
	for _, p := range c.Platforms {
		if !slices.Contains(categories, p.Category) {
			t.Errorf("platform %q: unknown category %q", p.ID, p.Category)
		}
		used[p.Category]++
	}
	for _, cat := range categories {
		t.Run(cat, func(t *testing.T) {
			if used[cat] == 0 && cat != "messaging" {
				t.Errorf("no platform in category %q", cat)
			}
		})
	}
}

func TestPlatformFields(t *testing.T) {
	c := decodeBuiltin(t)
	seen := map[string]bool{}
	for _, p := range c.Platforms {
		t.Run(p.ID, func(t *testing.T) {
			if !idRE.MatchString(p.ID) {
				t.Errorf("id %q: want lower-case letters, digits and single hyphens", p.ID)
			}
			if seen[p.ID] {
				t.Errorf("id %q is used twice", p.ID)
			}
			seen[p.ID] = true
			if p.Name == "" {
				t.Error("name is missing")
			}
			if len(p.Domains) == 0 {
				t.Error("lists no domain")
			}
			inPlatform := map[string]bool{}
			for _, d := range allDomains(p) {
				if !validDomain(d) {
					t.Errorf("invalid domain %q: want lower case, no scheme, no leading or trailing dot", d)
				}
				if inPlatform[d] {
					t.Errorf("domain %q is listed twice", d)
				}
				inPlatform[d] = true
			}
		})
	}
}

func validDomain(d string) bool {
	return len(d) <= 253 && domainRE.MatchString(d) && !strings.Contains(d, "..")
}

// TestSharing checks the sharing rules: a domain listed by two or more
// platforms is in shared_domains of all of them, a domain under domains of
// one platform is in no other platform at all, and every shared domain is
// really shared.
func TestSharing(t *testing.T) {
	c := decodeBuiltin(t)
	type use struct {
		id     string
		shared bool
	}
	uses := map[string][]use{}
	for _, p := range c.Platforms {
		for _, d := range p.Domains {
			uses[d] = append(uses[d], use{p.ID, false})
		}
		for _, d := range p.SharedDomains {
			uses[d] = append(uses[d], use{p.ID, true})
		}
	}
	for d, us := range uses {
		var owners, sharers []string
		for _, u := range us {
			if u.shared {
				sharers = append(sharers, u.id)
			} else {
				owners = append(owners, u.id)
			}
		}
		switch {
		case len(owners) > 0 && len(us) > 1:
			t.Errorf("domain %q is under domains of %v and also listed by %d platform(s) in all: a domain used by several platforms belongs in shared_domains of each", d, owners, len(us))
		case len(owners) == 0 && len(sharers) < 2:
			t.Errorf("domain %q is in shared_domains of %v only: list it under domains, or in shared_domains of every platform that uses it", d, sharers)
		}
	}
}

// TestNoOverlap checks that no platform domain is a subdomain of another
// platform's domain: longest-suffix matching would silently split them.
func TestNoOverlap(t *testing.T) {
	c := decodeBuiltin(t)
	owner := map[string]string{}
	for _, p := range c.Platforms {
		for _, d := range allDomains(p) {
			owner[d] = p.ID
		}
	}
	for d, id := range owner {
		for parent, pid := range owner {
			if d != parent && under(d, parent) && id != pid {
				t.Errorf("domain %q of %s lies under %q of %s", d, id, parent, pid)
			}
		}
	}
}

func TestBanned(t *testing.T) {
	c := decodeBuiltin(t)
	for _, tc := range []struct {
		id     string
		banned bool
	}{
		{"tiktok", true},
		{"douyin", true},
		{"capcut", true},
		{"lemon8", true},
		{"wechat", true},
		{"xiaohongshu", true},
		{"facebook", false},
		{"youtube", false},
		{"x", false},
		{"linkedin", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			if got := platformByID(t, c, tc.id).Banned; got != tc.banned {
				t.Errorf("banned = %v, want %v", got, tc.banned)
			}
		})
	}
}

func TestSharedMetaCDN(t *testing.T) {
	c := decodeBuiltin(t)
	for _, id := range []string{"facebook", "instagram", "threads"} {
		t.Run(id, func(t *testing.T) {
			p := platformByID(t, c, id)
			for _, d := range []string{"fbcdn.net", "fbsbx.com"} {
				if !slices.Contains(p.SharedDomains, d) {
					t.Errorf("%s does not list %q in shared_domains", id, d)
				}
			}
		})
	}
}

// TestSharedOrder checks that a shared domain's first lister, under which
// blocked requests are logged, is the family's main platform.
func TestSharedOrder(t *testing.T) {
	c := decodeBuiltin(t)
	for _, tc := range []struct{ domain, first string }{
		{"fbcdn.net", "facebook"},
		{"fbsbx.com", "facebook"},
		{"cdninstagram.com", "instagram"},
		{"ibyteimg.com", "tiktok"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			for _, p := range c.Platforms {
				if slices.Contains(p.SharedDomains, tc.domain) {
					if p.ID != tc.first {
						t.Errorf("first platform sharing %q is %q, want %q", tc.domain, p.ID, tc.first)
					}
					return
				}
			}
			t.Errorf("no platform shares %q", tc.domain)
		})
	}
}

// TestLookup resolves sample hosts on the longest suffix, as the gateway
// does.
func TestLookup(t *testing.T) {
	c := decodeBuiltin(t)
	for _, tc := range []struct {
		host   string
		want   []string // platform ids; nil: not social media
		bypass bool
	}{
		{"t.co", []string{"x"}, false},
		{"pbs.twimg.com", []string{"x"}, false},
		{"twitter.com", []string{"x"}, false},
		{"redd.it", []string{"reddit"}, false},
		{"i.redd.it", []string{"reddit"}, false},
		{"youtu.be", []string{"youtube"}, false},
		{"rr3---sn-abc.googlevideo.com", []string{"youtube"}, false},
		{"m.facebook.com", []string{"facebook"}, false},
		{"www.messenger.com", []string{"facebook"}, false},
		{"notfacebook.com", nil, false},
		{"scontent-iad3-1.xx.fbcdn.net", []string{"facebook", "instagram", "threads"}, false},
		{"scontent.cdninstagram.com", []string{"instagram", "threads"}, false},
		{"www.threads.com", []string{"threads"}, false},
		{"web.whatsapp.com", []string{"whatsapp"}, false},
		{"v16m.tiktokcdn-us.com", []string{"tiktok"}, false},
		{"p16-sign.ibyteimg.com", []string{"capcut", "lemon8", "tiktok"}, false},
		{"mp.weixin.qq.com", []string{"wechat"}, false},
		{"mmbiz.qpic.cn", []string{"wechat"}, false},
		{"www.qq.com", nil, false},
		{"news.ycombinator.com", []string{"hacker-news"}, false},
		{"www.ycombinator.com", nil, false},
		{"en.wikipedia.org", nil, false},
		{"www.google.com", nil, false},
		{"fonts.gstatic.com", nil, false},
		{"lh3.googleusercontent.com", nil, false},
		{"yt3.googleusercontent.com", []string{"youtube"}, false},
		{"dns.google", nil, true},
		{"mozilla.cloudflare-dns.com", nil, true},
		{"www.cloudflare.com", nil, false},
		{"abc123.dns.nextdns.io", nil, true},
		{"mask.icloud.com", nil, true},
		{"www.icloud.com", nil, false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			got, bypass := lookup(c, tc.host)
			if bypass != tc.bypass || !slices.Equal(got, tc.want) {
				t.Errorf("lookup(%q) = %v, bypass %v; want %v, bypass %v", tc.host, got, bypass, tc.want, tc.bypass)
			}
		})
	}
}

// TestNoGenericDomains checks that the catalogue never lists, or lists a
// parent of, a domain that serves much more than one platform.
func TestNoGenericDomains(t *testing.T) {
	c := decodeBuiltin(t)
	generic := []string{
		"google.com", "googleapis.com", "gstatic.com", "googleusercontent.com",
		"ggpht.com", "amazonaws.com", "cloudfront.net", "akamaihd.net",
		"akamaized.net", "akamaiedge.net", "edgesuite.net", "fastly.net",
		"cloudflare.com", "cloudflare.net", "azureedge.net", "qq.com",
		"qpic.cn", "qlogo.cn", "wp.com", "wordpress.org", "wikipedia.org",
		"wikimedia.org", "apple.com", "icloud.com", "microsoft.com",
	}
	for _, p := range c.Platforms {
		for _, d := range allDomains(p) {
			for _, g := range generic {
				if under(g, d) {
					t.Errorf("platform %q lists %q, which covers the generic domain %q", p.ID, d, g)
				}
			}
		}
	}
	for _, d := range c.BypassDomains {
		for _, g := range generic {
			if under(g, d) {
				t.Errorf("bypass domain %q covers the generic domain %q", d, g)
			}
		}
	}
}

// TestASNs checks that an ASN belongs to one platform only and that no
// shared cloud or CDN network is listed.
func TestASNs(t *testing.T) {
	c := decodeBuiltin(t)
	shared := map[uint32]string{
		15169: "Google", 396982: "Google Cloud", 36040: "Google (YouTube)",
		16509: "Amazon", 14618: "Amazon", 20940: "Akamai", 16625: "Akamai",
		13335: "Cloudflare", 54113: "Fastly", 8075: "Microsoft",
		45090: "Tencent Cloud", 132203: "Tencent Cloud", 37963: "Alibaba Cloud",
		45102: "Alibaba Cloud",
	}
	owner := map[uint32]string{}
	for _, p := range c.Platforms {
		for _, a := range p.ASNs {
			if name, ok := shared[a]; ok {
				t.Errorf("platform %q lists AS%d, a shared %s network", p.ID, a, name)
			}
			if o, dup := owner[a]; dup {
				t.Errorf("AS%d is listed by both %q and %q", a, o, p.ID)
			}
			owner[a] = p.ID
		}
	}
	for _, tc := range []struct {
		id  string
		asn uint32
	}{
		{"facebook", 32934},
		{"x", 13414},
		{"x", 35995},
		{"tiktok", 138699},
		{"linkedin", 14413},
	} {
		if owner[tc.asn] != tc.id {
			t.Errorf("AS%d is listed by %q, want %q", tc.asn, owner[tc.asn], tc.id)
		}
	}
}

func TestBypassDomains(t *testing.T) {
	c := decodeBuiltin(t)
	for _, want := range []string{"dns.google", "cloudflare-dns.com"} {
		if !slices.Contains(c.BypassDomains, want) {
			t.Errorf("bypass_domains lacks %q", want)
		}
	}
	seen := map[string]bool{}
	for _, d := range c.BypassDomains {
		if !validDomain(d) {
			t.Errorf("invalid bypass domain %q", d)
		}
		if seen[d] {
			t.Errorf("bypass domain %q is listed twice", d)
		}
		seen[d] = true
		for _, p := range c.Platforms {
			for _, pd := range allDomains(p) {
				if under(d, pd) || under(pd, d) {
					t.Errorf("bypass domain %q overlaps %q of platform %q", d, pd, p.ID)
				}
			}
		}
	}
}

// TestWikipediaNotListed guards the deliberate exclusion of Wikipedia.
func TestWikipediaNotListed(t *testing.T) {
	c := decodeBuiltin(t)
	for _, host := range []string{"en.wikipedia.org", "wikipedia.org", "commons.wikimedia.org", "www.wikidata.org"} {
		if ids, _ := lookup(c, host); ids != nil {
			t.Errorf("%s is matched to %v; Wikipedia must not be in the catalogue", host, ids)
		}
	}
}
