package logs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var day1 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// testLog is a log directory pair for one test.
type testLog struct {
	dir, state string
	clock      *testClock
	key        []byte
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	root := t.TempDir()
	return &testLog{dir: filepath.Join(root, "logs"), state: filepath.Join(root, "var"), clock: newClock(day1)}
}

func (l *testLog) options() Options {
	return Options{Dir: l.dir, StateDir: l.state, Observer: "gw-test", HMACKey: l.key, Now: l.clock.Now}
}

func (l *testLog) verifyOptions() VerifyOptions {
	return VerifyOptions{Dir: l.dir, StateDir: l.state, HMACKey: l.key}
}

// open opens a writer that the test's cleanup closes.
func (l *testLog) open(t *testing.T, mod ...func(*Options)) *Writer {
	t.Helper()
	o := l.options()
	for _, m := range mod {
		m(&o)
	}
	w, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// write logs n records with ids prefix-0.. and closes the writer.
func (l *testLog) write(t *testing.T, prefix string, n int) {
	t.Helper()
	w := l.open(t)
	for i := range n {
		if err := w.Log(&Record{ID: fmt.Sprintf("%s-%d", prefix, i), Action: ActionHTTPRequest, User: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// path returns the path of the day file of t.
func (l *testLog) path(t time.Time) string { return filepath.Join(l.dir, DayFileName(t)) }

// records decodes every line of every day file.
func (l *testLog) records(t *testing.T) []Record {
	t.Helper()
	files, err := DayFiles(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for _, f := range files {
		for i, line := range readLines(t, f.Path) {
			r, err := DecodeRecord([]byte(line))
			if err != nil {
				t.Fatalf("%s line %d: %v", f.Name, i+1, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// recordIDs returns the event.id of every record in the day files, in
// order, joined by commas.
func (l *testLog) recordIDs(t *testing.T) string {
	t.Helper()
	var ids []string
	for _, r := range l.records(t) {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ",")
}

func (l *testLog) mustVerify(t *testing.T) *VerifyResult {
	t.Helper()
	res, err := Verify(l.verifyOptions())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestWriterConcurrent(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t, func(o *Options) { o.QueueSize = 16 })
	const workers, each = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				if err := w.Log(&Record{ID: fmt.Sprintf("g%d-%d", g, i), Action: ActionDNSQuery}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range l.records(t) {
		if seen[r.ID] {
			t.Fatalf("duplicate record %s", r.ID)
		}
		seen[r.ID] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d records, want %d", len(seen), workers*each)
	}
	if res := l.mustVerify(t); res.Records != workers*each {
		t.Errorf("Verify walked %d records, want %d", res.Records, workers*each)
	}
	c, err := ReadCheckpoint(l.state)
	if err != nil || c.Records != workers*each || c.Lines != workers*each {
		t.Errorf("checkpoint %+v, %v", c, err)
	}
}

func TestWriterFillsTimeAndObserver(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	other := day1.Add(-time.Hour)
	for _, r := range []*Record{{ID: "a"}, {ID: "b", Time: other, Observer: "gw-2"}} {
		if err := w.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := l.records(t)
	if len(got) != 2 || !got[0].Time.Equal(day1) || got[0].Observer != "gw-test" ||
		!got[1].Time.Equal(other) || got[1].Observer != "gw-2" {
		t.Errorf("records %+v", got)
	}
	if fi, err := os.Stat(l.path(day1)); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("day file %v, %v", fi, err)
	}
}

func TestWriterDayRollover(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	day2 := day1.AddDate(0, 0, 1)
	logAt := func(id string, at time.Time) {
		t.Helper()
		if err := w.Log(&Record{ID: id, Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	logAt("d1-a", day1)
	logAt("d1-b", day1)
	logAt("d2-a", day2)
	logAt("late", day1) // stamped yesterday, written today: days never go back
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	logAt("d2-b", day2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, l.path(day1))); n != 2 {
		t.Errorf("%s has %d lines, want 2", DayFileName(day1), n)
	}
	if n := len(readLines(t, l.path(day2))); n != 3 {
		t.Errorf("%s has %d lines, want 3", DayFileName(day2), n)
	}
	if res := l.mustVerify(t); res.Files != 2 || res.Records != 5 {
		t.Errorf("Verify %+v", res)
	}
}

func TestWriterReopenContinuesChain(t *testing.T) {
	l := newTestLog(t)
	l.write(t, "first", 3)
	l.clock.Set(day1.AddDate(0, 0, 1))
	l.write(t, "second", 2)
	l.write(t, "third", 2)
	if res := l.mustVerify(t); res.Records != 7 {
		t.Errorf("Verify %+v", res)
	}
	c, err := ReadCheckpoint(l.state)
	if err != nil || c.Records != 7 || c.Lines != 4 || c.File != DayFileName(l.clock.Now()) {
		t.Errorf("checkpoint %+v, %v", c, err)
	}
}

func TestWriterClosed(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(&Record{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Log after Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if err := w.Healthy(); !errors.Is(err, ErrClosed) {
		t.Errorf("Healthy after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func TestWriterLocked(t *testing.T) {
	l := newTestLog(t)
	l.open(t)
	if _, err := Open(l.options()); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
}

// TestInUse: InUse reports an open writer, and neither a log never
// opened nor one closed; asking does not keep Open from taking the lock.
func TestInUse(t *testing.T) {
	l := newTestLog(t)
	inUse := func(want bool) {
		t.Helper()
		if got, err := InUse(l.state); got != want || err != nil {
			t.Errorf("InUse = %v, %v; want %v", got, err, want)
		}
	}
	inUse(false)
	w := l.open(t)
	inUse(true)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	inUse(false)
	l.open(t)
	inUse(true)
}

// TestWriterDiskFailure makes the next day file impossible to create (a
// directory sits at its path: that stops root too), checks that the
// writer reports it and refuses new records, then removes the obstacle
// and checks that nothing queued was lost.
func TestWriterDiskFailure(t *testing.T) {
	l := newTestLog(t)
	reg := prometheus.NewRegistry()
	w := l.open(t, func(o *Options) { o.Registerer = reg })
	if err := w.Log(&Record{ID: "before"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	day2 := l.breakNextDay(t)
	if err := w.Log(&Record{ID: "queued"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	if err := w.Healthy(); err == nil {
		t.Error("Healthy is nil with an unwritable day file")
	}
	if err := w.Log(&Record{ID: "refused"}); err == nil {
		t.Error("Log accepted a record while unhealthy")
	}
	if v := testutil.ToFloat64(w.m.healthy); v != 0 {
		t.Errorf("smgate_logs_healthy = %v", v)
	}
	if err := os.Remove(l.path(day2)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after repair: %v", err)
	}
	if err := w.Healthy(); err != nil {
		t.Errorf("Healthy after repair: %v", err)
	}
	if err := w.Log(&Record{ID: "after"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.recordIDs(t); got != "before,queued,after" {
		t.Errorf("records %s, want before,queued,after", got)
	}
	l.mustVerify(t)
	if v := testutil.ToFloat64(w.m.failures); v < 1 {
		t.Errorf("smgate_logs_write_failures_total = %v", v)
	}
}

// TestWriterLogAlwaysWhileFailing: while the writer cannot write, Log
// refuses a record but LogAlways queues it, and it is written, in its
// place in the chain, once the disk can be written again.
func TestWriterLogAlwaysWhileFailing(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	day2 := l.breakNextDay(t)
	if err := w.Log(&Record{ID: "queued"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	if err := w.Log(&Record{ID: "refused"}); err == nil {
		t.Fatal("Log accepted a record while unhealthy")
	}
	if err := w.LogAlways(&Record{ID: "change", Action: ActionSuspend}); err != nil {
		t.Fatalf("LogAlways while unhealthy: %v", err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	if err := os.Remove(l.path(day2)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after repair: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.recordIDs(t); got != "queued,change" {
		t.Errorf("records %s, want queued,change", got)
	}
	l.mustVerify(t)
	if err := w.LogAlways(&Record{ID: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("LogAlways after Close: %v, want ErrClosed", err)
	}
}

// TestWriterFailureAfterDayRollover fails the second day file of a batch
// that spans midnight: the first day's records are written, the rest stay
// queued and chain on from them once the file can be written.
func TestWriterFailureAfterDayRollover(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	day2 := day1.AddDate(0, 0, 1)
	if err := os.Mkdir(l.path(day2), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Record{{ID: "d1-a", Time: day1}, {ID: "d1-b", Time: day1}, {ID: "d2-a", Time: day2}} {
		if err := w.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	if n := len(readLines(t, l.path(day1))); n != 2 {
		t.Errorf("%s has %d lines before the repair, want 2", DayFileName(day1), n)
	}
	if err := os.Remove(l.path(day2)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after repair: %v", err)
	}
	if err := w.Log(&Record{ID: "d2-b", Time: day2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.recordIDs(t); got != "d1-a,d1-b,d2-a,d2-b" {
		t.Errorf("records %s, want d1-a,d1-b,d2-a,d2-b", got)
	}
	if res := l.mustVerify(t); res.Files != 2 || res.Records != 4 {
		t.Errorf("Verify %+v", res)
	}
}

// TestWriterCheckpointFailure replaces the state directory by a file so
// that the checkpoint cannot be written.
func TestWriterCheckpointFailure(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	moved := l.state + ".moved"
	if err := os.Rename(l.state, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(&Record{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush() // the record is written; the checkpoint is not
	if err := w.Healthy(); err == nil {
		t.Fatal("Healthy is nil without a checkpoint")
	}
	if err := os.Remove(l.state); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, l.state); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Healthy(); err != nil {
		t.Errorf("Healthy after repair: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l.mustVerify(t)
}

func TestWriterLogsChainHead(t *testing.T) {
	l := newTestLog(t)
	var buf syncBuffer
	w := l.open(t, func(o *Options) {
		o.Logger = zerologTo(&buf)
		o.HeadEvery = 2
	})
	for i := range 4 {
		if err := w.Log(&Record{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	heads := 0
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"message":"usage log chain head"`) {
			heads++
		}
	}
	if heads != 3 { // after records 2 and 4, and at Close
		t.Errorf("%d chain head lines, want 3:\n%s", heads, buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine's logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func zerologTo(w *syncBuffer) zerolog.Logger { return zerolog.New(w) }

// TestWriterDiskFull points the day file at /dev/full, where every write
// fails with ENOSPC (for root too), then puts a real file back.
func TestWriterDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	l := newTestLog(t)
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", l.path(day1)); err != nil {
		t.Fatal(err)
	}
	w := l.open(t)
	if err := w.Log(&Record{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Flush on a full disk: %v", err)
	} else if n := strings.Count(err.Error(), l.path(day1)); n != 1 {
		t.Errorf("the error names the file %d times: %v", n, err)
	}
	if err := w.Log(&Record{ID: "refused"}); err == nil {
		t.Error("Log accepted a record on a full disk")
	}
	remove(t, l.path(day1))
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after space came back: %v", err)
	}
	if err := w.Log(&Record{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.records(t); len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Errorf("records %+v", got)
	}
	l.mustVerify(t)
}

// TestWriterRefusesUnchainedLine queues a line without a chain value, which
// Log never makes: the writer writes nothing of its batch, keeps the
// checkpoint with the file and reports itself unhealthy, instead of
// leaving the checkpoint behind the file.
func TestWriterRefusesUnchainedLine(t *testing.T) {
	l := newTestLog(t)
	w := l.open(t)
	if err := w.Log(&Record{ID: "good", Action: ActionHTTPRequest, User: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := []byte(`{"event.id":"bare"}` + "\n")
	w.mu.RLock()
	w.q <- item{b: &b, day: dayOf(l.clock.Now())}
	w.mu.RUnlock()
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "chain value") {
		t.Fatalf("Flush after an unchained line: %v", err)
	}
	if err := w.Healthy(); err == nil || !strings.Contains(err.Error(), "chain value") {
		t.Errorf("Healthy: %v", err)
	}
	if lines := readLines(t, l.path(day1)); len(lines) != 1 || !strings.Contains(lines[0], `"good"`) {
		t.Errorf("day file: %q", lines)
	}
	l.mustVerify(t)
}

// TestWriterCheckpointAfterFailurePastMidnight: a batch that writes the
// last records of one day and then fails in the next day's new file (a
// disk that filled up around midnight) must checkpoint where its last
// record is, in the first day's file. A checkpoint naming the new, empty
// file made verify report the chain rewritten and Open refuse the log
// once the gateway stopped.
func TestWriterCheckpointAfterFailurePastMidnight(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	l := newTestLog(t)
	w := l.open(t)
	if err := w.Log(&Record{ID: "d1-a"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	day2 := day1.AddDate(0, 0, 1)
	if err := os.Symlink("/dev/full", l.path(day2)); err != nil {
		t.Fatal(err)
	}
	if err := w.LogAlways(&Record{ID: "d1-b", Action: ActionSuspend, Time: day1.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := w.LogAlways(&Record{ID: "d2-a", Action: ActionReinstate, Time: day2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with a full day file")
	}
	c, err := ReadCheckpoint(l.state)
	if err != nil {
		t.Fatal(err)
	}
	if want := DayFileName(day1); c.File != want || c.Lines != 2 || c.Records != 2 {
		t.Errorf("checkpoint %+v, want %s with 2 lines and 2 records", c, want)
	}
	if err := w.Close(); err == nil {
		t.Error("Close reported no records lost")
	}
	// What a full disk leaves: the new day's file, empty.
	remove(t, l.path(day2))
	if err := os.WriteFile(l.path(day2), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if res := l.mustVerify(t); res.Records != 2 {
		t.Errorf("Verify %+v, want 2 records", res)
	}
	w = l.open(t)
	if err := w.Log(&Record{ID: "d2-b", Time: day2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.recordIDs(t); got != "d1-a,d1-b,d2-b" {
		t.Errorf("records %s, want d1-a,d1-b,d2-b", got)
	}
	l.mustVerify(t)
}

// TestWriterCloseNamesLostRecords: records still queued when the writer
// closes during an outage are lost; Close says how many and the
// operational log holds each one whole, so that an operator knows which
// changes were made without a record.
func TestWriterCloseNamesLostRecords(t *testing.T) {
	l := newTestLog(t)
	var oplog syncBuffer
	w := l.open(t, func(o *Options) { o.Logger = zerologTo(&oplog) })
	l.breakNextDay(t)
	// A request accepted just before the disk filled, then two changes.
	if err := w.Log(&Record{ID: "q1", Action: ActionHTTPRequest, User: "jsmith", Path: "/secret-page"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	if err := w.LogAlways(&Record{ID: "s1", Action: ActionSuspend, Target: "agency:DOT", By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := w.LogAlways(&Record{ID: "r1", Action: ActionReinstate, Target: "agency:DOT", By: "bob"}); err != nil {
		t.Fatal(err)
	}
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "3 records not written") {
		t.Fatalf("Close: %v, want 3 records not written", err)
	}
	if strings.Contains(oplog.String(), "jsmith") || strings.Contains(oplog.String(), "secret-page") {
		t.Errorf("a lost request's user or path is in the operational log:\n%s", oplog.String())
	}
	var lost []string
	for _, line := range strings.Split(strings.TrimSpace(oplog.String()), "\n") {
		var m struct {
			Msg    string          `json:"message"`
			Record json.RawMessage `json:"record"`
			ID     string          `json:"event.id"`
			Action string          `json:"event.action"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("operational log line %q: %v", line, err)
		}
		if !strings.HasPrefix(m.Msg, "usage record lost") {
			continue
		}
		if m.Record == nil {
			lost = append(lost, m.ID+" "+m.Action)
			continue
		}
		r, err := DecodeRecord(m.Record)
		if err != nil {
			t.Fatalf("lost record %s: %v", m.Record, err)
		}
		lost = append(lost, r.ID+" "+r.Action+" "+r.By)
	}
	if got := strings.Join(lost, ", "); got != "q1 http_request, s1 suspend alice, r1 reinstate bob" {
		t.Errorf("lost records in the operational log: %q", got)
	}
}

// TestWriterQueuedRecordsCountsHeld: while the log cannot be written the
// records the writer keeps for the retry are counted by
// smgate_logs_queued_records, which read 0 with suspensions waiting.
func TestWriterQueuedRecordsCountsHeld(t *testing.T) {
	l := newTestLog(t)
	reg := prometheus.NewRegistry()
	w := l.open(t, func(o *Options) { o.Registerer = reg })
	queued := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "smgate_logs_queued_records" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no smgate_logs_queued_records")
		return 0
	}
	day2 := l.breakNextDay(t)
	for _, id := range []string{"s1", "r1"} {
		if err := w.LogAlways(&Record{ID: id, Action: ActionSuspend}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	if v := queued(); v != 2 {
		t.Errorf("smgate_logs_queued_records = %v during the outage, want 2", v)
	}
	remove(t, l.path(day2))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if v := queued(); v != 0 {
		t.Errorf("smgate_logs_queued_records = %v once written, want 0", v)
	}
}

// breakNextDay moves the clock to the day after day1 and makes that day's
// file impossible to create (a directory at its path stops root too), so
// that the next batch fails; it returns the day.
func (l *testLog) breakNextDay(t *testing.T) time.Time {
	t.Helper()
	day2 := day1.AddDate(0, 0, 1)
	l.clock.Set(day2)
	if err := os.Mkdir(l.path(day2), 0o750); err != nil {
		t.Fatal(err)
	}
	return day2
}
