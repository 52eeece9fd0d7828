package allowlist

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Loaded is the result of Load: a validated configuration and policy, the
// snapshot compiled from them, and the warnings to show an operator.
type Loaded struct {
	Config   *Config
	Policy   *Policy
	Snapshot *Snapshot
	Warnings Problems
}

// Load reads the gateway file at path and the policy files it names,
// validates them and compiles a Snapshot without suspensions. The error is
// Problems, listing every problem found.
func Load(path string) (*Loaded, error) { return loadAt(path, time.Now(), nil) }

// LoadAt is Load with the clock for warnings (approvals expiring soon)
// given.
func LoadAt(path string, now time.Time) (*Loaded, error) { return loadAt(path, now, nil) }

func loadAt(path string, now time.Time, susp *suspensionSet) (*Loaded, error) {
	cfg, probs, policyKnown := loadConfig(path)
	if len(probs) > 0 && !policyKnown {
		return nil, probs
	}
	// With problems in the gateway file, the policy files it names are
	// still validated, so that one check lists every problem.
	p, pprobs, warns := loadPolicy(cfg, now)
	if probs = append(probs, pprobs...); len(probs) > 0 {
		return nil, probs
	}
	return &Loaded{Config: cfg, Policy: p, Snapshot: compile(cfg, p, susp, now), Warnings: warns}, nil
}

// EngineOptions configure an Engine.
type EngineOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives reloads and suspensions; the zero value discards.
	Logger zerolog.Logger
}

// Status is the state of the policy as the admin API shows it.
type Status struct {
	Generation  uint64    `json:"generation"`
	LoadedAt    time.Time `json:"loaded_at"`       // when the policy in force was loaded
	LastAttempt time.Time `json:"last_attempt"`    // last reload attempt
	LastError   string    `json:"last_error"`      // "" when the last attempt succeeded
	Failures    int       `json:"reload_failures"` // failed reloads since start
	Warnings    []string  `json:"warnings"`
	Mode        Mode      `json:"mode"`
	Suspensions int       `json:"suspensions"`
}

// Engine holds the policy in force: the current Snapshot, swapped
// atomically on reload and on every suspension change, and the
// suspensions persisted in data_dir.
type Engine struct {
	path string
	now  func() time.Time
	log  zerolog.Logger
	cur  atomic.Pointer[Snapshot]

	mu        sync.Mutex // serialises reloads and suspension changes
	dataDir   string     // fixed at start: suspensions stay where they were read
	susp      []Suspension
	status    Status
	listeners []func(*Snapshot)
}

// NewEngine loads the configuration at path, its policy files and the
// suspensions in its data_dir. It fails, naming every problem, when any of
// them cannot be loaded: a gateway without a policy does not start.
func NewEngine(path string, o EngineOptions) (*Engine, error) {
	e := &Engine{path: path, now: o.Now, log: o.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		if _, all := loadAt(path, e.now(), nil); all != nil {
			return nil, all // the gateway file's problems and the policy's
		}
		return nil, err
	}
	e.dataDir = cfg.Gateway.DataDir
	if e.susp, err = readSuspensions(e.dataDir); err != nil {
		return nil, err
	}
	l, err := loadAt(path, e.now(), newSuspensionSet(e.susp))
	if err != nil {
		return nil, err
	}
	e.cur.Store(l.Snapshot)
	e.status = Status{LoadedAt: l.Snapshot.loadedAt, LastAttempt: l.Snapshot.loadedAt, Warnings: problemStrings(l.Warnings)}
	return e, nil
}

func problemStrings(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Error()
	}
	return out
}

// Snapshot returns the policy in force. Load it once per request so that
// a request sees one policy.
func (e *Engine) Snapshot() *Snapshot { return e.cur.Load() }

// Config returns the gateway configuration in force.
func (e *Engine) Config() *Config { return e.cur.Load().cfg }

// OnSwap registers fn to be called, after the swap, with every new
// snapshot (reload or suspension change): front doors use it to re-decide
// open tunnels. fn must not block for long.
func (e *Engine) OnSwap(fn func(*Snapshot)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listeners = append(e.listeners, fn)
}

// swapLocked installs s and tells the listeners. e.mu must be held.
func (e *Engine) swapLocked(s *Snapshot) {
	e.cur.Store(s)
	for _, fn := range e.listeners {
		fn(s)
	}
}

// Reload loads the files again and swaps the new snapshot in. On error the
// snapshot in force stays, and the error (Problems) is returned and kept
// for Status.
func (e *Engine) Reload() (*Loaded, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	e.status.LastAttempt = now
	l, err := loadAt(e.path, now, newSuspensionSet(e.susp))
	if err != nil {
		e.status.LastError = err.Error()
		e.status.Failures++
		e.log.Error().Err(err).Msg("reload failed: keeping the last good policy")
		return nil, err
	}
	if l.Config.Gateway.DataDir != e.dataDir {
		l.Warnings = append(l.Warnings, &Problem{File: e.path, Key: "gateway.data_dir", Msg: "changes take effect on restart"})
	}
	e.status.LastError = ""
	e.status.LoadedAt = now
	e.status.Warnings = problemStrings(l.Warnings)
	e.swapLocked(l.Snapshot)
	e.log.Info().Uint64("generation", l.Snapshot.gen).Int("warnings", len(l.Warnings)).Msg("policy reloaded")
	return l, nil
}

// Status returns the state of the policy in force.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.status
	s := e.cur.Load()
	st.Generation, st.Mode, st.Suspensions = s.gen, s.cfg.Gateway.Mode, len(e.susp)
	st.Warnings = append([]string(nil), st.Warnings...)
	return st
}

// Suspensions returns the suspensions in force, oldest first.
func (e *Engine) Suspensions() []Suspension {
	return e.cur.Load().susp.list()
}

// Suspend suspends an agency, platform or account. The suspension is
// persisted before it takes effect, and it takes effect before Suspend
// returns. The target must exist in the policy in force.
func (e *Engine) Suspend(sc Scope, id, reason, by string) (Suspension, error) {
	if reason == "" {
		return Suspension{}, fmt.Errorf("a suspension needs a reason")
	}
	if by == "" {
		by = "unknown"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.cur.Load()
	if !cur.exists(sc, id) {
		return Suspension{}, fmt.Errorf("%s %q: %w", sc, id, ErrNotFound)
	}
	if old := cur.susp.scope(sc)[id]; old != nil {
		return *old, fmt.Errorf("%s %q: %w", sc, id, ErrAlreadySuspended)
	}
	s := Suspension{Scope: sc, ID: id, Reason: reason, By: by, At: e.now().UTC()}
	list := append(append([]Suspension(nil), e.susp...), s)
	if err := e.commitLocked(cur, list); err != nil {
		return Suspension{}, err
	}
	e.log.Warn().Str("scope", string(sc)).Str("id", id).Str("by", by).Str("reason", reason).Msg("suspended")
	return s, nil
}

// Reinstate lifts the suspension of an agency, platform or account and
// returns it.
func (e *Engine) Reinstate(sc Scope, id, by string) (Suspension, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.cur.Load()
	var list []Suspension
	var found *Suspension
	for i, s := range e.susp {
		if s.Scope == sc && s.ID == id {
			found = &e.susp[i]
			continue
		}
		list = append(list, s)
	}
	if found == nil {
		return Suspension{}, fmt.Errorf("%s %q: %w", sc, id, ErrNotSuspended)
	}
	old := *found
	if err := e.commitLocked(cur, list); err != nil {
		return Suspension{}, err
	}
	e.log.Warn().Str("scope", string(sc)).Str("id", id).Str("by", by).Msg("reinstated")
	return old, nil
}

// commitLocked persists list, then swaps in cur with it.
func (e *Engine) commitLocked(cur *Snapshot, list []Suspension) error {
	if err := writeSuspensions(e.dataDir, list); err != nil {
		return fmt.Errorf("persist suspensions: %w", err)
	}
	e.susp = list
	e.swapLocked(cur.withSuspensions(newSuspensionSet(list)))
	return nil
}

// exists reports whether the policy has the target of a suspension.
func (s *Snapshot) exists(sc Scope, id string) bool {
	switch sc {
	case ScopeAgency:
		_, ok := s.agencies[id]
		return ok
	case ScopePlatform:
		return s.platforms[id] != nil
	case ScopeAccount:
		return s.accounts[id] != nil
	}
	return false
}
