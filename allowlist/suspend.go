package allowlist

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/smgate/smgate/internal/atomicfile"
)

// Scope is what a suspension covers.
type Scope string

// Suspension scopes.
const (
	ScopeAgency   Scope = "agency"
	ScopePlatform Scope = "platform"
	ScopeAccount  Scope = "account"
)

// ParseScope returns the scope named s ("agency", "platform", "account"; a
// plural is accepted, as in the admin API paths).
func ParseScope(s string) (Scope, error) {
	switch s {
	case "agency", "agencies":
		return ScopeAgency, nil
	case "platform", "platforms":
		return ScopePlatform, nil
	case "account", "accounts":
		return ScopeAccount, nil
	}
	return "", fmt.Errorf("unknown suspension scope %q (want agency, platform or account)", s)
}

// Suspension is one suspension in force, ordered by the central security
// unit.
type Suspension struct {
	Scope  Scope     `json:"scope"`
	ID     string    `json:"id"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Errors of suspension changes.
var (
	ErrNotFound         = errors.New("not found")
	ErrAlreadySuspended = errors.New("already suspended")
	ErrNotSuspended     = errors.New("not suspended")
)

// suspensionSet is the immutable set of suspensions of a snapshot.
type suspensionSet struct {
	agencies, platforms, accounts map[string]*Suspension
}

func (ss *suspensionSet) scope(sc Scope) map[string]*Suspension {
	switch sc {
	case ScopeAgency:
		return ss.agencies
	case ScopePlatform:
		return ss.platforms
	}
	return ss.accounts
}

// list returns the suspensions ordered by time.
func (ss *suspensionSet) list() []Suspension {
	var out []Suspension
	for _, m := range []map[string]*Suspension{ss.agencies, ss.platforms, ss.accounts} {
		for _, s := range m {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Scope+":"+Scope(out[i].ID) < out[j].Scope+":"+Scope(out[j].ID)
	})
	return out
}

func newSuspensionSet(list []Suspension) *suspensionSet {
	ss := &suspensionSet{agencies: map[string]*Suspension{}, platforms: map[string]*Suspension{}, accounts: map[string]*Suspension{}}
	for i := range list {
		s := list[i]
		ss.scope(s.Scope)[s.ID] = &s
	}
	return ss
}

// suspensionFile is the on-disk form of the suspensions.
type suspensionFile struct {
	Version     int          `json:"version"`
	Suspensions []Suspension `json:"suspensions"`
}

// suspensionPath returns where the suspensions of dataDir live.
func suspensionPath(dataDir string) string { return filepath.Join(dataDir, "suspensions.json") }

// readSuspensions reads the suspensions of dataDir; a missing file means
// none. A damaged file is an error: the gateway does not start without
// knowing what the security unit suspended.
func readSuspensions(dataDir string) ([]Suspension, error) {
	path := suspensionPath(dataDir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read suspensions: %w", err)
	}
	var f suspensionFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read suspensions %s: %w", path, err)
	}
	for _, s := range f.Suspensions {
		if _, err := ParseScope(string(s.Scope)); err != nil || s.ID == "" {
			return nil, fmt.Errorf("read suspensions %s: bad entry %+v", path, s)
		}
	}
	return f.Suspensions, nil
}

// writeSuspensions persists list atomically in dataDir.
func writeSuspensions(dataDir string, list []Suspension) error {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if list == nil {
		list = []Suspension{}
	}
	b, err := json.MarshalIndent(suspensionFile{Version: 1, Suspensions: list}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode suspensions: %w", err)
	}
	return atomicfile.WriteFile(suspensionPath(dataDir), append(b, '\n'), 0o640)
}
