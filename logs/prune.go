package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smgate/smgate/internal/atomicfile"
)

// AnchorFile is the name of the prune anchors in the state directory.
const AnchorFile = "logs.anchor"

// Anchor is the chain value at the end of a run of day files that prune
// deleted: the first kept file after the run links from it, so Verify
// still passes from the oldest kept day.
type Anchor struct {
	Day  string `json:"day"`  // last deleted day of the run, YYYY-MM-DD
	Head string `json:"head"` // chain value of its last record, hex
}

type anchorsDoc struct {
	Anchors []Anchor `json:"anchors"`
}

func readAnchors(stateDir string) ([]Anchor, error) {
	path := filepath.Join(stateDir, AnchorFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read anchors: %w", err)
	}
	var doc anchorsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read anchors %s: %w", path, err)
	}
	for _, a := range doc.Anchors {
		_, errDay := time.Parse(dayLayout, a.Day)
		if _, ok := parseSum([]byte(a.Head)); !ok || errDay != nil {
			return nil, fmt.Errorf("read anchors %s: bad anchor %q", path, a.Day)
		}
	}
	return doc.Anchors, nil
}

func writeAnchors(stateDir string, anchors []Anchor) error {
	b, err := json.MarshalIndent(anchorsDoc{Anchors: anchors}, "", "  ")
	if err != nil {
		return fmt.Errorf("write anchors: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(stateDir, AnchorFile), append(b, '\n'), 0o640)
}

// anchorBetween returns the chain value of the latest anchor dated after
// lo and before hi.
func anchorBetween(anchors []Anchor, lo, hi time.Time) (Sum, bool) {
	a, ok := latestAnchor(anchors, lo, hi)
	if !ok {
		return genesis, false
	}
	s, _ := parseSum([]byte(a.Head))
	return s, true
}

func latestAnchor(anchors []Anchor, lo, hi time.Time) (Anchor, bool) {
	var best Anchor
	var bestDay time.Time
	found := false
	for _, a := range anchors {
		t, _ := time.Parse(dayLayout, a.Day)
		if t.After(lo) && t.Before(hi) && (!found || t.After(bestDay)) {
			best, bestDay, found = a, t, true
		}
	}
	return best, found
}

// PruneOptions say what Prune deletes.
type PruneOptions struct {
	Dir, StateDir string
	HMACKey       []byte
	// RetentionDays keeps the day files of the last RetentionDays days
	// before today; it must be positive.
	RetentionDays int
	// Now is the clock for "today"; nil means time.Now.
	Now func() time.Time
	// Force deletes even when the files to delete fail verification (the
	// prune record says so). Held days are never deleted, forced or not.
	Force bool
	// DryRun only reports what would be deleted.
	DryRun bool
	// Writer records the prune; it must be open on Dir and StateDir. It
	// may be nil only with DryRun.
	Writer *Writer
	// By is who prunes, for the record.
	By string
}

// HeldFile is a day file old enough to delete that a hold keeps.
type HeldFile struct {
	File string
	Hold string // the id of the first hold that covers it
}

// PruneResult is what Prune deleted or would delete.
type PruneResult struct {
	// Deleted names the day files deleted (with DryRun, that would be),
	// oldest first: none when Prune stopped before deleting, only those
	// it deleted when it stopped part way.
	Deleted []string
	Held    []HeldFile
	// Unverified is the verification failure that Force overrode.
	Unverified error
}

// Prune deletes whole day files dated more than RetentionDays days before
// today, except the newest file (it holds the chain head) and any day a
// hold covers. Before deleting it verifies the files it deletes and saves
// anchors so that the kept files still verify; then it writes a prune
// record listing the deleted files.
func Prune(o PruneOptions) (PruneResult, error) {
	var res PruneResult
	if err := o.check(); err != nil {
		return res, err
	}
	holds, err := NewHoldStore(o.StateDir, nil).List()
	if err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	files, err := DayFiles(o.Dir)
	if err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	del := o.plan(files, holds, &res)
	if len(del) == 0 {
		return res, nil
	}
	if err := o.verify(del[len(del)-1], &res); err != nil {
		return res, err
	}
	if o.DryRun {
		for _, f := range del {
			res.Deleted = append(res.Deleted, f.Name)
		}
		return res, nil
	}
	return res, o.apply(files, del, &res)
}

func (o *PruneOptions) check() error {
	if o.RetentionDays <= 0 {
		return fmt.Errorf("prune: retention of %d days: must be positive", o.RetentionDays)
	}
	if o.Writer == nil && !o.DryRun {
		return errors.New("prune: no writer for the prune record")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// plan returns the files to delete, oldest first, and notes held ones.
func (o *PruneOptions) plan(files []DayFile, holds []Hold, res *PruneResult) []DayFile {
	cutoff := day(o.Now().UTC()).AddDate(0, 0, -o.RetentionDays)
	var del []DayFile
	for i, f := range files {
		if i == len(files)-1 || !f.Day.Before(cutoff) {
			break
		}
		if h, ok := held(holds, f.Day); ok {
			res.Held = append(res.Held, HeldFile{File: f.Name, Hold: h.ID})
			continue
		}
		del = append(del, f)
	}
	return del
}

// verify checks the chain up to the last file to delete, so that prune
// never launders a tampered file into an anchor unless forced.
func (o *PruneOptions) verify(last DayFile, res *PruneResult) error {
	_, err := Verify(VerifyOptions{Dir: o.Dir, StateDir: o.StateDir, HMACKey: o.HMACKey, Until: last.Day})
	var ve *VerifyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve) && o.Force:
		res.Unverified = err
		return nil
	case errors.As(err, &ve):
		return fmt.Errorf("prune: nothing deleted, the files to delete do not verify (force deletes anyway): %w", err)
	}
	return fmt.Errorf("prune: %w", err)
}

// apply saves the anchors, deletes the files newest first (so that what
// is left verifies at every step) and records the prune.
func (o *PruneOptions) apply(files, del []DayFile, res *PruneResult) error {
	old, err := readAnchors(o.StateDir)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	added, err := newAnchors(files, del, old)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	all := append(append([]Anchor(nil), old...), added...)
	if err := writeAnchors(o.StateDir, all); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	done, err := removeNewestFirst(o.Dir, del)
	res.Deleted = done
	if err == nil {
		err = writeAnchors(o.StateDir, neededAnchors(files, del, all))
	}
	return o.record(res, err)
}

// newAnchors returns, for each kept file right after a deleted one, the
// chain value its first line links from.
func newAnchors(files, del []DayFile, old []Anchor) ([]Anchor, error) {
	deleted := map[string]bool{}
	for _, f := range del {
		deleted[f.Name] = true
	}
	var out []Anchor
	for i := 1; i < len(files); i++ {
		if deleted[files[i].Name] || !deleted[files[i-1].Name] {
			continue
		}
		s, err := chainBefore(files, i, old)
		if err != nil {
			return nil, err
		}
		out = append(out, Anchor{Day: files[i-1].Day.Format(dayLayout), Head: s.String()})
	}
	return out, nil
}

// neededAnchors keeps, for each kept file, the latest anchor between it
// and the kept file before it.
func neededAnchors(files, del []DayFile, all []Anchor) []Anchor {
	deleted := map[string]bool{}
	for _, f := range del {
		deleted[f.Name] = true
	}
	var out []Anchor
	lo := time.Time{}
	for _, f := range files {
		if deleted[f.Name] {
			continue
		}
		if a, ok := latestAnchor(all, lo, f.Day); ok {
			out = append(out, a)
		}
		lo = f.Day
	}
	return out
}

// removeNewestFirst deletes del and returns the names deleted, oldest
// first.
func removeNewestFirst(dir string, del []DayFile) ([]string, error) {
	var err error
	n := len(del)
	for n > 0 {
		if err = os.Remove(del[n-1].Path); err != nil {
			err = fmt.Errorf("prune: %w", err)
			break
		}
		n--
	}
	var done []string
	for _, f := range del[n:] {
		done = append(done, f.Name)
	}
	if serr := atomicfile.SyncDir(dir); err == nil && serr != nil {
		err = fmt.Errorf("prune: %w", serr)
	}
	return done, err
}

// record writes the prune record and returns err, or the record's error.
func (o *PruneOptions) record(res *PruneResult, err error) error {
	r := &Record{Action: ActionPrune, Outcome: OutcomeSuccess, By: o.By, Target: "logs"}
	r.Message = fmt.Sprintf("deleted %d day files older than %d days: %s", len(res.Deleted),
		o.RetentionDays, strings.Join(res.Deleted, ", "))
	if len(res.Held) > 0 {
		var kept []string
		for _, h := range res.Held {
			kept = append(kept, h.File+" (hold "+h.Hold+")")
		}
		r.Message += "; kept for holds: " + strings.Join(kept, ", ")
	}
	if res.Unverified != nil {
		r.Message += "; forced although verification failed: " + res.Unverified.Error()
	}
	if err != nil {
		r.Outcome = OutcomeFailure
		r.Message += "; stopped: " + err.Error()
	}
	if lerr := o.Writer.Log(r); lerr != nil {
		return errors.Join(err, fmt.Errorf("prune: record: %w", lerr))
	}
	if ferr := o.Writer.Flush(); ferr != nil {
		return errors.Join(err, fmt.Errorf("prune: record: %w", ferr))
	}
	return err
}
