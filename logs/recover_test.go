package logs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// repairs returns the messages of the repair records in the log.
func repairs(t *testing.T, l *testLog) []string {
	t.Helper()
	var out []string
	for _, r := range l.records(t) {
		if r.Action == ActionRepair {
			out = append(out, r.Message)
		}
	}
	return out
}

func TestOpenCutsTornTail(t *testing.T) {
	tests := []struct{ name, tail string }{
		{"half a line", `{"@timestamp":"2025-03-01T10:00:00Z","event.id":"to`},
		{"zeros after a crash", "\x00\x00\x00\x00\n\x00\x00"},
		{"unchained complete line", `{"event.id":"x"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t)
			l.write(t, "a", 3)
			appendFile(t, l.path(day1), tt.tail)
			l.write(t, "b", 1)
			got := repairs(t, l)
			want := fmt.Sprintf("cut torn tail of %s: %d bytes from line 4", DayFileName(day1), len(tt.tail))
			if len(got) != 1 || got[0] != want {
				t.Errorf("repairs %q, want %q", got, want)
			}
			if res := l.mustVerify(t); res.Records != 5 {
				t.Errorf("Verify %+v, want 5 records (3, repair, 1)", res)
			}
		})
	}
}

func TestOpenRefusesMismatch(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, l *testLog)
		file    string
		line    int
		problem string
	}{
		{"cut tail", func(t *testing.T, l *testLog) {
			editLines(t, l.path(day1), func(s []string) []string { return s[:2] })
		}, DayFileName(day1), 3, "tail cut"},
		{"deleted today", func(t *testing.T, l *testLog) {
			remove(t, l.path(day1))
		}, DayFileName(day1), 0, "missing"},
		{"rewritten chain", func(t *testing.T, l *testLog) {
			editLines(t, l.path(day1), func(s []string) []string {
				s[0] = strings.Replace(s[0], `"user.name":"u"`, `"user.name":"v"`, 1)
				return s
			})
			rechain(t, l, nil)
		}, DayFileName(day1), 4, "chain rewritten"},
		{"deleted checkpoint", func(t *testing.T, l *testLog) {
			remove(t, l.state+"/"+CheckpointFile)
		}, CheckpointFile, 0, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t)
			l.write(t, "a", 4)
			tt.tamper(t, l)
			_, err := Open(l.options())
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.File != tt.file || ve.Line != tt.line || !strings.Contains(ve.Problem, tt.problem) {
				t.Fatalf("Open: %v; want %s line %d: ...%s...", err, tt.file, tt.line, tt.problem)
			}
			w := l.open(t, func(o *Options) { o.AcceptTamperedTail = true })
			if err := w.Log(&Record{ID: "after"}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := repairs(t, l); len(got) != 1 || !strings.Contains(got[0], ve.Error()) {
				t.Errorf("repairs %q, want one naming %q", got, ve)
			}
			l.mustVerify(t)
		})
	}
}

const helperEnv = "SMGATE_LOGS_KILL_HELPER"

// TestHelperProcess is the child of TestKillMidBatch: it logs from several
// goroutines and prints "ack ID" for each record once a Flush after it
// returned, until it is killed.
func TestHelperProcess(t *testing.T) {
	dirs := os.Getenv(helperEnv)
	if dirs == "" {
		t.Skip("runs as the child of TestKillMidBatch")
	}
	dir, state, _ := strings.Cut(dirs, "|")
	w, err := Open(Options{Dir: dir, StateDir: state, Observer: "child"})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				if err := w.Log(&Record{ID: id, Action: ActionHTTPRequest, Message: strings.Repeat("x", i%300)}); err != nil {
					os.Exit(4)
				}
				if i%7 != 0 {
					continue
				}
				if err := w.Flush(); err != nil {
					os.Exit(5)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s\n", id)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestKillMidBatch kills a logging child with SIGKILL, tears the tail,
// and checks that Open keeps every acknowledged record and that the log
// verifies.
func TestKillMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	l := newTestLog(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+l.dir+"|"+l.state)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			t.Fatalf("child: %s", sc.Text())
		}
		acked[id] = true
		if len(acked) == 300 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d records", len(acked))
	}
	files, err := DayFiles(l.dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("day files %v, %v", files, err)
	}
	appendFile(t, files[len(files)-1].Path, `{"@timestamp":"2025-03-01T10:00:00Z","event.id":"g9-`)
	l.write(t, "after", 1)
	found := 0
	for _, r := range l.records(t) {
		if acked[r.ID] {
			found++
		}
	}
	if found != len(acked) {
		t.Errorf("%d of %d acknowledged records survived", found, len(acked))
	}
	if got := repairs(t, l); len(got) != 1 || !strings.HasPrefix(got[0], "cut torn tail of ") {
		t.Errorf("repairs %q", got)
	}
	l.mustVerify(t)
}
