package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/smgate/smgate/internal/atomicfile"
)

// CheckpointFile is the name of the checkpoint in the state directory.
const CheckpointFile = "logs.checkpoint"

// Checkpoint is the chain head, saved outside the log directory after each
// batch, so that a cut tail, a deleted current file or a rewritten chain
// is detected.
type Checkpoint struct {
	File    string    `json:"file"`    // day file name, e.g. usage-2025-03-04.jsonl
	Lines   int64     `json:"lines"`   // lines of File written when saved
	Records int64     `json:"records"` // records the writer knows of, all files
	Head    string    `json:"head"`    // chain value of line Lines of File, hex
	Time    time.Time `json:"time"`    // when saved
}

// The checkpoint file holds two slots of ckptSlot bytes, written in turn
// in place: a slot is "ckpt1 <crc32 hex> <json>\n" padded with spaces to
// ckptSlot bytes. A reader takes the valid slot with the most records, so
// a slot torn by a crash, or read while it is being written, only falls
// back to the one before. A batch costs one pwrite instead of a temporary
// file, two fsyncs and a rename; the file is fsynced every ckptSyncEvery
// and on Close. A checkpoint that lags the log after a power cut is safe:
// records after it are accepted (they are chained), only fewer records
// than it names are a cut tail.
const (
	ckptSlot      = 512
	ckptMagic     = "ckpt1 "
	ckptSyncEvery = time.Second
)

// ReadCheckpoint reads the checkpoint in stateDir; it returns nil and no
// error when there is none.
func ReadCheckpoint(stateDir string) (*Checkpoint, error) {
	path := filepath.Join(stateDir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(b) == 0 {
		return nil, nil // an empty file is a writer's that has saved nothing yet
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	c, _, err := parseCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return c, nil
}

// parseCheckpoint returns the newest valid checkpoint in b and the index
// of its slot. A slot that starts with "{" is a checkpoint as written
// before the slots (one JSON object, the whole file).
func parseCheckpoint(b []byte) (*Checkpoint, int, error) {
	if len(b) == 0 {
		return nil, 0, errors.New("empty")
	}
	var best *Checkpoint
	var firstErr error
	slot := 0
	for i := 0; i*ckptSlot < len(b) && i < 2; i++ {
		c, err := parseSlot(b[i*ckptSlot : min(len(b), (i+1)*ckptSlot)])
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if best == nil || c.Records > best.Records || c.Records == best.Records && c.Time.After(best.Time) {
			best, slot = c, i
		}
	}
	if best == nil {
		return nil, 0, firstErr
	}
	return best, slot, nil
}

func parseSlot(b []byte) (*Checkpoint, error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	if len(line) > 0 && line[0] == '{' {
		return decodeCheckpoint(line)
	}
	if !bytes.HasPrefix(line, []byte(ckptMagic)) || len(line) < len(ckptMagic)+9 {
		return nil, errors.New("not a checkpoint slot")
	}
	rest := line[len(ckptMagic):]
	want, err := strconv.ParseUint(string(rest[:8]), 16, 32)
	if err != nil || rest[8] != ' ' {
		return nil, errors.New("bad slot checksum")
	}
	js := rest[9:]
	if crc32.ChecksumIEEE(js) != uint32(want) {
		return nil, errors.New("slot checksum mismatch: torn or altered")
	}
	return decodeCheckpoint(js)
}

func decodeCheckpoint(b []byte) (*Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if _, ok := parseSum([]byte(c.Head)); !ok || c.Lines < 0 {
		return nil, errors.New("bad head or line count")
	}
	return &c, nil
}

// head returns the checkpoint's chain value.
func (c *Checkpoint) head() Sum {
	s, _ := parseSum([]byte(c.Head))
	return s
}

// ckptFile is the open checkpoint file of a Writer.
type ckptFile struct {
	dir    string
	fi     os.FileInfo // of f, to notice the file replaced or removed
	f      *os.File
	next   int       // slot to write next: never the newest valid one
	synced time.Time // last fsync
	dirty  bool      // written since the last fsync
	buf    []byte
	// fsync, when set, fsyncs the file (the Writer's, which waits without
	// holding a P); nil means File.Sync.
	fsync func(*os.File) error
}

// openCheckpoint opens (creating) the checkpoint file in stateDir.
func openCheckpoint(stateDir string) (*ckptFile, error) {
	path := filepath.Join(stateDir, CheckpointFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	cf := &ckptFile{dir: stateDir, fi: fi, f: f, buf: make([]byte, 0, ckptSlot)}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if len(b) > 0 {
		// Never overwrite the newest valid checkpoint first (an old
		// single-object file is slot 0: the first write goes to slot 1).
		if _, slot, err := parseCheckpoint(b); err == nil {
			cf.next = 1 - slot
		}
	}
	if len(b) == 0 {
		if err := atomicfile.SyncDir(stateDir); err != nil { // the new entry survives a crash
			f.Close()
			return nil, err
		}
	}
	return cf, nil
}

// write saves c in the next slot; it fsyncs when the last fsync is older
// than ckptSyncEvery or sync is set. A checkpoint file that was removed or
// replaced (the state directory moved away, say) is opened again where it
// belongs, and the write fails while that cannot be done.
func (cf *ckptFile) write(c *Checkpoint, now time.Time, sync bool) error {
	if fi, err := os.Stat(filepath.Join(cf.dir, CheckpointFile)); err != nil || !os.SameFile(fi, cf.fi) {
		nf, err := openCheckpoint(cf.dir)
		if err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
		cf.f.Close()
		nf.fsync = cf.fsync
		*cf = *nf
		sync = true
	}
	js, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	b := append(cf.buf[:0], ckptMagic...)
	b = fmt.Appendf(b, "%08x ", crc32.ChecksumIEEE(js))
	b = append(append(b, js...), '\n')
	if len(b) > ckptSlot {
		return fmt.Errorf("write checkpoint: %d bytes do not fit a slot", len(b))
	}
	for len(b) < ckptSlot-1 {
		b = append(b, ' ')
	}
	b = append(b, '\n')
	cf.buf = b
	if _, err := cf.f.WriteAt(b, int64(cf.next)*ckptSlot); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	cf.next, cf.dirty = 1-cf.next, true
	if sync || now.Sub(cf.synced) >= ckptSyncEvery {
		return cf.sync(now)
	}
	return nil
}

func (cf *ckptFile) sync(now time.Time) error {
	if !cf.dirty {
		return nil
	}
	sync := (*os.File).Sync
	if cf.fsync != nil {
		sync = cf.fsync
	}
	if err := sync(cf.f); err != nil {
		return fmt.Errorf("fsync checkpoint: %w", err)
	}
	cf.synced, cf.dirty = now, false
	return nil
}

// close fsyncs what is written and closes the file.
func (cf *ckptFile) close(now time.Time) error {
	err := cf.sync(now)
	return errors.Join(err, cf.f.Close())
}

// writeCheckpoint saves c durably in stateDir (tests and tools; the
// Writer keeps its file open).
func writeCheckpoint(stateDir string, c *Checkpoint) error {
	cf, err := openCheckpoint(stateDir)
	if err != nil {
		return err
	}
	return errors.Join(cf.write(c, c.Time, true), cf.close(c.Time))
}

// Field names of the writer's operational log lines.
const (
	fieldFile    = "file"
	fieldLines   = "lines"
	fieldRecords = "records"
	fieldHead    = "head"
	fieldError   = "error"
	fieldPending = "pending"
	fieldRecord  = "record"
)

// headLog decides when to copy the chain head into the operational log,
// so that it also lives outside this machine.
type headLog struct {
	every    int64
	interval time.Duration
	at       time.Time
	records  int64
}

// due reports whether the head should be logged now and, when it is,
// starts counting again.
func (h *headLog) due(now time.Time, records int64) bool {
	if records == h.records {
		return false
	}
	if records-h.records < h.every && now.Sub(h.at) < h.interval {
		return false
	}
	h.at, h.records = now, records
	return true
}

func logHead(l zerolog.Logger, c *Checkpoint) {
	l.Info().Str(fieldFile, c.File).Int64(fieldLines, c.Lines).
		Int64(fieldRecords, c.Records).Str(fieldHead, c.Head).Msg("usage log chain head")
}
