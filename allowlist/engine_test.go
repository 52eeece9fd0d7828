package allowlist

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSuspensionSurvivesRestart(t *testing.T) {
	path := copyTestdata(t, nil)
	opts := EngineOptions{Now: func() time.Time { return monday10 }}
	e, err := NewEngine(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Suspend(ScopeAgency, "DCF", "breach under investigation", "security-unit")
	if err != nil {
		t.Fatal(err)
	}
	if s.At.IsZero() || s.By != "security-unit" {
		t.Errorf("suspension = %+v", s)
	}
	// A crash mid-write leaves at most a temporary file; it is ignored.
	tmp := filepath.Join(filepath.Dir(path), "var", ".suspensions.json.tmp123")
	if err := os.WriteFile(tmp, []byte(`{"version":1,"suspensions":[{"scope":"agen`), 0o600); err != nil {
		t.Fatal(err)
	}
	e2, err := NewEngine(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := e2.Suspensions()
	if len(got) != 1 || got[0].ID != "DCF" || got[0].Reason != "breach under investigation" {
		t.Fatalf("after restart: %+v", got)
	}
	d := e2.Snapshot().Decide(&Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10})
	if d.Reason != ReasonAgencySuspended {
		t.Fatalf("after restart: %+v", d)
	}
}

func TestDamagedSuspensionsRefuseToStart(t *testing.T) {
	path := copyTestdata(t, nil)
	dir := filepath.Join(filepath.Dir(path), "var")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "suspensions.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewEngine(path, EngineOptions{}); err == nil || !strings.Contains(err.Error(), "suspensions.json") {
		t.Fatalf("NewEngine with a damaged suspensions file: %v", err)
	}
}

func TestSuspendErrors(t *testing.T) {
	e := newTestEngine(t, nil)
	if _, err := e.Suspend(ScopeAgency, "NOPE", "r", "me"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown agency: %v", err)
	}
	if _, err := e.Suspend(ScopePlatform, "facebook", "", "me"); err == nil {
		t.Error("suspension without reason accepted")
	}
	if _, err := e.Suspend(ScopePlatform, "facebook", "r", "me"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Suspend(ScopePlatform, "facebook", "again", "me"); !errors.Is(err, ErrAlreadySuspended) {
		t.Errorf("second suspension: %v", err)
	}
	if _, err := e.Reinstate(ScopeAccount, "dcf-facebook", "me"); !errors.Is(err, ErrNotSuspended) {
		t.Errorf("reinstating what is not suspended: %v", err)
	}
	if _, err := ParseScope("galaxy"); err == nil {
		t.Error("ParseScope accepted an unknown scope")
	}
}

func TestSuspendFailsWhenItCannotPersist(t *testing.T) {
	e := newTestEngine(t, nil)
	// data_dir is a file: the suspension cannot be written, so it must not take effect.
	if err := os.WriteFile(e.dataDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Suspend(ScopeAgency, "DCF", "r", "me"); err == nil {
		t.Fatal("Suspend succeeded without persisting")
	}
	if len(e.Suspensions()) != 0 {
		t.Fatal("an unpersisted suspension took effect")
	}
}

// TestConcurrentDecideDuringSwaps runs decisions while reloads and
// suspensions swap the snapshot; with -race it proves the swap is safe, and
// every decision sees one whole policy.
func TestConcurrentDecideDuringSwaps(t *testing.T) {
	e := newTestEngine(t, nil)
	var swaps int
	var mu sync.Mutex
	e.OnSwap(func(*Snapshot) { mu.Lock(); swaps++; mu.Unlock() })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Request{ClientIP: ip("10.20.0.16"), Host: "facebook.com", Port: 443, Time: monday10}
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := e.Snapshot().Decide(&r)
				if d.Reason != ReasonAllowedGrant && d.Reason != ReasonAgencySuspended {
					t.Errorf("decision during swaps: %+v", d)
					return
				}
			}
		}()
	}
	for range 20 {
		if _, err := e.Reload(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Suspend(ScopeAgency, "DCF", "drill", "me"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Reinstate(ScopeAgency, "DCF", "me"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if swaps != 60 {
		t.Errorf("OnSwap called %d times, want 60", swaps)
	}
}

func TestReloadKeepsLastGood(t *testing.T) {
	e := newTestEngine(t, nil)
	good := e.Snapshot()
	reg := filepath.Join(filepath.Dir(e.path), "registry.toml")
	if err := os.WriteFile(reg, []byte("[[account]]\nid = \"x\"\nplatform = \"myspace\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reload(); err == nil {
		t.Fatal("reload of a broken registry succeeded")
	}
	if e.Snapshot() != good {
		t.Fatal("a failed reload replaced the snapshot")
	}
	st := e.Status()
	if !strings.Contains(st.LastError, `unknown platform "myspace"`) || st.Failures != 1 {
		t.Fatalf("status = %+v", st)
	}
}
