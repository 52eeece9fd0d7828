package logs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if c, err := ReadCheckpoint(dir); c != nil || err != nil {
		t.Fatalf("empty dir: %+v, %v", c, err)
	}
	want := &Checkpoint{File: "usage-2025-03-01.jsonl", Lines: 3, Records: 9,
		Head: Sum{7}.String(), Time: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	if err := writeCheckpoint(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(dir)
	if err != nil || *got != *want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

func TestCheckpointCorrupt(t *testing.T) {
	for name, data := range map[string]string{
		"not json": "{",
		"bad head": `{"file":"usage-2025-03-01.jsonl","lines":1,"head":"zz"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, CheckpointFile), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadCheckpoint(dir); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestHeadLogDue(t *testing.T) {
	h := headLog{every: 10, interval: time.Minute, at: day1}
	steps := []struct {
		after   time.Duration
		records int64
		want    bool
	}{
		{0, 0, false},
		{time.Second, 5, false},
		{time.Second, 10, true},
		{2 * time.Second, 12, false},
		{2 * time.Minute, 13, true},
		{3 * time.Minute, 13, false}, // nothing new
	}
	for i, s := range steps {
		if got := h.due(day1.Add(s.after), s.records); got != s.want {
			t.Errorf("step %d: due = %v, want %v", i, got, s.want)
		}
	}
}
