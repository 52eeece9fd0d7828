package main

import (
	"context"
	"os"
	"slices"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// watchInterval is how often serve looks at the policy files.
const watchInterval = 2 * time.Second

// watchBy is smgate.by of the reloads the watcher makes.
const watchBy = "file watcher"

// watcher reloads the policy when the gateway file or a policy file it
// names changes. It polls size, modification time and file identity
// (inode), so that an edit in place and an atomic rename are both seen,
// without a dependency. A change is acted on once the files have been
// quiet for one interval, so that an editor's or a deploy's several
// writes make one reload.
type watcher struct {
	g        *gateway
	interval time.Duration
	last     map[string]fileState
	pending  []string // files changed since the last reload
}

// fileState is what the watcher compares; a missing file has a nil info.
type fileState struct {
	info os.FileInfo
}

// newWatcher takes the files' first state at once, not in run's
// goroutine, so that a change made right after serve is up is seen.
func newWatcher(g *gateway, interval time.Duration) *watcher {
	w := &watcher{g: g, interval: interval}
	w.last = w.scan()
	return w
}

// run polls until ctx ends.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.tick()
		}
	}
}

// tick compares the files with the last poll, and reloads once changed
// files have stayed unchanged for one interval.
func (w *watcher) tick() {
	cur := w.scan()
	changed := changedFiles(w.last, cur)
	w.last = cur
	if len(changed) > 0 {
		w.pending = append(w.pending, changed...)
		return
	}
	if len(w.pending) == 0 {
		return
	}
	files := w.pending
	w.pending = nil
	if w.g.reloadedAsIs(cur) {
		// A reload through the admin API or SIGHUP after the edit has
		// read the files as they are now: another would come to the same
		// and only log a second reload record.
		return
	}
	w.g.log.Info().Strs("files", files).Msg("policy files changed; reloading")
	if _, err := reload(w.g, watchBy); err == nil {
		w.last = w.scan() // the reload may name other policy files
	}
}

func (w *watcher) scan() map[string]fileState { return scanFiles(policyPaths(w.g)) }

// reloadedAsIs reports whether the last reload read the policy files in
// the state cur.
func (g *gateway) reloadedAsIs(cur map[string]fileState) bool {
	if g.reloaded == nil {
		return false
	}
	r := g.reloaded.Load()
	return r != nil && len(changedFiles(*r, cur)) == 0
}

// policyPaths returns the gateway file and the policy files of the config
// in force, and those the gateway file names as it is now: after an edit
// that names another policy file, and a reload that failed on it, fixing
// that file must reload too, although the config in force does not name
// it.
func policyPaths(g *gateway) []string {
	cfg := g.engine.Config()
	var out []string
	add := func(c *allowlist.Config) {
		for _, p := range []string{c.Path, c.Policy.Platforms, c.Policy.Registry, c.Policy.Directory} {
			if p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	add(cfg)
	if now, _ := allowlist.DecodeConfig(cfg.Path); now != nil {
		add(now) // as far as it decodes: a broken key elsewhere still names the files
	}
	return out
}

// scanFiles returns the state of each of paths.
func scanFiles(paths []string) map[string]fileState {
	out := map[string]fileState{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			fi = nil
		}
		out[p] = fileState{info: fi}
	}
	return out
}

// changedFiles returns the files whose state differs between a and b.
func changedFiles(a, b map[string]fileState) []string {
	var out []string
	for p, s := range b {
		if old, ok := a[p]; !ok || !old.same(s) {
			out = append(out, p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// same reports whether s and t describe the same file content as far as
// a stat tells: existence, size, modification time and identity.
func (s fileState) same(t fileState) bool {
	if s.info == nil || t.info == nil {
		return s.info == nil && t.info == nil
	}
	return s.info.Size() == t.info.Size() && s.info.ModTime().Equal(t.info.ModTime()) && os.SameFile(s.info, t.info)
}
