package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// VerifyOptions say which log Verify checks.
type VerifyOptions struct {
	Dir      string // the day files
	StateDir string // checkpoint and prune anchors; empty skips those checks
	HMACKey  []byte // the chain key, nil for plain SHA-256
	// Since starts at the first day file dated on or after it, chaining
	// from the last record of the day before (or a prune anchor); zero
	// checks every file.
	Since time.Time
	// Until stops after the last day file dated on or before it and skips
	// the checkpoint comparison; zero checks to the end.
	Until time.Time
	// Anchors is the prune anchor file, for a copy of the log kept with
	// a copy of its anchors; "" means StateDir's (none without StateDir).
	Anchors string
	// OpenStart accepts a first line that does not link from the start of
	// the chain when no prune anchor comes before it, as in a copy of a
	// pruned log without its anchors: its chain value is taken as given,
	// it is not counted as verified, and VerifyResult.OpenStart names its
	// file. Without it such a line is a break.
	OpenStart bool
}

// VerifyResult is what Verify walked.
type VerifyResult struct {
	Files   int    // day files checked
	Records int64  // lines whose chain value verified
	Head    string // chain value of the last verified line, hex
	// Partial is the length of an incomplete last line of the newest
	// file (a write in progress, or a tear that Open will cut); it is not
	// verified.
	Partial int64
	// Empty reports a log with no day file whose checkpoint expects none:
	// a writer has opened it and has not written a record yet.
	Empty bool
	// Given names the prune anchors crossed that were written without
	// the chain value before their run (by an older smgate): their end
	// is taken as given, and what comes before them is not linked to it.
	Given []string
	// Unkeyed reports prune anchors on a log without a chain key: their
	// seals are plain SHA-256, which anyone can compute, so whoever can
	// write the anchor file can hide deleted days behind a forged one.
	// Without anchors, hiding a deletion meant rechaining every later
	// file and the checkpoint.
	Unkeyed bool
	// OpenStart names the first day file when the chain value of its
	// first line was taken as given (VerifyOptions.OpenStart): what came
	// before it is not known.
	OpenStart string
}

// ErrNoDayFiles is Verify's error for a directory that has no day file
// and no checkpoint saying that none is expected (a mistyped path, the
// config directory): verifying nothing is no pass.
var ErrNoDayFiles = errors.New("no usage-log day files")

// VerifyError is the first problem Verify found: the file, the 1-based
// line and what is wrong there.
type VerifyError struct {
	File    string
	Line    int
	Problem string
}

func (e *VerifyError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Problem)
	}
	return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Problem)
}

// Verify walks the day files in date order and recomputes the chain; then
// it compares the end with the checkpoint. It returns a *VerifyError for
// the first altered, inserted, deleted or reordered line, missing day file
// or cut tail, and another error when it cannot read the files.
func Verify(o VerifyOptions) (*VerifyResult, error) {
	v := &verifier{o: o, res: &VerifyResult{}, chain: newChain(o.HMACKey, genesis)}
	if err := v.load(); err != nil {
		return v.res, err
	}
	v.res.Unkeyed = len(v.anchors) > 0 && len(o.HMACKey) == 0
	if err := v.walk(); err != nil {
		return v.res, err
	}
	if o.StateDir == "" || !o.Until.IsZero() {
		return v.res, nil
	}
	return v.res, v.checkpoint()
}

type verifier struct {
	o       VerifyOptions
	res     *VerifyResult
	chain   *chain
	files   []DayFile
	ckpt    *Checkpoint
	anchors []anchor
	ckptAt  Sum   // chain value at the checkpoint's line
	ckptN   int64 // complete lines of the checkpoint's file, -1 if not walked
	// last is the file whose end the chain head is, nil before the
	// first; lastN its complete lines, -1 when not walked.
	last  *DayFile
	lastN int64
	// open is set while the next line may start the chain anywhere
	// (VerifyOptions.OpenStart): no line walked and no anchor crossed.
	open bool
}

// verifyWith walks files with anchors as Verify does, without the
// checkpoint: Prune's check of the log it is about to leave.
func verifyWith(o VerifyOptions, files []DayFile, anchors []anchor) error {
	v := &verifier{o: o, res: &VerifyResult{}, chain: newChain(o.HMACKey, genesis),
		files: files, anchors: anchors, ckptN: -1}
	return v.walk()
}

// load reads the checkpoint first, so that records written while Verify
// walks never look like a cut tail.
func (v *verifier) load() error {
	var err error
	if v.o.StateDir != "" {
		if v.ckpt, err = ReadCheckpoint(v.o.StateDir); err != nil {
			return err
		}
	}
	if err := v.loadAnchors(); err != nil {
		return err
	}
	if _, err := os.Stat(v.o.Dir); err != nil {
		return fmt.Errorf("usage log directory: %w", err)
	}
	if v.files, err = DayFiles(v.o.Dir); err != nil {
		return err
	}
	v.ckptN = -1
	if len(v.files) == 0 {
		return v.noFiles()
	}
	return nil
}

// loadAnchors reads VerifyOptions.Anchors, which must exist, or else
// the anchors of the state directory.
func (v *verifier) loadAnchors() error {
	path := v.o.Anchors
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("prune anchors: %w", err)
		}
	} else if v.o.StateDir != "" {
		path = filepath.Join(v.o.StateDir, AnchorFile)
	}
	if path == "" {
		return nil
	}
	var err error
	v.anchors, err = readAnchors(path)
	return err
}

// noFiles returns ErrNoDayFiles unless the checkpoint expects no day
// file: it exists and is empty, as a writer leaves it before its first
// record. A checkpoint that names a file is compared as usual, and then
// says that file is missing.
func (v *verifier) noFiles() error {
	if v.o.StateDir != "" {
		if v.ckpt != nil {
			return nil
		}
		if _, err := os.Stat(filepath.Join(v.o.StateDir, CheckpointFile)); err == nil {
			v.res.Empty = true
			return nil
		}
	}
	return fmt.Errorf("%w in %s; is it the log directory?", ErrNoDayFiles, v.o.Dir)
}

func (v *verifier) walk() error {
	if a, bad := uncheckable(v.anchors, v.files); bad {
		return uncheckableError(a)
	}
	start := 0
	for start < len(v.files) && v.files[start].Day.Before(day(v.o.Since)) {
		start++
	}
	for i := start; i < len(v.files); i++ {
		f := v.files[i]
		if !v.o.Until.IsZero() && f.Day.After(v.o.Until) {
			break
		}
		if err := v.enter(i, start); err != nil {
			return err
		}
		if err := v.walkFile(f, i == len(v.files)-1); err != nil {
			return err
		}
		v.res.Files++
	}
	return nil
}

// enter sets the chain value the first line of file i must link from:
// the end of the file before, or of the prune anchors between.
func (v *verifier) enter(i, start int) error {
	if i != start {
		return v.cross(v.files[i-1].Day, v.files[i].Day)
	}
	j, s, err := lastBefore(v.files, i)
	if err != nil {
		return err
	}
	v.chain.head, v.last, v.lastN = s, nil, -1
	lo := time.Time{}
	if j >= 0 {
		v.last, lo = &v.files[j], v.files[j].Day
	}
	v.open = v.o.OpenStart && j < 0
	return v.cross(lo, v.files[i].Day)
}

// cross moves the chain head over the prune anchors between the days lo
// and hi: each must continue from the head reached, and then its end is
// the head. A legacy anchor's end is taken as given.
func (v *verifier) cross(lo, hi time.Time) error {
	var prev *anchor
	for _, a := range anchorsIn(v.anchors, lo, hi) {
		switch {
		case a.legacy:
			v.res.Given = append(v.res.Given, a.days())
		case !a.sealed(v.o.HMACKey):
			return &VerifyError{File: AnchorFile, Problem: fmt.Sprintf(
				"prune anchor of %s does not match its seal: altered, or sealed under another key", a.days())}
		case a.unlinked:
			return v.unlinkedRun(a, prev)
		case a.from != v.chain.head:
			return v.unlinked(a, prev)
		}
		v.chain.head, v.open = a.to, false
		prev = &a
	}
	return nil
}

// unlinked names what is wrong when anchor a does not continue from the
// chain head: the end of v.last, or of the anchor prev, or genesis.
func (v *verifier) unlinked(a anchor, prev *anchor) error {
	after := time.Time{}
	switch {
	case prev != nil:
		after = prev.last
	case v.last != nil:
		after = v.last.Day
	}
	missing := ""
	if first, last := after.AddDate(0, 0, 1), a.first.AddDate(0, 0, -1); !after.IsZero() && !first.After(last) {
		missing = dayRange(first, last)
	}
	cont := fmt.Sprintf("the days pruned after it (%s) continued from another chain value", a.days())
	switch {
	case prev == nil && v.last != nil && missing == "" && v.lastN >= 0:
		return &VerifyError{File: v.last.Name, Problem: fmt.Sprintf(
			"ends after %d records, but %s: records at its end deleted or altered", v.lastN, cont)}
	case prev == nil && v.last != nil && missing == "":
		return &VerifyError{File: v.last.Name, Problem: "records at its end deleted or altered: " + cont}
	case prev == nil && v.last != nil:
		return &VerifyError{File: missing, Problem: fmt.Sprintf(
			"missing, or records at the end of %s deleted: the days pruned after (%s) continued from another chain value",
			v.last.Name, a.days())}
	case missing != "":
		return &VerifyError{File: missing, Problem: fmt.Sprintf(
			"missing: the days pruned after it (%s) continued from another chain value than the days pruned before (%s)",
			a.days(), prev.days())}
	case prev != nil:
		return &VerifyError{File: AnchorFile, Problem: fmt.Sprintf(
			"prune anchors of %s and %s do not link: altered", prev.days(), a.days())}
	}
	return &VerifyError{File: AnchorFile, Problem: fmt.Sprintf(
		"prune anchor of %s does not continue from the start of the chain: the day files before it deleted", a.days())}
}

// unlinkedRun is the error for crossing anchor a, whose run a forced
// prune deleted although its first record did not link from the chain
// before it; prev is the anchor crossed before it, if any.
func (v *verifier) unlinkedRun(a anchor, prev *anchor) error {
	before := "the chain before it"
	switch {
	case prev != nil:
		before = "the days pruned before it (" + prev.days() + ")"
	case v.last != nil:
		before = v.last.Name
	}
	return &VerifyError{File: DayFileName(a.first), Problem: fmt.Sprintf(
		"deleted by a forced prune (anchor of %s) although its first record did not link from the end of %s: "+
			"records at that end deleted or altered, or this file altered; it can no longer be checked", a.days(), before)}
}

// dayRange names the day files of the days first to last.
func dayRange(first, last time.Time) string {
	if first.Equal(last) {
		return DayFileName(first)
	}
	return DayFileName(first) + " to " + DayFileName(last)
}

func (v *verifier) walkFile(f DayFile, newest bool) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer fh.Close()
	lr := newLineReader(fh)
	for {
		line, complete, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("verify %s: %w", f.Name, err)
		}
		if !complete && newest {
			v.res.Partial = int64(len(line))
			break
		}
		if !complete {
			return &VerifyError{f.Name, int(lr.n), "incomplete last line in a closed day file"}
		}
		prev := v.chain.head
		if !v.chain.linksFrom(prev, line) {
			if v.openStart(f, line) {
				continue
			}
			return v.broken(f, lr, prev, line)
		}
		v.open = false
		v.res.Records++
		if v.ckpt != nil && f.Name == v.ckpt.File && lr.n == v.ckpt.Lines {
			v.ckptAt = v.chain.head
		}
	}
	v.res.Head = v.chain.head.String()
	v.last, v.lastN = &f, lr.n
	if v.res.Partial > 0 {
		v.lastN--
	}
	if v.ckpt != nil && f.Name == v.ckpt.File {
		v.ckptN = lr.n
		if v.res.Partial > 0 {
			v.ckptN--
		}
	}
	return nil
}

// openStart takes the chain value of line, the first walked, as given
// when the chain may start anywhere; it reports whether it did.
func (v *verifier) openStart(f DayFile, line []byte) bool {
	if !v.open {
		return false
	}
	v.open = false
	_, sum, ok := splitChain(line)
	if !ok {
		return false
	}
	v.chain.head, v.res.OpenStart = sum, f.Name
	return true
}

// broken names the problem at the line that does not link from prev,
// looking at the line after it.
func (v *verifier) broken(f DayFile, lr *lineReader, prev Sum, line []byte) error {
	n := lr.n
	e := &VerifyError{File: f.Name, Line: int(n)}
	_, sum, ok := splitChain(line)
	if !ok {
		e.Problem = "not a chained record: line inserted or damaged"
		return e
	}
	line = bytes.Clone(line)
	next, complete, err := lr.next()
	hasNext := err == nil && complete
	switch {
	case hasNext && v.chain.linksFrom(prev, next) && v.chain.linksFrom(v.chain.head, line):
		e.Problem = fmt.Sprintf("lines %d and %d are out of order", n, n+1)
	case hasNext && v.chain.linksFrom(prev, next):
		e.Problem = "line inserted"
	case n == 1 && v.gapBefore(f) != "":
		e.Problem = fmt.Sprintf("file %s missing or chain broken at %s line 1", v.gapBefore(f), f.Name)
	case n == 1:
		e.Problem = "chain broken at the first line: this record altered, or records at the end of the previous day deleted"
	case hasNext && !v.chain.linksFrom(sum, next):
		e.Problem = "chain value altered"
	default:
		e.Problem = "chain broken: record altered, or a line before it deleted"
	}
	return e
}

// gapBefore names the day files missing between f and the file before it
// that no prune anchor covers, or "" when there are none.
func (v *verifier) gapBefore(f DayFile) string {
	prev := time.Time{}
	for _, g := range v.files {
		if !g.Day.Before(f.Day) {
			break
		}
		prev = g.Day
	}
	in := anchorsIn(v.anchors, prev, f.Day)
	start := prev.AddDate(0, 0, 1)
	switch {
	case prev.IsZero() && len(in) == 0:
		return ""
	case prev.IsZero():
		start = in[len(in)-1].last.AddDate(0, 0, 1) // nothing known before the anchors
	}
	var first, last time.Time
	for d := start; d.Before(f.Day); d = d.AddDate(0, 0, 1) {
		if slices.ContainsFunc(in, func(a anchor) bool { return a.covers(d) }) {
			continue
		}
		if first.IsZero() {
			first = d
		}
		last = d
	}
	if first.IsZero() {
		return ""
	}
	return dayRange(first, last)
}

// checkpoint compares the walked files with the checkpoint.
func (v *verifier) checkpoint() error {
	c := v.ckpt
	if c == nil {
		if len(v.files) > 0 {
			return &VerifyError{File: CheckpointFile, Problem: fmt.Sprintf(
				"missing from %s while %d day files exist", v.o.StateDir, len(v.files))}
		}
		return nil
	}
	if t, ok := parseDayFileName(c.File); ok && t.Before(day(v.o.Since)) {
		return nil
	}
	switch {
	case v.ckptN < 0:
		return &VerifyError{File: c.File, Problem: fmt.Sprintf(
			"missing: the checkpoint names it with %d records", c.Lines)}
	case v.ckptN < c.Lines:
		return &VerifyError{File: c.File, Line: int(v.ckptN + 1), Problem: fmt.Sprintf(
			"file ends after %d records, the checkpoint says %d: tail cut", v.ckptN, c.Lines)}
	case v.ckptAt != c.head():
		return &VerifyError{File: c.File, Line: int(c.Lines), Problem: fmt.Sprintf(
			"chain value %s differs from the checkpoint's %s: chain rewritten", v.ckptAt, c.Head)}
	}
	return nil
}

// day returns the UTC midnight that starts t's day, or zero for zero.
func day(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// chainBefore returns the chain value that the first line of files[i]
// links from (i may be len(files): a file after all of them): the last
// line of the nearest earlier file that has one, unless prune anchors lie
// between (then the end of the last of them); genesis when neither
// exists. It checks nothing (Verify does).
func chainBefore(files []DayFile, i int, anchors []anchor) (Sum, error) {
	j, prev, err := lastBefore(files, i)
	if err != nil {
		return genesis, err
	}
	lo, hi := time.Time{}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if j >= 0 {
		lo = files[j].Day
	}
	if i < len(files) {
		hi = files[i].Day
	}
	if in := anchorsIn(anchors, lo, hi); len(in) > 0 {
		return in[len(in)-1].to, nil
	}
	return prev, nil
}

// lastBefore returns the index of the nearest file before files[i] that
// has a chained line, and that line's chain value; -1 and genesis when
// none has.
func lastBefore(files []DayFile, i int) (int, Sum, error) {
	for j := i - 1; j >= 0; j-- {
		s, ok, err := lastSum(files[j].Path)
		if err != nil {
			return -1, genesis, err
		}
		if ok {
			return j, s, nil
		}
	}
	return -1, genesis, nil
}

// lineReader reads lines of any length.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
	n   int64 // lines returned
	off int64 // bytes consumed
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its newline and whether it had one;
// io.EOF at the end. The line is valid until the next call.
func (lr *lineReader) next() ([]byte, bool, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lr.buf = append(lr.buf, chunk...)
			continue
		}
		line := chunk
		if len(lr.buf) > 0 {
			lr.buf = append(lr.buf, chunk...)
			line = lr.buf
		}
		lr.off += int64(len(line))
		switch {
		case errors.Is(err, io.EOF) && len(line) == 0:
			return nil, false, io.EOF
		case errors.Is(err, io.EOF):
			lr.n++
			return line, false, nil
		case err != nil:
			return nil, false, err
		}
		lr.n++
		return line[:len(line)-1], true, nil
	}
}

// fileScan is what scanFile learned of a day file.
type fileScan struct {
	size  int64 // bytes up to the end of the last complete chained line
	lines int64 // lines up to and including that line
	last  Sum   // its chain value
	at    Sum   // chain value of the line asked for, when it is one
	total int64 // the file's size
}

// scanFile reads a day file without checking the chain: it finds the end
// of its last complete chained line (what follows is a torn tail) and the
// chain value of line want.
func scanFile(path string, want int64) (fileScan, error) {
	var sc fileScan
	f, err := os.Open(path)
	if err != nil {
		return sc, fmt.Errorf("scan day file: %w", err)
	}
	defer f.Close()
	lr := newLineReader(f)
	for {
		line, complete, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sc, fmt.Errorf("scan %s: %w", path, err)
		}
		if _, sum, ok := splitChain(line); ok && complete {
			sc.size, sc.lines, sc.last = lr.off, lr.n, sum
			if lr.n == want {
				sc.at = sum
			}
		}
	}
	sc.total = lr.off
	return sc, nil
}

// lastSum returns the chain value of the last complete chained line of a
// day file, reading only its end when it can.
func lastSum(path string) (Sum, bool, error) {
	const tail = 1 << 20
	f, err := os.Open(path)
	if err != nil {
		return genesis, false, fmt.Errorf("read day file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return genesis, false, fmt.Errorf("read day file: %w", err)
	}
	off := max(fi.Size()-tail, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return genesis, false, fmt.Errorf("read day file %s: %w", path, err)
	}
	for end := bytes.LastIndexByte(b, '\n'); end >= 0; end = bytes.LastIndexByte(b, '\n') {
		start := bytes.LastIndexByte(b[:end], '\n') + 1
		if start == 0 && off > 0 {
			break // the line may start before what was read
		}
		if _, sum, ok := splitChain(b[start:end]); ok {
			return sum, true, nil
		}
		b = b[:start]
	}
	if off == 0 {
		return genesis, false, nil
	}
	sc, err := scanFile(path, 0)
	return sc.last, sc.lines > 0, err
}
