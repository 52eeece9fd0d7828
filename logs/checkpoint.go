package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// ReadCheckpoint reads the checkpoint in stateDir; it returns nil and no
// error when there is none.
func ReadCheckpoint(stateDir string) (*Checkpoint, error) {
	path := filepath.Join(stateDir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if _, ok := parseSum([]byte(c.Head)); !ok || c.Lines < 0 {
		return nil, fmt.Errorf("read checkpoint %s: bad head or line count", path)
	}
	return &c, nil
}

// head returns the checkpoint's chain value.
func (c *Checkpoint) head() Sum {
	s, _ := parseSum([]byte(c.Head))
	return s
}

func writeCheckpoint(stateDir string, c *Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(stateDir, CheckpointFile), append(b, '\n'), 0o640)
}

// Field names of the writer's operational log lines.
const (
	fieldFile    = "file"
	fieldLines   = "lines"
	fieldRecords = "records"
	fieldHead    = "head"
	fieldError   = "error"
	fieldPending = "pending"
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
