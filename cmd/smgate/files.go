package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/internal/geoip"
)

// checkFiles checks the files of cfg that serve reads besides the policy:
// admin.token_file and logs.hmac_key_file as serve reads them, and the
// geoip databases as serve opens them. errs are what serve refuses to
// start with; warns what it accepts but an operator should fix. Each names
// the key and the resolved path, and says what a relative path was
// resolved against.
func checkFiles(cfg *allowlist.Config) (errs, warns allowlist.Problems) {
	problem := func(key string, err error) *allowlist.Problem {
		msg := err.Error()
		if cfg.Relative(key) {
			msg += fmt.Sprintf(" (relative to %s)", cfg.Path)
		}
		return &allowlist.Problem{File: cfg.Path, Line: cfg.Line(key), Key: key, Msg: msg}
	}
	if path := cfg.Admin.TokenFile; path != "" {
		if _, err := readSecret(path); err != nil {
			errs = append(errs, problem("admin.token_file", err))
		}
	}
	if path := cfg.Logs.HMACKeyFile; path != "" {
		if _, err := readKey(path); err != nil {
			errs = append(errs, problem("logs.hmac_key_file", err))
		} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			warns = append(warns, problem("logs.hmac_key_file", fmt.Errorf(
				"%s has mode %04o: whoever can read the key can recompute the keyed chain (chmod 0600)", path, fi.Mode().Perm())))
		}
	}
	for _, db := range []struct{ key, country, asn string }{
		{"geoip.country_db", cfg.GeoIP.CountryDB, ""},
		{"geoip.asn_db", "", cfg.GeoIP.ASNDB},
	} {
		if db.country == "" && db.asn == "" {
			continue
		}
		g, err := geoip.Open(db.country, db.asn)
		if err != nil {
			// geoip names the key itself; the problem names it once.
			errs = append(errs, problem(db.key, errors.New(strings.TrimPrefix(err.Error(), db.key+": "))))
			continue
		}
		g.Close()
	}
	return errs, warns
}

// preflight checks what serve refuses to start with beyond the policy
// (validate, which smgate check runs too) before anything is bound or
// started, so that a gateway that cannot start says so before it
// announces a listener. Warnings are logged.
func preflight(cfg *allowlist.Config, log zerolog.Logger) error {
	errs, warns := validate(cfg)
	for _, w := range warns {
		log.Warn().Str("key", w.Key).Str("problem", w.Msg).Msg("configuration warning")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// readSecret reads a file that holds a secret: it must exist, be private
// to its owner (mode 0600 or 0400) and not be empty. It returns the
// trimmed contents; its errors name the path but no key.
func readSecret(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o: it must not be readable by group or others (chmod 0600)", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// readKey reads the usage log's HMAC key file as serve and logs verify
// do: it must exist and not be empty; its errors name the path but no key.
func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key := []byte(strings.TrimSpace(string(b)))
	if len(key) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return key, nil
}
