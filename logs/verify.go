package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	anchors []Anchor
	ckptAt  Sum   // chain value at the checkpoint's line
	ckptN   int64 // complete lines of the checkpoint's file, -1 if not walked
}

// load reads the checkpoint first, so that records written while Verify
// walks never look like a cut tail.
func (v *verifier) load() error {
	var err error
	if v.o.StateDir != "" {
		if v.ckpt, err = ReadCheckpoint(v.o.StateDir); err != nil {
			return err
		}
		if v.anchors, err = readAnchors(v.o.StateDir); err != nil {
			return err
		}
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

// enter sets the chain value the first line of file i must link from.
func (v *verifier) enter(i, start int) error {
	if i == start {
		s, err := chainBefore(v.files, i, v.anchors)
		v.chain.head = s
		return err
	}
	if s, ok := anchorBetween(v.anchors, v.files[i-1].Day, v.files[i].Day); ok {
		v.chain.head = s
	}
	return nil
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
			return v.broken(f, lr, prev, line)
		}
		v.res.Records++
		if v.ckpt != nil && f.Name == v.ckpt.File && lr.n == v.ckpt.Lines {
			v.ckptAt = v.chain.head
		}
	}
	v.res.Head = v.chain.head.String()
	if v.ckpt != nil && f.Name == v.ckpt.File {
		v.ckptN = lr.n
		if v.res.Partial > 0 {
			v.ckptN--
		}
	}
	return nil
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

// gapBefore names the day files missing between f and the file before it,
// or "" when there is no gap (or the gap is a prune's).
func (v *verifier) gapBefore(f DayFile) string {
	prev := time.Time{}
	for _, g := range v.files {
		if !g.Day.Before(f.Day) {
			break
		}
		prev = g.Day
	}
	if prev.IsZero() {
		return ""
	}
	first, last := prev.AddDate(0, 0, 1), f.Day.AddDate(0, 0, -1)
	if first.After(last) {
		return ""
	}
	if _, pruned := anchorBetween(v.anchors, prev, f.Day); pruned {
		return ""
	}
	if first.Equal(last) {
		return DayFileName(first)
	}
	return DayFileName(first) + " to " + DayFileName(last)
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
// line of the nearest earlier file that has one, unless a prune anchor
// lies between; genesis when neither exists.
func chainBefore(files []DayFile, i int, anchors []Anchor) (Sum, error) {
	lo, prev, found := time.Time{}, genesis, false
	for j := i - 1; j >= 0 && !found; j-- {
		s, ok, err := lastSum(files[j].Path)
		if err != nil {
			return genesis, err
		}
		lo, prev, found = files[j].Day, s, ok
	}
	if !found {
		lo = time.Time{}
	}
	hi := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if i < len(files) {
		hi = files[i].Day
	}
	if s, ok := anchorBetween(anchors, lo, hi); ok {
		return s, nil
	}
	return prev, nil
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
