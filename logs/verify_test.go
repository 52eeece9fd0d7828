package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

// threeDays writes 5 records on each of three days and returns the days.
func threeDays(t *testing.T, l *testLog) []time.Time {
	t.Helper()
	days := []time.Time{day1, day1.AddDate(0, 0, 1), day1.AddDate(0, 0, 2)}
	for i, d := range days {
		l.clock.Set(d)
		l.write(t, fmt.Sprintf("day%d", i+1), 5)
	}
	return days
}

// rechain recomputes every chain value under key, as someone who can
// write the log files could.
func rechain(t *testing.T, l *testLog, key []byte) {
	t.Helper()
	files, err := DayFiles(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newChain(key, genesis)
	for _, f := range files {
		lines := readLines(t, f.Path)
		for i, line := range lines {
			head, _, ok := splitChain([]byte(line))
			if !ok {
				t.Fatalf("%s line %d not chained", f.Name, i+1)
			}
			body := append(head, '}')
			out := appendChain(body, c.next(body))
			lines[i] = string(out[:len(out)-1])
		}
		writeLines(t, f.Path, lines)
	}
}

// editLines applies fn to the lines of a day file.
func editLines(t *testing.T, path string, fn func([]string) []string) {
	t.Helper()
	writeLines(t, path, fn(readLines(t, path)))
}

func TestVerifyClean(t *testing.T) {
	l := newTestLog(t)
	threeDays(t, l)
	res := l.mustVerify(t)
	if res.Files != 3 || res.Records != 15 || res.Partial != 0 {
		t.Errorf("Verify %+v", res)
	}
	c, _ := ReadCheckpoint(l.state)
	if res.Head != c.Head {
		t.Errorf("head %s, checkpoint %s", res.Head, c.Head)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		tamper  func(t *testing.T, l *testLog, days []time.Time)
		day     int // index into days of the file named
		line    int
		problem string
	}{
		{"altered field", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string {
				s[2] = strings.Replace(s[2], `"user.name":"u"`, `"user.name":"v"`, 1)
				return s
			})
		}, 1, 3, "record altered"},
		{"inserted line", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string {
				return append(s[:2], append([]string{s[1]}, s[2:]...)...)
			})
		}, 1, 3, "inserted"},
		{"inserted garbage", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string {
				return append(s[:2], append([]string{`{"event.id":"x"}`}, s[2:]...)...)
			})
		}, 1, 3, "not a chained record"},
		{"deleted line", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string { return append(s[:2], s[3:]...) })
		}, 1, 3, "line before it deleted"},
		{"swapped lines", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string {
				s[1], s[2] = s[2], s[1]
				return s
			})
		}, 1, 2, "lines 2 and 3 are out of order"},
		{"altered chain value", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string {
				s[3] = s[3][:len(s[3])-4] + "00\"}"
				return s
			})
		}, 1, 4, "chain value altered"},
		{"deleted middle day", nil, func(t *testing.T, l *testLog, d []time.Time) {
			remove(t, l.path(d[1]))
		}, 2, 1, "file " + DayFileName(day1.AddDate(0, 0, 1)) + " missing or chain broken at " + DayFileName(day1.AddDate(0, 0, 2)) + " line 1"},
		{"deleted last line of previous day", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string { return s[:4] })
		}, 2, 1, "previous day deleted"},
		{"cut tail of today", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[2]), func(s []string) []string { return s[:3] })
		}, 2, 4, "tail cut"},
		{"deleted today", nil, func(t *testing.T, l *testLog, d []time.Time) {
			remove(t, l.path(d[2]))
		}, 2, 0, "missing: the checkpoint names it"},
		{"rewritten chain", nil, func(t *testing.T, l *testLog, d []time.Time) {
			editLines(t, l.path(d[1]), func(s []string) []string { return append(s[:2], s[3:]...) })
			rechain(t, l, nil)
		}, 2, 5, "chain rewritten"},
		{"rewritten chain without the key", []byte("key"), func(t *testing.T, l *testLog, d []time.Time) {
			rechain(t, l, nil)
		}, 0, 1, "chain broken at the first line"},
		{"deleted checkpoint", nil, func(t *testing.T, l *testLog, d []time.Time) {
			remove(t, l.state+"/"+CheckpointFile)
		}, -1, 0, "missing from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t)
			l.key = tt.key
			days := threeDays(t, l)
			tt.tamper(t, l, days)
			_, err := Verify(l.verifyOptions())
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify: %v, want a *VerifyError", err)
			}
			file := CheckpointFile
			if tt.day >= 0 {
				file = DayFileName(days[tt.day])
			}
			if ve.File != file || ve.Line != tt.line || !strings.Contains(ve.Problem, tt.problem) {
				t.Errorf("Verify: %v; want %s line %d: ...%s...", ve, file, tt.line, tt.problem)
			}
		})
	}
}

func TestVerifySince(t *testing.T) {
	l := newTestLog(t)
	days := threeDays(t, l)
	editLines(t, l.path(days[0]), func(s []string) []string { // outside the range
		s[1] = strings.Replace(s[1], `"user.name":"u"`, `"user.name":"v"`, 1)
		return s
	})
	o := l.verifyOptions()
	o.Since = days[1].Add(5 * time.Hour)
	res, err := Verify(o)
	if err != nil || res.Files != 2 || res.Records != 10 {
		t.Errorf("Verify since day 2: %+v, %v", res, err)
	}
	editLines(t, l.path(days[1]), func(s []string) []string { return s[1:] })
	var ve *VerifyError
	if _, err := Verify(o); !errors.As(err, &ve) || ve.File != DayFileName(days[1]) || ve.Line != 1 {
		t.Errorf("Verify since day 2 with its first line deleted: %v", err)
	}
}

func TestVerifyPartialLastLine(t *testing.T) {
	l := newTestLog(t)
	threeDays(t, l)
	appendFile(t, l.path(day1.AddDate(0, 0, 2)), `{"event.id":"half`)
	res := l.mustVerify(t)
	if res.Partial != int64(len(`{"event.id":"half`)) || res.Records != 15 {
		t.Errorf("Verify %+v", res)
	}
}

// TestVerifyEmpty: a log with no day file passes only when its
// checkpoint expects none (a writer opened it and wrote nothing); a
// missing directory, or one with no day file and no such checkpoint (a
// mistyped path), is an error naming it, not "0 records verified".
func TestVerifyEmpty(t *testing.T) {
	t.Run("opened, nothing written", func(t *testing.T) {
		l := newTestLog(t)
		if err := l.open(t).Close(); err != nil {
			t.Fatal(err)
		}
		if res := l.mustVerify(t); res.Files != 0 || res.Records != 0 || !res.Empty {
			t.Errorf("Verify %+v, want an empty log", res)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		l := newTestLog(t)
		_, err := Verify(l.verifyOptions())
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), l.dir) {
			t.Errorf("Verify = %v, want an error naming %s", err, l.dir)
		}
	})
	for _, withState := range []bool{false, true} {
		t.Run(fmt.Sprintf("no day files, state dir %v", withState), func(t *testing.T) {
			l := newTestLog(t)
			if err := os.MkdirAll(l.dir, 0o750); err != nil {
				t.Fatal(err)
			}
			o := l.verifyOptions()
			if !withState {
				o.StateDir = ""
			}
			res, err := Verify(o)
			if !errors.Is(err, ErrNoDayFiles) || !strings.Contains(err.Error(), l.dir) || res.Empty {
				t.Errorf("Verify = %+v, %v; want ErrNoDayFiles naming %s", res, err, l.dir)
			}
		})
	}
	t.Run("checkpoint names a file", func(t *testing.T) {
		l := newTestLog(t)
		l.write(t, "a", 2)
		remove(t, l.path(day1))
		_, err := Verify(l.verifyOptions())
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.File != DayFileName(day1) {
			t.Errorf("Verify = %v, want the checkpoint's file missing", err)
		}
	})
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
