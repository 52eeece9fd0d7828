package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// memSink keeps usage records in memory.
type memSink struct {
	mu   sync.Mutex
	recs []logs.Record
}

func (m *memSink) Log(r *logs.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, *r)
	return nil
}

func (m *memSink) Healthy() error { return nil }

func (m *memSink) records() []logs.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]logs.Record(nil), m.recs...)
}

// engineGateway returns a gateway with only an engine on a copy of
// configs/ and an in-memory usage log: no serve, so no other watcher.
func engineGateway(t *testing.T) (*gateway, *memSink, string) {
	t.Helper()
	path := adminConfig(t, false)
	e, err := allowlist.NewEngine(path, allowlist.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	return &gateway{cfg: e.Config(), engine: e, sink: sink, log: zerolog.Nop(), reg: prometheus.NewRegistry()}, sink, filepath.Dir(path)
}

// TestWatcherDebounces: a change is reloaded once the files were quiet
// for one poll; a broken file keeps the policy and is not retried until
// it changes again.
func TestWatcherDebounces(t *testing.T) {
	g, sink, dir := engineGateway(t)
	w := newWatcher(g, time.Hour)
	gen := g.engine.Snapshot().Gen()

	editFile(t, filepath.Join(dir, "directory.toml"), `accounts = ["dot-youtube", "dot-facebook"]`, `accounts = ["dot-youtube", "dot-facebook"]`+"\nplatforms = [\"instagram\"]")
	w.tick()
	if g.engine.Snapshot().Gen() != gen {
		t.Fatal("reloaded on the poll that saw the change, before the files were quiet")
	}
	w.tick()
	if g.engine.Snapshot().Gen() == gen {
		t.Fatal("no reload after the files were quiet for one poll")
	}
	if d := decideTLee(g, "www.instagram.com"); !d.Allow {
		t.Errorf("grant added to the file is not in force: %+v", d)
	}

	good := g.engine.Snapshot()
	if err := os.WriteFile(filepath.Join(dir, "registry.toml"), []byte("[[account]]\nid = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.tick()
	w.tick()
	w.tick()
	if g.engine.Snapshot() != good {
		t.Error("a broken registry replaced the policy")
	}
	if st := g.engine.Status(); st.Failures != 1 || st.LastError == "" {
		t.Errorf("status after a broken file: failures %d, last error %q; want one failure", st.Failures, st.LastError)
	}
	var outcomes []string
	for _, r := range sink.records() {
		if r.By != watchBy {
			t.Errorf("reload record by %q, want %q", r.By, watchBy)
		}
		outcomes = append(outcomes, r.Outcome)
	}
	if len(outcomes) != 2 || outcomes[0] != logs.OutcomeSuccess || outcomes[1] != logs.OutcomeFailure {
		t.Errorf("reload records: %v, want success then failure", outcomes)
	}
}

// TestWatcherSkipsWhatAReloadRead: an edit that an operator then reloads
// through the admin API (or SIGHUP) is not reloaded again by the watcher,
// which would log a second reload record; an edit after that one is.
func TestWatcherSkipsWhatAReloadRead(t *testing.T) {
	g, sink, dir := engineGateway(t)
	g.reloaded = new(atomic.Pointer[map[string]fileState])
	w := newWatcher(g, time.Hour)
	path := filepath.Join(dir, "directory.toml")
	editFile(t, path, `accounts = ["dot-youtube", "dot-facebook"]`, `accounts = ["dot-youtube", "dot-facebook"]`+"\nplatforms = [\"instagram\"]")
	w.tick() // sees the change
	if _, err := reload(g, "admin api"); err != nil {
		t.Fatal(err)
	}
	w.tick() // quiet since: the files are as the reload read them
	w.tick()
	if n := len(sink.records()); n != 1 {
		t.Fatalf("%d reload records, want the operator's alone: %+v", n, sink.records())
	}
	editFile(t, path, `platforms = ["instagram"]`, `platforms = ["instagram", "x"]`)
	w.tick()
	w.tick()
	recs := sink.records()
	if len(recs) != 2 || recs[1].By != watchBy || recs[1].Outcome != logs.OutcomeSuccess {
		t.Errorf("reload records after a later edit: %+v", recs)
	}
}

func TestChangedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stat := func() map[string]fileState {
		fi, err := os.Stat(path)
		if err != nil {
			fi = nil
		}
		return map[string]fileState{path: {info: fi}}
	}
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		change func()
		want   bool
	}{
		{"nothing", func() {}, false},
		{"size", func() { write("bbbb"); _ = os.Chtimes(path, old, old) }, true},
		{"mtime", func() { _ = os.Chtimes(path, old.Add(time.Second), old.Add(time.Second)) }, true},
		{"renamed over, same size and mtime", func() {
			tmp := filepath.Join(dir, "tmp")
			_ = os.WriteFile(tmp, []byte("bbb"), 0o600)
			_ = os.Chtimes(tmp, old, old)
			_ = os.Rename(tmp, path)
		}, true},
		{"removed", func() { _ = os.Remove(path) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write("aaa")
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			before := stat()
			tc.change()
			if got := len(changedFiles(before, stat())) > 0; got != tc.want {
				t.Errorf("changed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestServeWatchesPolicyFiles: the watcher that serve starts reloads a
// changed policy file on its own.
func TestServeWatchesPolicyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for two polls of the file watcher")
	}
	path := adminConfig(t, false)
	g, _ := runGateway(t, path)
	gen := g.engine.Snapshot().Gen()
	editFile(t, filepath.Join(filepath.Dir(path), "directory.toml"), `accounts = ["dot-youtube", "dot-facebook"]`, `accounts = ["dot-youtube", "dot-facebook"]`+"\nplatforms = [\"instagram\"]")
	waitFor(t, 5*watchInterval, "reload after a policy file changed", func() bool { return g.engine.Snapshot().Gen() != gen })
	if d := decideTLee(g, "www.instagram.com"); !d.Allow {
		t.Errorf("after the watcher's reload: %+v", d)
	}
}

// TestWatcherStops: run returns when its context ends.
func TestWatcherStops(t *testing.T) {
	g, _, _ := engineGateway(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		newWatcher(g, time.Millisecond).run(ctx)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher did not stop")
	}
}

// TestWatcherFollowsFilesTheGatewayFileNames: when the gateway file is
// edited to name another policy file, and that file is broken, the reload
// fails; fixing that file then reloads, although the policy in force
// still names the old one.
func TestWatcherFollowsFilesTheGatewayFileNames(t *testing.T) {
	g, _, dir := engineGateway(t)
	w := newWatcher(g, time.Hour)
	gen := g.engine.Snapshot().Gen()
	good, err := os.ReadFile(filepath.Join(dir, "directory.toml"))
	if err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(dir, "directory-next.toml")
	if err := os.WriteFile(next, []byte("[[agency]]\nid = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	editFile(t, g.engine.Config().Path, `directory = "directory.toml"`, `directory = "directory-next.toml"`)
	w.tick()
	w.tick()
	if st := g.engine.Status(); st.Failures != 1 || g.engine.Snapshot().Gen() != gen {
		t.Fatalf("after naming a broken directory: %d failures, generation %d (was %d); want one failure and the old policy",
			st.Failures, g.engine.Snapshot().Gen(), gen)
	}

	if err := os.WriteFile(next, good, 0o600); err != nil {
		t.Fatal(err)
	}
	w.tick()
	w.tick()
	if got := g.engine.Config().Policy.Directory; got != next {
		t.Errorf("after fixing %s: the policy in force names %s, want the fixed file reloaded", next, got)
	}
	if st := g.engine.Status(); st.LastError != "" {
		t.Errorf("after fixing %s: last error %q", next, st.LastError)
	}
}
