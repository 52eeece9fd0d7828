package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestServePreflight: serve refuses a missing token file, a missing key
// file and a missing geoip database before it opens the usage log or binds
// a listener, so it never announces a listener it then abandons; the
// error is the one check prints.
func TestServePreflight(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []string
		want  string
	}{
		{"token missing", []string{`token_file = "admin.token"`, `token_file = "missing.token"`}, "admin.token_file: stat "},
		{"key missing", []string{`hmac_key_file = ""`, `hmac_key_file = "missing.key"`}, "logs.hmac_key_file: open "},
		{"geoip missing", []string{`country_db = ""`, `country_db = "missing.mmdb"`}, "geoip.country_db: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := adminConfig(t, true)
			editFile(t, path, tc.edits...)
			var buf bytes.Buffer
			err := serve(context.Background(), path, zerolog.New(&buf), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "(relative to ") {
				t.Fatalf("serve = %v, want an error containing %q and the gateway file", err, tc.want)
			}
			if log := buf.String(); strings.Contains(log, "listening") || strings.Contains(log, "serving") {
				t.Errorf("serve announced a front door before failing:\n%s", log)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "var", "logs")); !os.IsNotExist(err) {
				t.Errorf("serve opened the usage log before failing: stat = %v", err)
			}
		})
	}
}

// TestServeNamesListeners: the startup line names each listener's bound
// address, and a second serve on the same data_dir says that another
// gateway runs there.
func TestServeNamesListeners(t *testing.T) {
	path := adminConfig(t, true)
	var buf syncBuffer
	g, _ := runGatewayLog(t, path, zerolog.New(&buf))
	want := map[string]any{
		"proxy":   g.ls.proxy.Addr().String(),
		"dns_udp": g.ls.dnsUDP.LocalAddr().String(),
		"dns_tcp": g.ls.dnsTCP.Addr().String(),
		"admin":   g.ls.admin.Addr().String(),
	}
	var got any
	for _, l := range buf.lines(t) {
		if l["message"] == "gateway serving" {
			got = l["listen"]
		}
	}
	if m, ok := got.(map[string]any); !ok || len(m) != len(want) || fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("gateway serving: listen = %v, want %v", got, want)
	}
	err := serve(context.Background(), path, zerolog.Nop(), nil)
	if err == nil || !strings.Contains(err.Error(), "another smgate serve is running with this data_dir "+g.cfg.Gateway.DataDir) {
		t.Errorf("second serve on the same data_dir: %v", err)
	}
}
