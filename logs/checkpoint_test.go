package logs

import (
	"os"
	"path/filepath"
	"strings"
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

// TestCheckpointSlots: writes alternate between two slots, a reader takes
// the newest valid one, and a torn or altered slot falls back to the other.
func TestCheckpointSlots(t *testing.T) {
	dir := t.TempDir()
	cf, err := openCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(1); i <= 3; i++ {
		c := &Checkpoint{File: "usage-2025-03-01.jsonl", Lines: i, Records: i, Head: Sum{byte(i)}.String(), Time: at}
		if err := cf.write(c, at, false); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCheckpoint(dir)
		if err != nil || got.Records != i {
			t.Fatalf("after write %d: %+v, %v", i, got, err)
		}
	}
	if err := cf.close(at); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if err != nil || len(b) != 2*ckptSlot {
		t.Fatalf("checkpoint file: %d bytes, %v; want two slots", len(b), err)
	}
	// Record 3 went to slot 0 (1, 2, 3 alternate 0, 1, 0): tear it.
	torn := append([]byte(nil), b...)
	torn[40] ^= 0x20
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadCheckpoint(dir); err != nil || got.Records != 2 {
		t.Errorf("slot 0 torn: %+v, %v; want the checkpoint of 2 records from slot 1", got, err)
	}
	// The next write must not overwrite the only valid slot.
	cf, err = openCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cf.next != 0 {
		t.Errorf("next slot %d, want 0 (slot 1 holds the only valid checkpoint)", cf.next)
	}
	cf.close(at)
	torn[ckptSlot+40] ^= 0x20
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("both slots torn: %v, want a checksum error", err)
	}
}

// TestCheckpointSingleObject reads a checkpoint written as one JSON object
// (before the slots) and upgrades it without ever losing it.
func TestCheckpointSingleObject(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointFile)
	old := `{"file":"usage-2025-03-01.jsonl","lines":4,"records":4,"head":"` + Sum{4}.String() + `","time":"2025-03-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadCheckpoint(dir); err != nil || got.Records != 4 {
		t.Fatalf("single object: %+v, %v", got, err)
	}
	cf, err := openCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 1, 0, 0, 0, time.UTC)
	if err := cf.write(&Checkpoint{File: "usage-2025-03-01.jsonl", Lines: 5, Records: 5, Head: Sum{5}.String(), Time: at}, at, false); err != nil {
		t.Fatal(err)
	}
	cf.close(at)
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), old) {
		t.Error("the first write replaced the old checkpoint instead of the empty slot")
	}
	if got, err := ReadCheckpoint(dir); err != nil || got.Records != 5 {
		t.Errorf("after the upgrade: %+v, %v; want 5 records", got, err)
	}
}
