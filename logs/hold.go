package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/smgate/smgate/internal/atomicfile"
)

// HoldsFile is the name of the litigation holds in the state directory.
const HoldsFile = "holds.json"

// Errors of HoldStore, checked with errors.Is.
var (
	ErrHoldExists  = errors.New("hold already exists")
	ErrHoldUnknown = errors.New("no such hold")
)

// Hold is a litigation hold: while it exists, prune deletes none of the
// day files it covers, nor a later one holding a record stamped on a day
// it covers (filed late: see lateSlack). Day files are per day, not per agency or user, so
// a hold with an agency or user filter still keeps the whole files of the
// days in its range; the filters say whose records the hold is for.
type Hold struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Agency string `json:"agency,omitempty"` // whose records; "" = all
	User   string `json:"user,omitempty"`   // whose records; "" = all
	// From and To are the first and last day held, inclusive (UTC dates);
	// a zero From holds every day before To, a zero To every day from
	// From, and both zero every day.
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Unrecorded is true while the usage record of the hold's placing is
	// not known to be durable: Place saves the hold so, and MarkRecorded
	// clears it once the record is fsynced. A hold in force but
	// unrecorded is shown as such, and placing it again records it.
	Unrecorded bool `json:"unrecorded,omitempty"`
}

// maxHoldIDLen bounds a hold id, which goes in URLs and log records.
const maxHoldIDLen = 128

// Covers reports whether the hold keeps the day file of the UTC day of t.
func (h Hold) Covers(t time.Time) bool {
	d := day(t.UTC())
	if !h.From.IsZero() && d.Before(day(h.From.UTC())) {
		return false
	}
	return h.To.IsZero() || !d.After(day(h.To.UTC()))
}

// Record returns the usage record of an action on the hold ("add" or
// "release") by whom. A hold of one agency names it in organization.id,
// as a suspension of an agency does, so that searching an agency's
// records finds its holds.
func (h Hold) Record(action, by string) *Record {
	var b strings.Builder
	fmt.Fprintf(&b, "%s hold %s: %s", action, h.ID, h.Reason)
	if h.Agency != "" {
		fmt.Fprintf(&b, "; agency %s", h.Agency)
	}
	if h.User != "" {
		fmt.Fprintf(&b, "; user %s", h.User)
	}
	fmt.Fprintf(&b, "; days %s", h.span())
	return &Record{Action: ActionHold, Outcome: OutcomeSuccess, Message: b.String(),
		By: by, Target: "hold:" + h.ID, Agency: h.Agency}
}

// Days renders the days held: "2025-01-01 to 2025-03-31",
// "2025-01-01 on (open-ended)", "up to 2025-03-31" or "all days
// (open-ended)".
func (h Hold) Days() string { return h.span() }

func (h Hold) span() string {
	switch {
	case h.From.IsZero() && h.To.IsZero():
		return "all days (open-ended)"
	case h.To.IsZero():
		return h.From.UTC().Format(dayLayout) + " on (open-ended)"
	case h.From.IsZero():
		return "up to " + h.To.UTC().Format(dayLayout)
	}
	return h.From.UTC().Format(dayLayout) + " to " + h.To.UTC().Format(dayLayout)
}

// SameTerms reports whether h and o hold the same records for the same
// reason: id, reason, agency, user and days (not who placed it or when).
func (h Hold) SameTerms(o Hold) bool {
	return h.ID == o.ID && h.Reason == o.Reason && h.Agency == o.Agency && h.User == o.User &&
		sameDay(h.From, o.From) && sameDay(h.To, o.To)
}

func sameDay(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return day(a.UTC()).Equal(day(b.UTC()))
}

// Validate returns what is wrong with h as a new hold: an id that is
// empty, too long, or has a slash or a control character, an empty
// reason, or a first day after the last.
func (h Hold) Validate() error {
	switch {
	case strings.TrimSpace(h.ID) == "":
		return errors.New("hold needs an id")
	case len(h.ID) > maxHoldIDLen:
		return fmt.Errorf("hold id is longer than %d bytes", maxHoldIDLen)
	case strings.ContainsFunc(h.ID, func(r rune) bool { return r == '/' || unicode.IsControl(r) }):
		return fmt.Errorf("hold id %q: no slash or control character", h.ID)
	case h.ID == "." || h.ID == "..":
		return fmt.Errorf("hold id %q: a path element, not an id", h.ID)
	case strings.TrimSpace(h.Reason) == "":
		return fmt.Errorf("hold %s needs a reason", h.ID)
	case strings.ContainsFunc(h.Reason, unicode.IsControl):
		return fmt.Errorf("hold %s: the reason holds a control character (a newline, an escape); write it on one line", h.ID)
	case strings.ContainsFunc(h.CreatedBy, unicode.IsControl):
		return fmt.Errorf("hold %s: by %q holds a control character", h.ID, h.CreatedBy)
	case !h.From.IsZero() && !h.To.IsZero() && h.To.Before(h.From):
		return fmt.Errorf("hold %s: from %s is after to %s", h.ID,
			h.From.Format(dayLayout), h.To.Format(dayLayout))
	}
	return nil
}

// HoldStore keeps the holds in StateDir/holds.json, rewritten atomically
// on each change. It is safe for concurrent use within one process; the
// usage-log lock (Open) keeps other processes out while changing.
type HoldStore struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// NewHoldStore returns the holds of stateDir; now stamps CreatedAt (nil
// means time.Now).
func NewHoldStore(stateDir string, now func() time.Time) *HoldStore {
	if now == nil {
		now = time.Now
	}
	return &HoldStore{path: filepath.Join(stateDir, HoldsFile), now: now}
}

type holdsDoc struct {
	Holds []Hold `json:"holds"`
}

// List returns the holds ordered by id. No file means no holds; an
// unreadable file is an error, so that prune never deletes on a guess.
func (s *HoldStore) List() ([]Hold, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listUnsynced()
}

func (s *HoldStore) listUnsynced() ([]Hold, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read holds: %w", err)
	}
	var doc holdsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read holds %s: %w", s.path, err)
	}
	sort.Slice(doc.Holds, func(i, j int) bool { return doc.Holds[i].ID < doc.Holds[j].ID })
	return doc.Holds, nil
}

func (s *HoldStore) saveUnsynced(holds []Hold) error {
	b, err := json.MarshalIndent(holdsDoc{Holds: holds}, "", "  ")
	if err != nil {
		return fmt.Errorf("write holds: %w", err)
	}
	return atomicfile.WriteFile(s.path, append(b, '\n'), 0o640)
}

// lock takes s.mu and the holds lock of the state directory, for a read,
// change and write of the holds that no other process or prune
// interleaves with; the caller runs the returned release.
func (s *HoldStore) lock() (func(), error) {
	s.mu.Lock()
	unlock, err := lockHolds(filepath.Dir(s.path))
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return func() { unlock(); s.mu.Unlock() }, nil
}

// holdsLockFile serialises changes to the holds with the deletions of a
// prune (see Prune), across processes and within one.
const holdsLockFile = "holds.lock"

// lockHolds takes the holds lock of stateDir, waiting for it, and returns
// its release. Every change of the holds holds it from its read to its
// write, so that two processes (serve's admin API and a CLI command) do
// not lose each other's holds; a prune holds it from its last look at the
// holds until its files are deleted, so a hold saved meanwhile waits for
// the deletions and a hold saved before is seen.
func lockHolds(stateDir string) (func(), error) {
	// Read-only and readable by all: flock needs no write access, so a
	// lock file that root created is usable by the service user.
	f, err := os.OpenFile(filepath.Join(stateDir, holdsLockFile), os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("holds lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("holds lock %s: %w", f.Name(), err)
	}
	return func() { _ = f.Close() }, nil // closing releases the lock
}

// Add saves h, stamping CreatedAt when zero, and returns it as saved. An
// id in use is ErrHoldExists.
func (s *HoldStore) Add(h Hold) (Hold, error) {
	if err := h.Validate(); err != nil {
		return h, err
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = s.now().UTC()
	}
	unlock, err := s.lock()
	if err != nil {
		return h, err
	}
	defer unlock()
	holds, err := s.listUnsynced()
	if err != nil {
		return h, err
	}
	for _, old := range holds {
		if old.ID == h.ID {
			return h, fmt.Errorf("add hold %s: %w", h.ID, ErrHoldExists)
		}
	}
	return h, s.saveUnsynced(append(holds, h))
}

// Place saves h as unrecorded (see Hold.Unrecorded), stamping CreatedAt
// when zero, and returns it with created true. When a hold with h's id
// and the same terms (SameTerms) exists already, Place changes nothing
// and returns that hold with created false, so that placing a hold again
// is harmless. An id in use for other terms is ErrHoldExists.
func (s *HoldStore) Place(h Hold) (saved Hold, created bool, err error) {
	if err := h.Validate(); err != nil {
		return h, false, err
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = s.now().UTC()
	}
	h.Unrecorded = true
	unlock, err := s.lock()
	if err != nil {
		return h, false, err
	}
	defer unlock()
	holds, err := s.listUnsynced()
	if err != nil {
		return h, false, err
	}
	for _, old := range holds {
		if old.ID != h.ID {
			continue
		}
		if old.SameTerms(h) {
			return old, false, nil
		}
		return old, false, fmt.Errorf("add hold %s: %w with other terms (%s)", h.ID, ErrHoldExists, old.terms())
	}
	return h, true, s.saveUnsynced(append(holds, h))
}

// terms renders what a hold holds, for error messages.
func (h Hold) terms() string {
	s := fmt.Sprintf("reason %q, days %s", h.Reason, h.span())
	if h.Agency != "" {
		s += ", agency " + h.Agency
	}
	if h.User != "" {
		s += ", user " + h.User
	}
	return s
}

// MarkRecorded clears Unrecorded of the hold id once the record of its
// placing is durable. An unknown id is ErrHoldUnknown.
func (s *HoldStore) MarkRecorded(id string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	holds, err := s.listUnsynced()
	if err != nil {
		return err
	}
	for i := range holds {
		if holds[i].ID == id {
			if !holds[i].Unrecorded {
				return nil
			}
			holds[i].Unrecorded = false
			return s.saveUnsynced(holds)
		}
	}
	return fmt.Errorf("mark hold %s recorded: %w", id, ErrHoldUnknown)
}

// Get returns the hold id. An unknown id is ErrHoldUnknown.
func (s *HoldStore) Get(id string) (Hold, error) {
	holds, err := s.List()
	if err != nil {
		return Hold{}, err
	}
	for _, h := range holds {
		if h.ID == id {
			return h, nil
		}
	}
	return Hold{}, fmt.Errorf("hold %s: %w", id, ErrHoldUnknown)
}

// Release deletes the hold id and returns it. An unknown id is
// ErrHoldUnknown.
func (s *HoldStore) Release(id string) (Hold, error) {
	unlock, err := s.lock()
	if err != nil {
		return Hold{}, err
	}
	defer unlock()
	holds, err := s.listUnsynced()
	if err != nil {
		return Hold{}, err
	}
	for i, h := range holds {
		if h.ID == id {
			return h, s.saveUnsynced(append(holds[:i:i], holds[i+1:]...))
		}
	}
	return Hold{}, fmt.Errorf("release hold %s: %w", id, ErrHoldUnknown)
}

// held returns the first hold that covers t's day.
func held(holds []Hold, t time.Time) (Hold, bool) {
	for _, h := range holds {
		if h.Covers(t) {
			return h, true
		}
	}
	return Hold{}, false
}
