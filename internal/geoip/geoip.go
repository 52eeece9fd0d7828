// Package geoip looks up the country and autonomous system of destination
// addresses in MaxMind-format databases (GeoLite2/GeoIP2 Country and ASN),
// for the catalogue's ASN matching of IP-literal destinations and for the
// destination.geo and destination.as fields of usage records.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/geoip2-golang"
)

// DB holds the optional country and ASN databases. A nil *DB, or one
// opened with both paths empty, answers nothing.
type DB struct {
	country *geoip2.Reader
	asn     *geoip2.Reader
}

// Open opens the databases named by countryPath and asnPath; an empty path
// leaves that lookup out. Each database must be of the kind its key says,
// so that a country file given as asn_db is refused at start rather than
// answering nothing for ever.
func Open(countryPath, asnPath string) (*DB, error) {
	db := &DB{}
	var err error
	if countryPath != "" {
		if db.country, err = openKind(countryPath, "geoip.country_db", "Country", "City", "Enterprise"); err != nil {
			return nil, err
		}
	}
	if asnPath != "" {
		if db.asn, err = openKind(asnPath, "geoip.asn_db", "ASN", "ISP"); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// openKind opens path and checks that its database type ends with one of
// kinds (GeoLite2-ASN, GeoIP2-City, ...).
func openKind(path, key string, kinds ...string) (*geoip2.Reader, error) {
	r, err := geoip2.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	t := r.Metadata().DatabaseType
	for _, k := range kinds {
		if len(t) >= len(k) && t[len(t)-len(k):] == k {
			return r, nil
		}
	}
	r.Close()
	return nil, fmt.Errorf("%s: %s is a %q database; want one of the %v kinds", key, path, t, kinds)
}

// Enabled reports whether any database is open.
func (db *DB) Enabled() bool { return db != nil && (db.country != nil || db.asn != nil) }

// HasASN reports whether the ASN database is open.
func (db *DB) HasASN() bool { return db != nil && db.asn != nil }

// ASN returns the autonomous system number of a, 0 when unknown.
func (db *DB) ASN(a netip.Addr) uint32 {
	if db == nil || db.asn == nil || !a.IsValid() {
		return 0
	}
	rec, err := db.asn.ASN(a.Unmap().AsSlice())
	if err != nil || rec == nil {
		return 0
	}
	return uint32(rec.AutonomousSystemNumber)
}

// Country returns the ISO 3166-1 alpha-2 code of the country of a, "" when
// unknown.
func (db *DB) Country(a netip.Addr) string {
	if db == nil || db.country == nil || !a.IsValid() {
		return ""
	}
	rec, err := db.country.Country(a.Unmap().AsSlice())
	if err != nil || rec == nil {
		return ""
	}
	return rec.Country.IsoCode
}

// Close closes the databases.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	var errs []error
	for _, r := range []*geoip2.Reader{db.country, db.asn} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}
