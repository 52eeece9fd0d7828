package logs

import (
	"fmt"
	"os"
	"path/filepath"
)

// repair is something Open found and fixed, for a repair record.
type repair struct {
	file, msg string
}

// recovery is where Open resumes appending.
type recovery struct {
	day     int   // yyyymmdd of the newest day file, 0 when there is none
	size    int64 // its bytes after cutting a torn tail
	lines   int64 // its lines
	records int64 // records since genesis, as far as known
	head    Sum   // the chain value the next record links from
	repairs []repair
}

// recoverLog prepares appending after a crash. It cuts a torn tail of the
// newest day file (an incomplete or unreadable last line) and derives the
// chain head from the files. When the files hold fewer records than the
// checkpoint, another chain value at the checkpoint's line, or miss the
// checkpoint's file, it fails with a *VerifyError unless
// o.AcceptTamperedTail is set; then a repair says what was found.
func recoverLog(o Options) (*recovery, error) {
	files, err := DayFiles(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("open usage log: %w", err)
	}
	ckpt, err := ReadCheckpoint(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("open usage log: %w", err)
	}
	anchors, err := readAnchors(filepath.Join(o.StateDir, AnchorFile))
	if err != nil {
		return nil, fmt.Errorf("open usage log: %w", err)
	}
	rec := &recovery{}
	var sc fileScan
	if len(files) > 0 {
		newest := files[len(files)-1]
		if sc, err = scanFile(newest.Path, wantLine(ckpt, newest)); err != nil {
			return nil, fmt.Errorf("open usage log: %w", err)
		}
		rec.day, rec.size, rec.lines, rec.head = dayOf(newest.Day), sc.size, sc.lines, sc.last
	}
	if sc.lines == 0 {
		if rec.head, err = chainBefore(files, max(len(files)-1, 0), anchors); err != nil {
			return nil, fmt.Errorf("open usage log: %w", err)
		}
	}
	if err := rec.checkTail(o, files, ckpt, sc); err != nil {
		return nil, err
	}
	return rec, rec.cutTorn(files, sc)
}

// wantLine is the line of f whose chain value the checkpoint holds, or 0.
func wantLine(c *Checkpoint, f DayFile) int64 {
	if c != nil && c.File == f.Name {
		return c.Lines
	}
	return 0
}

// checkTail compares the files with the checkpoint and counts the records.
func (rec *recovery) checkTail(o Options, files []DayFile, ckpt *Checkpoint, newest fileScan) error {
	problem, err := rec.compare(files, ckpt, newest)
	if err != nil {
		return fmt.Errorf("open usage log: %w", err)
	}
	if problem == nil {
		return nil
	}
	if !o.AcceptTamperedTail {
		return fmt.Errorf("open usage log: does not match checkpoint, an operator must check: %w", problem)
	}
	rec.repairs = append(rec.repairs, repair{file: problem.File,
		msg: "accepted a log that does not match the checkpoint: " + problem.Error()})
	return nil
}

// compare returns what does not match the checkpoint, and sets
// rec.records.
func (rec *recovery) compare(files []DayFile, ckpt *Checkpoint, newest fileScan) (*VerifyError, error) {
	if ckpt == nil {
		for _, f := range files {
			sc, err := scanFile(f.Path, 0)
			if err != nil {
				return nil, err
			}
			rec.records += sc.lines
		}
		if rec.records == 0 {
			return nil, nil
		}
		return &VerifyError{File: CheckpointFile, Problem: fmt.Sprintf(
			"missing while %d day files hold %d records", len(files), rec.records)}, nil
	}
	rec.records = ckpt.Records
	i := indexOf(files, ckpt.File)
	if i < 0 {
		return &VerifyError{File: ckpt.File, Problem: fmt.Sprintf(
			"missing: the checkpoint names it with %d records", ckpt.Lines)}, nil
	}
	sc := newest
	var err error
	if i < len(files)-1 {
		if sc, err = scanFile(files[i].Path, ckpt.Lines); err != nil {
			return nil, err
		}
	}
	if p := checkpointProblem(ckpt, sc); p != nil {
		return p, nil
	}
	return nil, rec.countAfter(files, i, ckpt, sc, newest)
}

// checkpointProblem compares the scan of the checkpoint's file with it.
func checkpointProblem(c *Checkpoint, sc fileScan) *VerifyError {
	switch {
	case sc.lines < c.Lines:
		return &VerifyError{File: c.File, Line: int(sc.lines + 1), Problem: fmt.Sprintf(
			"file ends after %d records, the checkpoint says %d: tail cut", sc.lines, c.Lines)}
	case sc.at != c.head():
		return &VerifyError{File: c.File, Line: int(c.Lines), Problem: fmt.Sprintf(
			"chain value %s differs from the checkpoint's %s: chain rewritten", sc.at, c.Head)}
	}
	return nil
}

// countAfter adds the records written after the checkpoint (a crash
// between an fsync and the checkpoint) to rec.records.
func (rec *recovery) countAfter(files []DayFile, i int, c *Checkpoint, sc, newest fileScan) error {
	rec.records += sc.lines - c.Lines
	for j := i + 1; j < len(files); j++ {
		s := newest
		if j < len(files)-1 {
			var err error
			if s, err = scanFile(files[j].Path, 0); err != nil {
				return err
			}
		}
		rec.records += s.lines
	}
	return nil
}

func indexOf(files []DayFile, name string) int {
	for i, f := range files {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// cutTorn truncates the newest file after its last complete chained line
// and notes the repair.
func (rec *recovery) cutTorn(files []DayFile, sc fileScan) error {
	cut := sc.total - sc.size
	if cut == 0 {
		return nil
	}
	f := files[len(files)-1]
	if err := truncateSync(f.Path, sc.size); err != nil {
		return fmt.Errorf("open usage log: cut torn tail: %w", err)
	}
	rec.repairs = append(rec.repairs, repair{file: f.Name, msg: fmt.Sprintf(
		"cut torn tail of %s: %d bytes from line %d", f.Name, cut, sc.lines+1)})
	return nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
