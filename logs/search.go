package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// ErrStop, returned by a Search callback, ends the search early; Search
// then returns nil (or the damaged lines it met).
var ErrStop = errors.New("stop search")

// LineError is a line of a log file that Search could not decode.
type LineError struct {
	File string // base name of the daily file
	Line int    // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Unterminated is an unterminated last line of a day file that Search
// left out: a write in progress, or a tear that the writer cuts at its
// next start. Verify does not verify it either.
type Unterminated struct {
	File  string // base name of the daily file
	Line  int    // 1-based
	Bytes int
}

func (u Unterminated) String() string {
	return fmt.Sprintf("left out the unterminated last line of %s (line %d, %d bytes): being written, or torn; it is not verified",
		u.File, u.Line, u.Bytes)
}

// maxLineErrors bounds the damaged lines one Search reports one by one.
const maxLineErrors = 10

// Search calls fn for every record in the daily files of dir that q
// matches, in the order written: by time, but for a record the writer
// filed late (see lateSlack), which comes among the next day's. line is
// the line as stored, without its newline; line and r are valid only
// during the call. An error from fn ends the search and is returned,
// except ErrStop, which ends it quietly.
//
// Only the daily files that can hold records of [Since, Until) are read,
// and a line is decoded only when it contains the bytes the query's values
// are written as. A line that fails to decode does not stop the
// search: Search goes on and then returns a *LineError for it (joined
// with the others). Lines ruled out before decoding are not checked;
// "smgate logs verify" checks every line.
//
// The last line of a file that has no newline yet is no record: it is
// being written, or torn, and it is not verified. Search leaves it out
// and returns it as an Unterminated for the caller to mention.
func Search(dir string, q Query, fn func(line []byte, r *Record) error) ([]Unterminated, error) {
	files, err := searchDayFiles(dir, q.Since, q.Until)
	if err != nil {
		return nil, err
	}
	s := &lineScan{f: newFilter(q), fn: fn, buf: make([]byte, scanBufSize)}
	for _, path := range files {
		if err := s.file(path); err != nil {
			if errors.Is(err, ErrStop) {
				break
			}
			return s.unterminated, err
		}
	}
	return s.unterminated, s.damage()
}

// lateSlack is how late the writer can file a record: it never puts one
// in a file before its day, but puts a record stamped before the current
// day (a tunnel logged when it closes, stamped when it opened) in the
// current file. Search reads the files of one more day after Until for
// them.
const lateSlack = 24 * time.Hour

// searchDayFiles returns the daily files of dir that may hold records of
// [since, until), oldest first.
func searchDayFiles(dir string, since, until time.Time) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read log directory: %w", err)
	}
	files, err := DayFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("read log directory: %w", err)
	}
	var paths []string
	for _, f := range files {
		// A file holds records stamped before the end of its day only.
		if !since.IsZero() && !f.Day.Add(24*time.Hour).After(since) {
			continue
		}
		if !until.IsZero() && !f.Day.Before(until.Add(lateSlack)) {
			continue
		}
		paths = append(paths, f.Path)
	}
	return paths, nil
}

const (
	// scanBufSize is the block Search reads at once.
	scanBufSize = 1 << 20
	// maxLineSize bounds one line; the buffer grows up to it.
	maxLineSize = 64 << 20
)

// lineScan reads daily files block by block and passes the lines that
// match its filter to fn.
type lineScan struct {
	f   *filter
	fn  func(line []byte, r *Record) error
	buf []byte

	name  string // base name of the file being read
	first int    // number of the first line of the block being read

	errs   []error // the first maxLineErrors damaged lines
	nerrs  int     // all damaged lines
	nlines int     // lines decoded

	unterminated []Unterminated // last lines without newline, left out
}

// file scans one daily file.
func (s *lineScan) file(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer fh.Close()
	s.name, s.first = filepath.Base(path), 1
	n := 0 // bytes in s.buf
	for {
		m, err := fh.Read(s.buf[n:])
		n += m
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return fmt.Errorf("read log file: %w", err)
		}
		end := bytes.LastIndexByte(s.buf[:n], '\n') + 1
		if err := s.block(s.buf[:end]); err != nil {
			return err
		}
		s.first += bytes.Count(s.buf[:end], newline)
		if eof {
			if end < n {
				s.unterminated = append(s.unterminated, Unterminated{File: s.name, Line: s.first, Bytes: n - end})
			}
			return nil
		}
		n = copy(s.buf, s.buf[end:n])
		if n == len(s.buf) {
			if err := s.grow(); err != nil {
				return err
			}
		}
	}
}

var newline = []byte{'\n'}

// grow doubles the buffer for a line longer than it.
func (s *lineScan) grow() error {
	if len(s.buf) >= maxLineSize {
		return &LineError{File: s.name, Line: s.first, Err: fmt.Errorf("line longer than %d bytes", maxLineSize)}
	}
	s.buf = append(s.buf, make([]byte, len(s.buf))...)
	return nil
}

// block scans whole lines. With a primary needle it searches the block
// for it and looks only at the lines it occurs in.
func (s *lineScan) block(b []byte) error {
	if s.f.primary == nil {
		return s.everyLine(b)
	}
	for at := 0; at < len(b); {
		i := bytes.Index(b[at:], s.f.primary)
		if i < 0 {
			return nil
		}
		start := at + bytes.LastIndexByte(b[at:at+i], '\n') + 1
		end := len(b)
		if j := bytes.IndexByte(b[at+i:], '\n'); j >= 0 {
			end = at + i + j
		}
		if err := s.line(b, start, end); err != nil {
			return err
		}
		at = end + 1
	}
	return nil
}

func (s *lineScan) everyLine(b []byte) error {
	for start := 0; start < len(b); {
		end := len(b)
		if j := bytes.IndexByte(b[start:], '\n'); j >= 0 {
			end = start + j
		}
		if err := s.line(b, start, end); err != nil {
			return err
		}
		start = end + 1
	}
	return nil
}

// line tests b[start:end], one line of the block b, and hands it to fn
// when it matches.
func (s *lineScan) line(b []byte, start, end int) error {
	line := b[start:end]
	if len(line) == 0 || !s.f.candidate(line) {
		return nil
	}
	s.nlines++
	r, err := DecodeRecord(line)
	if err != nil {
		s.damaged(s.first+bytes.Count(b[:start], newline), err)
		return nil
	}
	if !s.f.match(&r) {
		return nil
	}
	return s.fn(line, &r)
}

func (s *lineScan) damaged(line int, err error) {
	s.nerrs++
	if len(s.errs) < maxLineErrors {
		s.errs = append(s.errs, &LineError{File: s.name, Line: line, Err: err})
	}
}

// damage returns the damaged lines met, or nil.
func (s *lineScan) damage() error {
	if s.nerrs > len(s.errs) {
		more := fmt.Errorf("and %d more lines that cannot be decoded", s.nerrs-len(s.errs))
		return errors.Join(append(s.errs, more)...)
	}
	return errors.Join(s.errs...)
}
