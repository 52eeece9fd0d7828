package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
)

const (
	unitPath       = "../../systemd/smgate.service"
	systemdGateway = "../../systemd/smgate.toml"
)

// TestSystemdGatewayFile: the gateway file shipped for the systemd layout
// passes check and serves, with the install notes' secrets in place (the
// paths moved into a temporary root, the listeners on free loopback ports).
func TestSystemdGatewayFile(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc", "smgate")
	if err := os.MkdirAll(etc, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"platforms.toml", "registry.toml", "directory.toml"} {
		copyFile(t, filepath.Join("..", "..", "configs", f), filepath.Join(etc, f))
	}
	for _, f := range []string{"admin.token", "log.key"} {
		if err := os.WriteFile(filepath.Join(etc, f), []byte(testToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(systemdGateway)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, p := range []struct{ old, new string }{
		{"/etc/smgate/", etc + "/"}, {"/var/lib/smgate", filepath.Join(root, "state")}, {"/var/log/smgate", filepath.Join(root, "logs")},
		{`"0.0.0.0:3128"`, `"127.0.0.1:0"`}, {`"0.0.0.0:53"`, `"127.0.0.1:0"`}, {`"127.0.0.1:8088"`, `"127.0.0.1:0"`},
	} {
		if !strings.Contains(s, p.old) {
			t.Fatalf("%s does not contain %q", systemdGateway, p.old)
		}
		s = strings.ReplaceAll(s, p.old, p.new)
	}
	path := filepath.Join(etc, "smgate.toml")
	if err := os.WriteFile(path, []byte(s), 0o640); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCmd(t, "", "check", "--config", path); code != 0 {
		t.Fatalf("check of systemd/smgate.toml: exit %d\n%s%s", code, out, errs)
	}
	g, _ := runGateway(t, path)
	if code, body := apiCall(t, g, http.MethodGet, "/api/v1/status", testToken, ""); code != http.StatusOK {
		t.Errorf("status with the installed token = %d %s", code, body)
	}
	if g.cfg.Logs.HMACKeyFile == "" || !strings.HasPrefix(g.cfg.Logs.Dir, root) || !strings.HasPrefix(g.cfg.Gateway.DataDir, root) {
		t.Errorf("logs %q key %q data %q: not the install layout", g.cfg.Logs.Dir, g.cfg.Logs.HMACKeyFile, g.cfg.Gateway.DataDir)
	}
}

// TestSystemdUnitMatchesLayout: the unit runs the binary on the gateway
// file of the install notes, may write its state and log directories,
// reloads with SIGHUP and notifies systemd.
func TestSystemdUnitMatchesLayout(t *testing.T) {
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	cfg, err := allowlist.LoadConfig(systemdGateway)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
		"ExecStart=/usr/local/bin/smgate serve --config /etc/smgate/smgate.toml",
		"ExecStartPre=/usr/local/bin/smgate check --config /etc/smgate/smgate.toml",
		"User=smgate", "AmbientCapabilities=CAP_NET_BIND_SERVICE\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
		"StateDirectory=smgate", "LogsDirectory=smgate", "ProtectSystem=strict",
		"ReadWritePaths=" + cfg.Gateway.DataDir + " " + cfg.Logs.Dir + "\n",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s lacks %q", unitPath, want)
		}
	}
	if strings.Contains(unit, "\nProcSubset=") {
		t.Errorf("%s sets ProcSubset=pid, which hides /proc/sys/net/core/somaxconn (listen backlog) and /proc/stat (process metrics)", unitPath)
	}
	if _, err := os.Stat("../../systemd/README.md"); err != nil || !strings.Contains(unit, "Documentation=https://github.com/smgate/smgate/blob/main/systemd/README.md") {
		t.Errorf("the unit's Documentation= does not point at systemd/README.md (%v)", err)
	}
}

// TestSystemdUnitExposure rates the unit with systemd-analyze where it is
// installed: an exposure above 2.0 fails.
func TestSystemdUnitExposure(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	out, err := exec.Command(sa, "security", "--offline=true", "--threshold=20", "--no-pager", unitPath).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security --offline=true --threshold=20 %s: %v\n%s", unitPath, err, out)
	}
	if !strings.Contains(string(out), "Overall exposure level") {
		t.Errorf("systemd-analyze printed no exposure level:\n%s", out)
	}
}
