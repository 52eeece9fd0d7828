package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smgate/smgate/internal/atomicfile"
)

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

	beforeDelete func() // tests: runs after the files are checked, before the holds lock is taken
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
// hold covers. Before deleting it verifies the files it deletes, and the
// kept file after them, and saves anchors binding each deleted run to the
// chain on both sides, so that the kept files still verify and a kept
// file cannot lose its end or vanish unnoticed; it checks that the kept
// files verify with those anchors. Then it writes a prune record listing
// the deleted files.
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
	old, err := o.cleanAnchors(files)
	if err != nil {
		return res, err
	}
	del, err := o.plan(files, holds, &res)
	if err != nil {
		return res, err
	}
	if len(del) == 0 {
		return res, nil
	}
	// The newest file is never deleted: a kept file follows the last.
	until := files[len(files)-1].Day
	for _, f := range files {
		if f.Day.After(del[len(del)-1].Day) {
			until = f.Day
			break
		}
	}
	if err := o.verify(until, &res); err != nil {
		return res, err
	}
	all, need, err := o.anchors(files, del, old, until, res.Unverified == nil)
	if err != nil {
		return res, err
	}
	if o.DryRun {
		for _, f := range del {
			res.Deleted = append(res.Deleted, f.Name)
		}
		return res, nil
	}
	// A hold placed while the files were checked must still keep its
	// days: the holds are read again under the lock that saving one
	// takes, and kept until the files are gone.
	if o.beforeDelete != nil {
		o.beforeDelete()
	}
	unlock, err := lockHolds(o.StateDir)
	if err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	defer unlock()
	if holds, err = NewHoldStore(o.StateDir, nil).List(); err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	for _, f := range del {
		h, ok, err := keeps(holds, f)
		if err != nil {
			return res, fmt.Errorf("prune: %w", err)
		}
		if ok {
			return res, fmt.Errorf("prune: hold %s, placed while the files were checked, covers %s: nothing deleted; prune again", h.ID, f.Name)
		}
	}
	return res, o.apply(del, all, need, &res)
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
func (o *PruneOptions) plan(files []DayFile, holds []Hold, res *PruneResult) ([]DayFile, error) {
	cutoff := day(o.Now().UTC()).AddDate(0, 0, -o.RetentionDays)
	var del []DayFile
	for i, f := range files {
		if i == len(files)-1 || !f.Day.Before(cutoff) {
			break
		}
		h, ok, err := keeps(holds, f)
		if err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
		if ok {
			res.Held = append(res.Held, HeldFile{File: f.Name, Hold: h.ID})
			continue
		}
		del = append(del, f)
	}
	return del, nil
}

// keeps returns the first hold that keeps day file f: one that covers its
// day, or the day of a record filed in it late (the writer files a record
// stamped before the current day, such as a tunnel logged when it closes
// and stamped when it opened, in the current day's file; see lateSlack).
func keeps(holds []Hold, f DayFile) (Hold, bool, error) {
	if h, ok := held(holds, f.Day); ok {
		return h, true, nil
	}
	// A record is filed at most lateSlack after its time, so only one
	// stamped on the day before f's can be in f: unless a hold covers
	// that day, the file need not be read.
	if _, ok := held(holds, f.Day.Add(-lateSlack)); !ok {
		return Hold{}, false, nil
	}
	file, err := os.Open(f.Path)
	if err != nil {
		return Hold{}, false, err
	}
	defer file.Close()
	lr := newLineReader(file)
	for {
		line, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			return Hold{}, false, nil
		}
		if err != nil {
			return Hold{}, false, fmt.Errorf("%s: %w", f.Name, err)
		}
		t, ok := lineTime(line)
		if !ok || !t.Before(f.Day) {
			continue // a damaged line has no known day: verify reports it
		}
		if h, ok := held(holds, t); ok {
			return h, true, nil
		}
	}
}

// lineTime returns the @timestamp of a usage-log line.
func lineTime(line []byte) (time.Time, bool) {
	if rest, ok := bytes.CutPrefix(line, []byte(timestampPrefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 {
			if t, err := time.Parse(timestampParse, string(rest[:i])); err == nil {
				return t, true
			}
		}
	}
	r, err := DecodeRecord(line)
	return r.Time, err == nil && !r.Time.IsZero()
}

// verify checks the chain up to the first kept file after the last file
// to delete (the anchors rely on its first line linking from their end),
// so that prune never launders a tampered file into an anchor unless
// forced.
func (o *PruneOptions) verify(until time.Time, res *PruneResult) error {
	_, err := Verify(o.verifyOptions(until))
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

func (o *PruneOptions) verifyOptions(until time.Time) VerifyOptions {
	return VerifyOptions{Dir: o.Dir, StateDir: o.StateDir, HMACKey: o.HMACKey, Until: until}
}

// cleanAnchors reads the anchors and leaves out those of a prune that was
// interrupted before its deletions were done (see stale), saving the rest
// unless DryRun. Serve prunes at start, so a crash is cleaned up at the
// next start.
func (o *PruneOptions) cleanAnchors(files []DayFile) ([]anchor, error) {
	old, err := readAnchors(filepath.Join(o.StateDir, AnchorFile))
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	kept, changed := stale(old, files)
	if changed && !o.DryRun {
		if err := writeAnchors(o.StateDir, kept); err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
	}
	return kept, nil
}

// anchors returns the anchors to save while deleting (old and one for
// each file deleted) and those to keep after (merged). With check it
// verifies the kept files, up to until, with the kept anchors before
// anything is deleted.
func (o *PruneOptions) anchors(files, del []DayFile, old []anchor, until time.Time, check bool) (all, need []anchor, err error) {
	// Prune builds on no anchor that verify cannot check, forced or not.
	if a, bad := uncheckable(old, files); bad {
		return nil, nil, fmt.Errorf("prune: nothing deleted: %w", uncheckableError(a))
	}
	added, err := newAnchors(o.HMACKey, files, del, old)
	if err != nil {
		return nil, nil, fmt.Errorf("prune: %w", err)
	}
	all = append(append([]anchor(nil), old...), added...)
	sortAnchors(all)
	kept := keptFiles(files, del)
	need = mergeAnchors(o.HMACKey, kept, all)
	if !check {
		return all, need, nil
	}
	if err := verifyWith(o.verifyOptions(until), kept, need); err != nil {
		return nil, nil, fmt.Errorf("prune: nothing deleted, the kept files would not verify with the anchors: %w", err)
	}
	return all, need, nil
}

// apply saves all the anchors, deletes the files newest first (so that
// what is left verifies at every step), keeps only the anchors needed and
// records the prune.
func (o *PruneOptions) apply(del []DayFile, all, need []anchor, res *PruneResult) error {
	if err := writeAnchors(o.StateDir, all); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	done, err := removeNewestFirst(o.Dir, del)
	res.Deleted = done
	if err == nil {
		err = writeAnchors(o.StateDir, need)
	}
	return o.record(res, err)
}

// newAnchors returns an anchor for each file to delete: from the chain
// value its first line links from to that of its last line. A forced
// prune may delete a run whose first record does not link from the chain
// before it (the kept file before it cut): what that record links from
// cannot be recovered from its chain value, so the run's anchor is
// marked unlinked, and the break stays where verify sees it.
func newAnchors(key []byte, files, del []DayFile, old []anchor) ([]anchor, error) {
	deleted := deletedSet(del)
	var out []anchor
	start := true // the next deleted file with a record starts a run
	for i, f := range files {
		if !deleted[f.Name] {
			start = true
			continue
		}
		from, err := chainBefore(files, i, old)
		if err != nil {
			return nil, err
		}
		unlinked := false
		if start {
			linked, has, err := firstLinks(key, f.Path, from)
			if err != nil {
				return nil, err
			}
			start, unlinked = !has, has && !linked
		}
		to, ok, err := lastSum(f.Path)
		if err != nil {
			return nil, err
		}
		if !ok {
			to = from // no record: the run goes on from where it was
		}
		out = append(out, newAnchor(key, f.Day, f.Day, from, to, unlinked))
	}
	return out, nil
}

// firstLinks reports whether the first line of a day file is a record
// that links from prev, and whether the file has a complete line.
func firstLinks(key []byte, path string, prev Sum) (linked, has bool, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, false, fmt.Errorf("read day file: %w", err)
	}
	defer fh.Close()
	line, complete, err := newLineReader(fh).next()
	switch {
	case errors.Is(err, io.EOF) || err == nil && !complete:
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("read day file %s: %w", path, err)
	}
	return newChain(key, prev).linksFrom(prev, line), true, nil
}

func deletedSet(del []DayFile) map[string]bool {
	m := make(map[string]bool, len(del))
	for _, f := range del {
		m[f.Name] = true
	}
	return m
}

// keptFiles returns files without del.
func keptFiles(files, del []DayFile) []DayFile {
	deleted := deletedSet(del)
	var out []DayFile
	for _, f := range files {
		if !deleted[f.Name] {
			out = append(out, f)
		}
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
	// The files are gone whatever becomes of the record: while the log
	// cannot be written (a full disk, when a prune is most needed) it is
	// queued and written once it can, rather than refused and lost.
	if lerr := o.Writer.LogAlways(r); lerr != nil {
		return errors.Join(err, fmt.Errorf("prune: record: %w", lerr))
	}
	if ferr := o.Writer.Flush(); ferr != nil {
		return errors.Join(err, fmt.Errorf("prune: record: %w", ferr))
	}
	return err
}
