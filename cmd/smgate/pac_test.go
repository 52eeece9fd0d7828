package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pacRoutes evaluates a PAC file in node with the browser helpers it uses
// and returns FindProxyForURL's answer for each host.
func pacRoutes(t *testing.T, pac string, hosts ...string) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the PAC file is not evaluated")
	}
	script := pac + `
function isPlainHostName(h) { return h.indexOf(".") < 0; }
var out = [];
for (var i = 2; i < process.argv.length; i++) {
  var h = process.argv[i];
  out.push(FindProxyForURL("http://" + h + "/", h));
}
console.log(out.join("\n"));
`
	path := filepath.Join(t.TempDir(), "pac.js")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(node, append([]string{path}, hosts...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node could not run the PAC file: %v\n%s", err, b)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestPacCommand(t *testing.T) {
	code, out, errs := runCmd(t, "", "pac", "--config", "../../configs/smgate.toml")
	if code != 0 {
		t.Fatalf("pac: exit %d: %s", code, errs)
	}
	hosts := []string{"www.facebook.com", "example.org", "intranet", "157.240.1.35"}
	want := []string{"PROXY 127.0.0.1:3128", "PROXY 127.0.0.1:3128", "DIRECT", "PROXY 127.0.0.1:3128"}
	if got := pacRoutes(t, out, hosts...); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("default PAC routes %v as %v, want %v", hosts, got, want)
	}

	code, out, errs = runCmd(t, "", "pac", "--config", "../../configs/smgate.toml", "--only-social", "--proxy", "gw.agency.example:8080")
	if code != 0 {
		t.Fatalf("pac --only-social: exit %d: %s", code, errs)
	}
	hosts = []string{"www.facebook.com", "FaceBook.com.", "t.co", "example.org", "notfacebook.com", "intranet", "10.1.2.3", "dns.google"}
	p := "PROXY gw.agency.example:8080"
	want = []string{p, p, p, "DIRECT", "DIRECT", "DIRECT", p, p}
	if got := pacRoutes(t, out, hosts...); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("--only-social PAC routes %v as %v, want %v", hosts, got, want)
	}
}

// TestPacGatewayNameCannotBreakIt: a gateway name with JavaScript line
// terminators stays inside the PAC file's comment; a file that does not
// parse would send browsers DIRECT.
func TestPacGatewayNameCannotBreakIt(t *testing.T) {
	cfg := copyConfigs(t, "smgate.toml", `name = "gw-1"`, `name = "gw-1\u2028x = ;\u2029y = ;\nz = ;"`)
	code, out, errs := runCmd(t, "", "pac", "--config", cfg)
	if code != 0 {
		t.Fatalf("pac: exit %d: %s", code, errs)
	}
	if got := pacRoutes(t, out, "www.facebook.com"); len(got) != 1 || got[0] != "PROXY 127.0.0.1:3128" {
		t.Errorf("PAC with a hostile gateway name routes facebook as %v", got)
	}
}

func TestPacErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--proxy", "gw.example"}, 2, `invalid --proxy "gw.example"`},
		{[]string{"--proxy", ":8080"}, 2, `invalid --proxy ":8080"`},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--nope"}, 2, "nope"},
		{[]string{"--config", "missing.toml"}, 1, "missing.toml"},
	} {
		args := append([]string{"pac"}, tc.args...)
		if tc.args[0] != "--config" {
			args = append(args, "--config", "../../configs/smgate.toml")
		}
		code, _, errs := runCmd(t, "", args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("smgate %v: exit %d, stderr %q; want exit %d naming %q", args, code, errs, tc.code, tc.want)
		}
	}
	// A wildcard listen address, with or without its host, is none that
	// clients can use: "PROXY :3128" is no valid PAC answer.
	for _, listen := range []string{"0.0.0.0:3128", ":3128", "[::]:3128"} {
		path := copyConfigs(t, "smgate.toml", `listen = "127.0.0.1:3128"`, `listen = "`+listen+`"`)
		code, out, errs := runCmd(t, "", "pac", "--config", path)
		if code != 2 || !strings.Contains(errs, "every address") || !strings.Contains(errs, "--proxy HOST:PORT") || out != "" {
			t.Errorf("pac with proxy.listen %q: exit %d, stdout %q, stderr %q; want 2 asking for --proxy", listen, code, out, errs)
		}
		code, out, errs = runCmd(t, "", "pac", "--config", path, "--proxy", "gw1.agency.example:3128")
		if code != 0 || !strings.Contains(out, "PROXY gw1.agency.example:3128") {
			t.Errorf("pac with proxy.listen %q and --proxy: exit %d, stderr %q", listen, code, errs)
		}
	}
}

// TestServePAC fetches the PAC file from the proxy listener of a running
// gateway, as browsers configured with its address do.
func TestServePAC(t *testing.T) {
	g, _ := startServe(t)
	addr := g.ls.proxy.Addr().String()
	for _, path := range []string{"/proxy.pac", "/wpad.dat"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ns-proxy-autoconfig" {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := pacRoutes(t, string(body), "www.facebook.com"); got[0] != "PROXY "+addr {
			t.Errorf("GET %s: the PAC file sends www.facebook.com to %q, want PROXY %s", path, got[0], addr)
		}
	}
}
