package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/internal/atomicfile"
)

// ErrClosed is returned by Log and Flush after Close.
var ErrClosed = errors.New("usage log writer closed")

// ErrLocked is returned by Open when another process has the log open.
var ErrLocked = errors.New("usage log is open in another process")

// Options configure a Writer.
type Options struct {
	// Dir holds the day files; it is created (0750) when missing.
	Dir string
	// StateDir (the gateway's data_dir) holds the checkpoint, the prune
	// anchors, the holds and the lock; it is created when missing.
	StateDir string
	// Observer is observer.name for records that leave it empty.
	Observer string
	// HMACKey keys the chain (HMAC-SHA-256); nil means plain SHA-256.
	HMACKey []byte
	// QueueSize bounds the records waiting to be written; 0 means 65536.
	QueueSize int
	// Now is the clock for @timestamp, day files and the head log; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives operational messages; the zero Logger discards them.
	Logger zerolog.Logger
	// Registerer takes the writer's metrics; nil registers none.
	Registerer prometheus.Registerer
	// AcceptTamperedTail lets Open go on when the files do not match the
	// checkpoint (fewer records, another chain value, a missing file); a
	// repair record then says what was found. When false, Open fails.
	AcceptTamperedTail bool
	// AcceptedBy is who accepted it (smgate.by of the repair records).
	AcceptedBy string
	// HeadEvery is how many records pass between two log lines of the
	// chain head; 0 means 100000.
	HeadEvery int64
	// HeadInterval is the longest time between two such lines while
	// records come in; 0 means 5 minutes.
	HeadInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HeadEvery <= 0 {
		o.HeadEvery = 100000
	}
	if o.HeadInterval <= 0 {
		o.HeadInterval = 5 * time.Minute
	}
	return o
}

// Writer is the durable usage-log writer: callers encode, chain and queue
// records, one goroutine appends them in batches to the day's file with
// one fsync per batch (group commit) and checkpoints the chain head. It
// never drops a record: a full queue makes Log wait, a failed write keeps
// the batch and retries it. It implements Sink.
type Writer struct {
	o      Options
	q      chan item
	nudge  chan struct{}
	done   chan struct{}
	mu     sync.RWMutex // held for reading while sending on q
	closed bool
	cmu    sync.Mutex // orders chaining and queueing of records
	chain  *chain     // guarded by cmu: its head is the last queued record's
	health atomic.Pointer[error]
	m      *metrics
	lock   *os.File
	st     state // owned by the writer goroutine once it runs
	err    error // set by the writer goroutine before done closes

	// held counts the records the writer goroutine took from q and has
	// not written: during an outage they wait there, not in q, and
	// smgate_logs_queued_records counts them too.
	held atomic.Int64
}

// item is a record or, when r is nil, a Flush waiting for what is before
// it.
type item struct {
	b    *[]byte // the encoded and chained record, from recBufs
	day  int
	done chan error
}

// recBufs holds the buffers records are encoded into by Log, until the
// writer has written them.
var recBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// state is where the writer appends; only its goroutine touches it.
type state struct {
	lastCommit time.Time // when the last commit began
	last       Sum       // the chain value of the last record written
	file       *os.File
	day        int   // yyyymmdd of the current day file, 0 before the first
	size       int64 // bytes of the day file known written and fsynced
	lines      int64 // lines of the day file known written and fsynced
	// headDay and headLines place the last record written (st.last):
	// the checkpoint names them, not the day file open for appending,
	// which after a batch that failed past midnight is a new file with
	// no record of the chain yet. headDay is 0 before the first.
	headDay   int
	headLines int64
	records   int64 // records since genesis, as far as the writer knows
	buf       []byte
	pending   []item
	answers   []flushAnswer // reused by answer
	ckptDue   bool          // records committed since the last checkpoint
	ckpt      *ckptFile
	head      headLog
	backoff   time.Duration
	async     *asyncSync // nil when the kernel cannot fsync asynchronously
}

// Open recovers the log in o.Dir (see recoverLog), starts the writer
// goroutine and writes a repair record for anything it had to repair.
func Open(o Options) (*Writer, error) {
	o = o.withDefaults()
	for _, d := range []string{o.Dir, o.StateDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("open usage log: %w", err)
		}
	}
	lock, err := lockDir(o.StateDir)
	if err != nil {
		return nil, err
	}
	w := &Writer{o: o, q: make(chan item, o.QueueSize), nudge: make(chan struct{}, 1),
		done: make(chan struct{}), lock: lock}
	if w.m, err = newMetrics(o.Registerer, func() float64 { return float64(len(w.q)) + float64(w.held.Load()) }); err != nil {
		_ = lock.Close()
		return nil, err
	}
	rec, err := recoverLog(o)
	if err != nil {
		w.m.unregister()
		_ = lock.Close()
		return nil, err
	}
	ckpt, err := openCheckpoint(o.StateDir)
	if err != nil {
		w.m.unregister()
		_ = lock.Close()
		return nil, fmt.Errorf("open usage log: %w", err)
	}
	w.chain = newChain(o.HMACKey, rec.head)
	w.st = state{last: rec.head, day: rec.day, size: rec.size,
		lines: rec.lines, records: rec.records, ckpt: ckpt, async: newAsyncSync(), head: headLog{every: o.HeadEvery,
			interval: o.HeadInterval, at: o.Now(), records: rec.records}}
	if rec.lines > 0 {
		w.st.headDay, w.st.headLines = rec.day, rec.lines
	}
	w.st.ckpt.fsync = w.sync // the checkpoint's fsync, too, waits without holding a P
	go w.run()
	if err := w.logRepairs(rec.repairs); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open usage log: write repair record: %w", err)
	}
	return w, nil
}

func (w *Writer) logRepairs(msgs []repair) error {
	for _, m := range msgs {
		w.o.Logger.Error().Str(fieldFile, m.file).Msg(m.msg)
		r := &Record{Action: ActionRepair, Outcome: OutcomeSuccess, Message: m.msg, Target: "file:" + m.file, By: w.o.AcceptedBy}
		if err := w.Log(r); err != nil {
			return err
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return w.Flush()
}

// lockDir takes an exclusive lock on dir/logs.lock for the life of the
// writer, so that two processes never append to one chain.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "logs.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open usage log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("open usage log %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open usage log: lock %s: %w", path, err)
	}
	return f, nil
}

// InUse reports whether another process has the usage log of stateDir
// open (Open would return ErrLocked). It opens the lock file read-only,
// so that a user who may read but not write stateDir can ask, and holds
// the lock only for the moment it takes to test it.
func InUse(stateDir string) (bool, error) {
	path := filepath.Join(stateDir, "logs.lock")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // no writer has ever opened it
	}
	if err != nil {
		return false, fmt.Errorf("usage log lock: %w", err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("usage log lock %s: %w", path, err)
	}
	return false, nil // closing f releases the lock
}

// Log encodes r and queues it. It sets r.Time to now and r.Observer to
// the writer's when empty, waits while the queue is full, and returns an
// error when the writer is closed or cannot write (Healthy's error). It
// does not keep r.
func (w *Writer) Log(r *Record) error { return w.log(r, false) }

// LogAlways is Log for the few records of changes that are in force
// whether or not the log can be written (a suspension, a reinstatement, a
// reload, a prune): while the writer is failing it queues r all the same,
// so that r is written in its place in the chain once the disk is
// writable again rather than lost. It fails only when the writer is
// closed; Flush tells whether r is written yet. Front doors use Log,
// which refuses records while failing so that the queue does not grow.
func (w *Writer) LogAlways(r *Record) error { return w.log(r, true) }

// log is Log, or LogAlways when always.
func (w *Writer) log(r *Record, always bool) error {
	w.stamp(r)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	err := w.Healthy()
	if err != nil && !always {
		w.poke()
		return err
	}
	w.enqueue(r)
	if err != nil {
		w.poke() // a retry now takes r along
	}
	return nil
}

// stamp sets r.Time to now and r.Observer to the writer's when empty.
func (w *Writer) stamp(r *Record) {
	if r.Time.IsZero() {
		r.Time = w.o.Now()
	}
	if r.Observer == "" {
		r.Observer = w.o.Observer
	}
}

// enqueue encodes, chains and queues r. w.mu must be read-locked.
func (w *Writer) enqueue(r *Record) {
	// Encoded and chained here, by the caller, so that r is the caller's
	// again once Log returns and the writer's batches are only written.
	// The writer used to chain each batch before writing it: on one
	// processor that burst of hashing (about half a millisecond for a
	// 5 ms batch at 120,000 records a second) kept every front door
	// waiting; here it is spread over the records, a quarter of a
	// microsecond each. A record's place in the chain is its place in
	// the queue, and a failed write keeps it queued, so the chain never
	// goes back.
	b := recBufs.Get().(*[]byte)
	*b = AppendRecord((*b)[:0], r)
	w.cmu.Lock()
	defer w.cmu.Unlock()
	sum := w.chain.next(*b)
	*b = appendChain(*b, sum)
	w.q <- item{b: b, day: dayOf(r.Time)}
}

// poke asks the writer goroutine to retry a failed batch now.
func (w *Writer) poke() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Flush waits until every record whose Log returned before the call is
// written and fsynced. It returns the write error when that failed; the
// records are then still queued for a retry.
func (w *Writer) Flush() error {
	done := make(chan error, 1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	w.q <- item{done: done}
	w.poke() // a writer gathering a batch (see commitGap) commits now
	w.mu.RUnlock()
	return <-done
}

// Healthy returns nil when records can be written, or why they cannot.
func (w *Writer) Healthy() error {
	if p := w.health.Load(); p != nil {
		return *p
	}
	return nil
}

// Close writes everything queued, fsyncs, checkpoints and releases the
// log. It returns an error when records could not be written.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.mu.Unlock()
	close(w.q)
	<-w.done
	closed := ErrClosed
	w.health.Store(&closed)
	w.m.unregister()
	if err := w.lock.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("close usage log: %w", err)
	}
	return w.err
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for open := true; open; {
		open = w.collect(retry)
		w.commit(retry)
	}
	w.err = w.finish()
}

// collect gathers the next batch into st.pending: it waits for one item
// (or, after a failure, for a retry signal) then takes whatever else is
// queued. It reports false once the queue is closed and empty. While
// failing it keeps taking items, so no Log waits on a full queue for the
// disk: they are few, as Log refuses new records meanwhile.
func (w *Writer) collect(retry *time.Timer) bool {
	st := &w.st
	if len(st.pending) == 0 && !st.ckptDue && w.Healthy() == nil {
		it, ok := <-w.q
		if !ok {
			return false
		}
		st.pending = append(st.pending, it)
		w.gather(it)
		return w.drain()
	}
	select {
	case it, ok := <-w.q:
		if !ok {
			return false
		}
		st.pending = append(st.pending, it)
	case <-w.nudge:
	case <-retry.C:
	}
	return w.drain()
}

// commitGap is the least time between the starts of two commits while
// records keep coming: the first record after a commit waits up to that
// long for others to join its batch. Each commit is a write, an fsync and
// a checkpoint write; committing as soon as the previous fsync returned
// made hundreds of small commits a second at a moderate record rate, and
// the fsyncs' work in the kernel took a sixth of a one-core gateway's
// processor opening TLS tunnels in the benchmark lab. A Flush does not
// wait.
const commitGap = 5 * time.Millisecond

// gather waits, after first (the item that ended an idle wait), until
// commitGap has passed since the last commit began, unless first is a
// Flush or a Flush comes meanwhile.
func (w *Writer) gather(first item) {
	if first.b == nil {
		return
	}
	d := commitGap - time.Since(w.st.lastCommit)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.nudge:
	}
}

// drain moves up to a queue's worth of queued items into st.pending
// without waiting.
func (w *Writer) drain() bool {
	st := &w.st
	for range w.o.QueueSize {
		select {
		case it, ok := <-w.q:
			if !ok {
				return false
			}
			st.pending = append(st.pending, it)
			if it.b != nil {
				w.held.Add(1) // still queued, as smgate_logs_queued_records counts
			}
		default:
			return true
		}
	}
	return true
}

// commit writes st.pending, checkpoints and answers the Flush calls in
// it. On failure the records not written stay in st.pending and retry is
// armed.
func (w *Writer) commit(retry *time.Timer) {
	w.st.lastCommit = time.Now()
	n, err := w.writePending()
	var cerr error
	if w.st.ckptDue {
		cerr = w.checkpoint()
	}
	if first := errors.Join(err, cerr); first != nil {
		w.fail(first, retry)
	} else {
		w.recovered(retry)
	}
	w.answer(n, cerr, err) // after the health, so Flush callers see it
}

// answer tells the Flush calls among the first n pending items, whose
// records are written, the checkpoint's error (nil when it is saved), and
// those after the write error; it keeps only the records not written.
func (w *Writer) answer(n int, done, failed error) {
	st := &w.st
	answers := st.answers[:0]
	for _, it := range st.pending[:n] {
		if it.b == nil {
			answers = append(answers, flushAnswer{it.done, done})
		} else if cap(*it.b) <= 64<<10 {
			recBufs.Put(it.b)
		}
	}
	kept := st.pending[:0]
	for _, it := range st.pending[n:] {
		if it.b == nil {
			answers = append(answers, flushAnswer{it.done, failed})
			continue
		}
		kept = append(kept, it)
	}
	clear(st.pending[len(kept):])
	st.pending = kept
	// Counted before the Flush calls are answered, so that they see in
	// smgate_logs_queued_records the records still queued.
	w.held.Store(int64(len(kept)))
	for _, a := range answers {
		a.done <- a.err
	}
	clear(answers)
	st.answers = answers[:0]
}

// flushAnswer is what a Flush call is told once its batch is done.
type flushAnswer struct {
	done chan error
	err  error
}

func (w *Writer) fail(err error, retry *time.Timer) {
	w.m.failures.Inc()
	w.m.healthy.Set(0)
	st := &w.st
	if w.Healthy() == nil {
		w.o.Logger.Error().Err(err).Int(fieldPending, len(st.pending)).
			Msg("usage log cannot be written; blocking social traffic")
	}
	werr := fmt.Errorf("usage log unavailable: %w", err)
	w.health.Store(&werr)
	st.backoff = min(max(2*st.backoff, 50*time.Millisecond), 5*time.Second)
	retry.Reset(st.backoff)
}

func (w *Writer) recovered(retry *time.Timer) {
	if w.Healthy() != nil {
		w.o.Logger.Info().Msg("usage log writable again")
		w.health.Store(nil)
		w.m.healthy.Set(1)
		retry.Stop()
	}
	w.st.backoff = 0
}

// writePending writes the pending records, one segment per day file, and
// returns how many pending items are done.
func (w *Writer) writePending() (int, error) {
	p := w.st.pending
	for i := 0; i < len(p); {
		day, j := w.segment(p[i:])
		j += i
		if err := w.writeSegment(p[i:j], day); err != nil {
			return i, err
		}
		i = j
	}
	return len(p), nil
}

// segment returns the day file for the first record of p and the length
// of the run of items that go there. Days never go back: a record stamped
// before the current day goes in the current file.
func (w *Writer) segment(p []item) (day, n int) {
	for ; n < len(p); n++ {
		if p[n].b == nil {
			continue
		}
		d := max(w.st.day, p[n].day)
		if day == 0 {
			day = d
		} else if d > day {
			return day, n
		}
	}
	if day == 0 {
		day = w.st.day
	}
	return day, n
}

// writeSegment appends the records of p to the file of day and fsyncs it.
// On failure the file is rolled back to before p.
func (w *Writer) writeSegment(p []item, day int) error {
	st := &w.st
	buf, count, last := st.buf[:0], int64(0), []byte(nil)
	for _, it := range p {
		if it.b == nil {
			continue
		}
		buf = append(buf, *it.b...)
		last = *it.b
		count++
	}
	st.buf = buf
	if count == 0 {
		return nil
	}
	// The chain value of the last record, for the checkpoint, is read back
	// from its line rather than carried in every queued item. Log writes
	// every line with one; a line without would leave the checkpoint
	// behind the file, so nothing is written and the log reports itself
	// unhealthy (social traffic is refused) rather than go on.
	_, sum, ok := splitChain(bytes.TrimSuffix(last, []byte("\n")))
	if !ok {
		return errors.New("usage log record without a chain value; not written")
	}
	if err := w.ensureFile(day); err != nil {
		return err
	}
	if err := w.writeSync(buf); err != nil {
		w.rollback()
		return err
	}
	st.last = sum
	st.size += int64(len(buf))
	st.lines += count
	st.headDay, st.headLines = day, st.lines
	st.records += count
	st.ckptDue = true
	w.m.records.Add(float64(count))
	return nil
}

// pathErr returns err naming the operation op on the file name, once: an
// *fs.PathError from the os package already does.
func pathErr(op, name string, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return err
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

func (w *Writer) writeSync(buf []byte) error {
	start := time.Now()
	if _, err := w.st.file.Write(buf); err != nil {
		return pathErr("write", w.st.file.Name(), err)
	}
	if err := w.sync(w.st.file); err != nil {
		return pathErr("fsync", w.st.file.Name(), err)
	}
	w.m.fsync.Observe(time.Since(start).Seconds())
	w.m.batches.Inc()
	return nil
}

// sync fsyncs f, asynchronously when the kernel can (see asyncSync).
func (w *Writer) sync(f *os.File) error {
	if w.st.async != nil {
		err := w.st.async.sync(f)
		if !errors.Is(err, errAsyncUnsupported) {
			return err
		}
		w.st.async.close()
		w.st.async = nil
	}
	return f.Sync()
}

// rollback cuts what a failed batch may have left in the file; when it
// cannot, the file is closed and ensureFile cuts it when it reopens it.
func (w *Writer) rollback() {
	st := &w.st
	if st.file.Truncate(st.size) == nil {
		return
	}
	_ = st.file.Close()
	st.file = nil
}

// ensureFile makes st.file the open day file of day, rolling over from the
// previous day or reopening the file after a failure.
func (w *Writer) ensureFile(day int) error {
	st := &w.st
	if st.file != nil && st.day == day {
		return nil
	}
	if st.file != nil {
		_ = st.file.Close() // fsynced after its last batch
		st.file = nil
	}
	path := filepath.Join(w.o.Dir, dayFileName(day))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open day file: %w", err)
	}
	if err := w.adopt(f, day); err != nil {
		_ = f.Close()
		return err
	}
	st.file = f
	return nil
}

// adopt checks the size of a freshly opened day file against what the
// writer knows of it and records it as the current file.
func (w *Writer) adopt(f *os.File, day int) error {
	st := &w.st
	fi, err := f.Stat()
	if err != nil {
		return pathErr("stat", f.Name(), err)
	}
	if st.day != day { // a new day: make its directory entry durable
		if err := atomicfile.SyncDir(w.o.Dir); err != nil {
			return err
		}
		st.day, st.size, st.lines = day, fi.Size(), 0
		if fi.Size() > 0 { // not ours: count its lines, Verify judges them
			sc, err := scanFile(f.Name(), 0)
			if err != nil {
				return err
			}
			st.lines = sc.lines
		}
		return nil
	}
	switch {
	case fi.Size() < st.size:
		return fmt.Errorf("%s shrank from %d to %d bytes while open: an operator must check it",
			f.Name(), st.size, fi.Size())
	case fi.Size() > st.size:
		if err := f.Truncate(st.size); err != nil {
			return fmt.Errorf("cut failed batch from %s: %w", f.Name(), err)
		}
	}
	return nil
}

// checkpoint saves the chain head after a batch and copies it to the
// operational log when due.
func (w *Writer) checkpoint() error {
	st := &w.st
	if st.headDay == 0 {
		return nil
	}
	c := &Checkpoint{File: dayFileName(st.headDay), Lines: st.headLines, Records: st.records,
		Head: st.last.String(), Time: w.o.Now().UTC()}
	if err := st.ckpt.write(c, c.Time, false); err != nil {
		return err
	}
	st.ckptDue = false
	if st.head.due(c.Time, st.records) {
		logHead(w.o.Logger, c)
	}
	return nil
}

// finish writes what is left after the queue closed, retrying a failing
// write a few times, and closes the day file.
func (w *Writer) finish() error {
	st := &w.st
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for i := 0; i < 3 && (len(st.pending) > 0 || st.ckptDue); i++ {
		if i > 0 {
			<-retry.C
		}
		w.commit(retry)
	}
	retry.Stop()
	var err error
	if st.file != nil {
		err = st.file.Close()
	}
	err = errors.Join(err, st.ckpt.close(w.o.Now()))
	if st.async != nil {
		st.async.close()
		st.async = nil
	}
	if len(st.pending) > 0 || st.ckptDue {
		w.logLost()
		return fmt.Errorf("close usage log: %d records not written: %w", len(st.pending), w.Healthy())
	}
	if err != nil {
		return fmt.Errorf("close usage log: %w", err)
	}
	if st.headDay != 0 {
		logHead(w.o.Logger, &Checkpoint{File: dayFileName(st.headDay), Lines: st.headLines,
			Records: st.records, Head: st.last.String()})
	}
	return nil
}

// logLost copies each record still unwritten when the writer closes into
// the operational log, in chain order, as an error: the usage log will
// not hold it (a suspension ordered during a disk outage, say, is in
// force but its record is gone with the process), and an operator must be
// able to tell which records were lost, not only how many. A change's
// record (suspend, reinstate, reload, prune, hold, repair) is copied
// whole; of a request's or a DNS query's, which name users and the pages
// they asked for, only its time, id and action, since the operational
// log is not kept and read like the usage log.
func (w *Writer) logLost() {
	for _, it := range w.st.pending {
		if it.b == nil {
			continue
		}
		line := bytes.TrimSuffix(*it.b, []byte("\n"))
		e := w.o.Logger.Error()
		switch r, err := DecodeRecord(line); {
		case err != nil:
			e = e.RawJSON(fieldRecord, line)
		case r.Action == ActionHTTPRequest || r.Action == ActionConnect || r.Action == ActionDNSQuery:
			e = e.Str(KeyTimestamp, string(appendTimestamp(nil, r.Time))).Str(KeyID, r.ID).Str(KeyAction, r.Action)
		default:
			e = e.RawJSON(fieldRecord, line)
		}
		e.Msg("usage record lost: not written before the usage log closed")
	}
}

const dayLayout = "2006-01-02"

// DayFile is one daily usage-log file.
type DayFile struct {
	Name string    // usage-YYYY-MM-DD.jsonl
	Path string    // Dir joined with Name
	Day  time.Time // midnight UTC of the day
}

// DayFileName returns the name of the file of the UTC day of t.
func DayFileName(t time.Time) string { return dayFileName(dayOf(t)) }

// dayOf returns t's UTC date as yyyymmdd.
func dayOf(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

func dayFileName(day int) string {
	return fmt.Sprintf("usage-%04d-%02d-%02d.jsonl", day/10000, day/100%100, day%100)
}

func dayTime(day int) time.Time {
	return time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, time.UTC)
}

// parseDayFileName returns the day of a day file name.
func parseDayFileName(name string) (time.Time, bool) {
	const prefix, suffix = "usage-", ".jsonl"
	if len(name) != len(prefix)+len(dayLayout)+len(suffix) ||
		name[:len(prefix)] != prefix || name[len(name)-len(suffix):] != suffix {
		return time.Time{}, false
	}
	t, err := time.Parse(dayLayout, name[len(prefix):len(prefix)+len(dayLayout)])
	return t, err == nil
}

// DayFiles lists the day files in dir, oldest first. A missing dir has
// none.
func DayFiles(dir string) ([]DayFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list day files: %w", err)
	}
	var files []DayFile
	for _, e := range ents {
		if t, ok := parseDayFileName(e.Name()); ok && e.Type().IsRegular() {
			files = append(files, DayFile{Name: e.Name(), Path: filepath.Join(dir, e.Name()), Day: t})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Day.Before(files[j].Day) })
	return files, nil
}
