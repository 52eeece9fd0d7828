package allowlist

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// nyc is the test gateway's time zone.
var nyc = mustLoc("America/New_York")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

var (
	monday10   = time.Date(2026, 11, 23, 10, 0, 0, 0, nyc) // in office hours
	sunday10   = time.Date(2026, 11, 29, 10, 0, 0, 0, nyc) // outside every schedule
	sunday3am  = time.Date(2026, 11, 29, 3, 0, 0, 0, nyc)  // in the Sat 22:00-06:00 shift
	saturday21 = time.Date(2026, 11, 28, 21, 0, 0, 0, nyc) // before the shift
)

// copyTestdata copies the test policy into a fresh directory, applies
// edits (file name → contents) and returns the gateway file's path.
func copyTestdata(t *testing.T, edits map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"smgate.toml", "platforms.toml", "registry.toml", "directory.toml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := edits[f]; ok {
			b = []byte(e)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "smgate.toml")
}

func readTestdata(t *testing.T, f string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", f))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newTestEngine(t *testing.T, edits map[string]string) *Engine {
	t.Helper()
	e, err := NewEngine(copyTestdata(t, edits), EngineOptions{Now: func() time.Time { return monday10 }})
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }
