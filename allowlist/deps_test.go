package allowlist

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the decision engine free of the wire and of the
// log: allowlist knows nothing of HTTP, DNS, the proxy library or logs (as
// tailscale's tstest/deptest checks).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"net/http", "github.com/miekg/dns", "github.com/elazarl/goproxy", "github.com/smgate/smgate/logs", "github.com/smgate/smgate/proxy", "github.com/smgate/smgate/dnsfilter"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("allowlist depends on %s", dep)
			}
		}
	}
}
