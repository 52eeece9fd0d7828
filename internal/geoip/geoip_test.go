package geoip_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smgate/smgate/internal/geoip"
	"github.com/smgate/smgate/internal/geoip/geoiptest"
)

func TestLookups(t *testing.T) {
	asn := geoiptest.WriteASN(t, map[string]uint32{"157.240.0.0/16": 32934, "2a03:2880::/32": 32934})
	country := geoiptest.WriteCountry(t, map[string]string{"157.240.0.0/16": "US"})
	db, err := geoip.Open(country, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		ip      string
		asn     uint32
		country string
	}{
		{"157.240.1.35", 32934, "US"},
		{"::ffff:157.240.1.35", 32934, "US"},
		{"2a03:2880:f12f::1", 32934, ""},
		{"198.51.100.7", 0, ""},
	} {
		a := netip.MustParseAddr(tc.ip)
		if got := db.ASN(a); got != tc.asn {
			t.Errorf("ASN(%s) = %d, want %d", tc.ip, got, tc.asn)
		}
		if got := db.Country(a); got != tc.country {
			t.Errorf("Country(%s) = %q, want %q", tc.ip, got, tc.country)
		}
	}
	if !db.Enabled() || !db.HasASN() {
		t.Error("an opened database reports itself disabled")
	}
}

func TestNone(t *testing.T) {
	db, err := geoip.Open("", "")
	if err != nil {
		t.Fatal(err)
	}
	var nilDB *geoip.DB
	for _, d := range []*geoip.DB{db, nilDB} {
		if d.Enabled() || d.ASN(netip.MustParseAddr("157.240.1.35")) != 0 || d.Country(netip.MustParseAddr("157.240.1.35")) != "" {
			t.Error("no database answered something")
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	asn := geoiptest.WriteASN(t, map[string]uint32{"157.240.0.0/16": 32934})
	junk := filepath.Join(t.TempDir(), "junk.mmdb")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		country, asn string
		want         []string
	}{
		{asn, "", []string{"geoip.country_db", "GeoLite2-ASN"}},
		{"", junk, []string{"geoip.asn_db"}},
		{"", filepath.Join(t.TempDir(), "missing.mmdb"), []string{"geoip.asn_db", "missing.mmdb"}},
	} {
		_, err := geoip.Open(tc.country, tc.asn)
		if err == nil {
			t.Errorf("Open(%q, %q) succeeded", tc.country, tc.asn)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%q, %q): %v; want it to name %q", tc.country, tc.asn, err, w)
			}
		}
	}
}
