package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/smgate/smgate/internal/atomicfile"
)

// AnchorFile is the name of the prune anchors in the state directory.
const AnchorFile = "logs.anchor"

// Anchor is a run of days whose files prune deleted, as saved in
// AnchorFile. It binds both ends of the run to the chain: From is the
// chain value the run continued from (the end of the last record before
// its first day, or genesis), Head the value at the end of its last
// record, which the first kept file after it links from. Verify, crossing
// the run, checks that the chain value it has reached is From before it
// takes Head, so the kept file before the run cannot lose its end or
// vanish unnoticed. Seal is H(sealTag || First || Day || From || Head)
// under the chain's key, so that whoever cannot compute the chain cannot
// alter an anchor either.
//
// Unlinked marks a run that a forced prune deleted although its first
// record did not link from From (the kept file before it cut, or the
// run's first file altered): what it did link from cannot be recovered
// from a chain value, so Verify fails there, as it did before the prune.
// It is sealed with the rest.
//
// An anchor written before From existed has only Day and Head; Verify
// takes it as given and says so, but only at the start of the log (see
// uncheckable).
type Anchor struct {
	First string `json:"first,omitempty"` // first day of the run, YYYY-MM-DD
	Day   string `json:"day"`             // last day of the run, YYYY-MM-DD
	From  string `json:"from,omitempty"`  // chain value before the run, hex
	Head  string `json:"head"`            // chain value at its end, hex
	Seal  string `json:"seal,omitempty"`  // hex
	// Unlinked: the run's first record did not link from From.
	Unlinked bool `json:"unlinked,omitempty"`
}

// sealTag starts what an anchor's seal is computed over, so that it is
// never the chain value of a record.
const sealTag = "smgate prune anchor v1\n"

// anchor is a parsed Anchor.
type anchor struct {
	first, last time.Time // first is zero for a legacy anchor
	from, to    Sum
	seal        Sum
	legacy      bool // written without From: taken as given
	unlinked    bool // the run's first record did not link from from
}

// newAnchor returns the sealed anchor of the days first to last.
func newAnchor(key []byte, first, last time.Time, from, to Sum, unlinked bool) anchor {
	a := anchor{first: first, last: last, from: from, to: to, unlinked: unlinked}
	a.seal = a.computeSeal(key)
	return a
}

// unlinkedTag ends what the seal of an Unlinked anchor is computed over;
// the other anchors keep the seal they had before it existed.
const unlinkedTag = "unlinked\n"

func (a anchor) computeSeal(key []byte) Sum {
	parts := [][]byte{[]byte(sealTag),
		[]byte(a.first.Format(dayLayout)), []byte(a.last.Format(dayLayout)), a.from[:], a.to[:]}
	if a.unlinked {
		parts = append(parts, []byte(unlinkedTag))
	}
	return newChain(key, genesis).next(parts...)
}

// sealed reports whether a's seal is its own under key.
func (a anchor) sealed(key []byte) bool { return a.seal == a.computeSeal(key) }

// days names a's run for messages.
func (a anchor) days() string {
	if a.legacy {
		return "days up to " + a.last.Format(dayLayout)
	}
	if a.first.Equal(a.last) {
		return a.last.Format(dayLayout)
	}
	return a.first.Format(dayLayout) + " to " + a.last.Format(dayLayout)
}

// covers reports whether a covers day d: a legacy anchor covers every
// day up to its last, as its first is not known.
func (a anchor) covers(d time.Time) bool {
	return !d.After(a.last) && (a.legacy || !d.Before(a.first))
}

func (a anchor) doc() Anchor {
	if a.legacy {
		return Anchor{Day: a.last.Format(dayLayout), Head: a.to.String()}
	}
	return Anchor{First: a.first.Format(dayLayout), Day: a.last.Format(dayLayout),
		From: a.from.String(), Head: a.to.String(), Seal: a.seal.String(), Unlinked: a.unlinked}
}

func parseAnchor(d Anchor) (anchor, error) {
	var a anchor
	var err error
	var ok bool
	if a.last, err = time.Parse(dayLayout, d.Day); err != nil {
		return a, errors.New("bad day")
	}
	if a.to, ok = parseSum([]byte(d.Head)); !ok {
		return a, errors.New("bad head")
	}
	if d.First == "" && d.From == "" && d.Seal == "" && !d.Unlinked {
		a.legacy = true
		return a, nil
	}
	if a.first, err = time.Parse(dayLayout, d.First); err != nil || a.first.After(a.last) {
		return a, errors.New("bad first day")
	}
	if a.from, ok = parseSum([]byte(d.From)); !ok {
		return a, errors.New("bad from")
	}
	if a.seal, ok = parseSum([]byte(d.Seal)); !ok {
		return a, errors.New("bad seal")
	}
	a.unlinked = d.Unlinked
	return a, nil
}

type anchorsDoc struct {
	Anchors []Anchor `json:"anchors"`
}

// readAnchors reads an anchor file, oldest run first; none when path does
// not exist. It checks the form, not the seals (Verify does).
func readAnchors(path string) ([]anchor, error) {
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
	out := make([]anchor, 0, len(doc.Anchors))
	for _, d := range doc.Anchors {
		a, err := parseAnchor(d)
		if err != nil {
			return nil, fmt.Errorf("read anchors %s: anchor %q: %w", path, d.Day, err)
		}
		out = append(out, a)
	}
	sortAnchors(out)
	return out, nil
}

func sortAnchors(as []anchor) {
	slices.SortStableFunc(as, func(a, b anchor) int { return a.last.Compare(b.last) })
}

func writeAnchors(stateDir string, anchors []anchor) error {
	doc := anchorsDoc{Anchors: []Anchor{}}
	for _, a := range anchors {
		doc.Anchors = append(doc.Anchors, a.doc())
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write anchors: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(stateDir, AnchorFile), append(b, '\n'), 0o640)
}

// anchorsIn returns the anchors whose run lies between the days lo and hi
// (lo zero: before hi), oldest first, starting at the latest legacy one:
// what a chain that reached the end of lo's file crosses to enter hi's.
func anchorsIn(anchors []anchor, lo, hi time.Time) []anchor {
	var in []anchor
	for _, a := range anchors {
		if !a.last.After(lo) || !a.last.Before(hi) || !a.legacy && !a.first.After(lo) {
			continue
		}
		if a.legacy {
			in = in[:0]
		}
		in = append(in, a)
	}
	return in
}

// stale returns anchors without the sealed ones whose run covers a day
// file that exists and without duplicates, and reports whether it left
// any out. Prune saves every anchor before it deletes a file, so a prune
// interrupted before its deletions were done leaves anchors for days
// still on disk. Left there, they would be added again by the next
// prune (which then failed for good: two anchors for one day do not
// link), and would stand in for their day file as soon as it was gone,
// deleted by hand although a hold placed since keeps it. While the file
// exists it is what verify walks, and the anchor is not needed. Legacy
// anchors are left to uncheckable: no prune of this version wrote them.
func stale(anchors []anchor, files []DayFile) ([]anchor, bool) {
	var out []anchor
	for _, a := range anchors {
		covers := func(f DayFile) bool { return !a.legacy && a.covers(f.Day) }
		if slices.ContainsFunc(files, covers) || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out, len(out) != len(anchors)
}

// uncheckable returns a legacy anchor that lies where no older smgate
// could have written it, if there is one. A legacy anchor has no seal and
// no From: anyone can write one, and verify takes its end as given. So one
// is accepted only in the earliest run of the log, before the first day
// file and before every sealed anchor: an older smgate pruned only from
// the start of the log, and a newer one seals what it prunes after. Any
// other (after a kept day, or after a sealed run) would let whoever can
// write the anchor file make a day file disappear without the key.
func uncheckable(anchors []anchor, files []DayFile) (anchor, bool) {
	var limit time.Time // the first day that a legacy anchor may not reach
	if len(files) > 0 {
		limit = files[0].Day
	}
	for _, a := range anchors {
		if !a.legacy && (limit.IsZero() || a.first.Before(limit)) {
			limit = a.first
		}
	}
	for _, a := range anchors {
		if a.legacy && !limit.IsZero() && !a.last.Before(limit) {
			return a, true
		}
	}
	return anchor{}, false
}

// uncheckableError is Verify's error for the anchor that uncheckable
// returned.
func uncheckableError(a anchor) error {
	return &VerifyError{File: AnchorFile, Problem: fmt.Sprintf("prune anchor of %s has no seal and does not come "+
		"before the first day file and every sealed anchor, where only an older smgate could have written one: "+
		"it cannot be checked (written by an older smgate, or forged)", a.days())}
}

// mergeAnchors returns the anchors that the kept files need: for each gap
// before a kept file, the anchors in it, each one that continues from
// the one before merged into it.
func mergeAnchors(key []byte, kept []DayFile, all []anchor) []anchor {
	var out []anchor
	lo := time.Time{}
	for _, f := range kept {
		in := anchorsIn(all, lo, f.Day)
		lo = f.Day
		if len(in) == 0 {
			continue
		}
		cur := in[0]
		for _, a := range in[1:] {
			// A legacy anchor is never merged with a sealed one: the
			// sealed one after it keeps it from reaching kept days.
			if a.legacy || cur.legacy || a.unlinked || cur.to != a.from {
				out = append(out, cur)
				cur = a
				continue
			}
			cur = newAnchor(key, cur.first, a.last, cur.from, a.to, cur.unlinked)
		}
		out = append(out, cur)
	}
	return out
}
