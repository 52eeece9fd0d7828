// Package geoiptest writes small MaxMind-format databases for tests, with
// github.com/maxmind/mmdbwriter, so that tests run the real reader on real
// files.
package geoiptest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteASN writes a GeoLite2-ASN database mapping each CIDR to its number
// and returns its path in a temporary directory of t.
func WriteASN(t testing.TB, nets map[string]uint32) string {
	t.Helper()
	return write(t, "GeoLite2-ASN", func(n uint32) mmdbtype.DataType {
		return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n)}
	}, nets)
}

// WriteCountry writes a GeoLite2-Country database mapping each CIDR to an
// ISO country code and returns its path.
func WriteCountry(t testing.TB, nets map[string]string) string {
	t.Helper()
	vals := make(map[string]string, len(nets))
	for k, v := range nets {
		vals[k] = v
	}
	return write(t, "GeoLite2-Country", func(code string) mmdbtype.DataType {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
	}, vals)
}

func write[V any](t testing.TB, kind string, value func(V) mmdbtype.DataType, nets map[string]V) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: kind, IncludeReservedNetworks: true, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, v := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, value(v)); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	path := filepath.Join(t.TempDir(), kind+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
