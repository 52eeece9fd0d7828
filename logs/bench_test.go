package logs

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

func benchRecordFull() Record {
	return Record{
		Time:     time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC),
		ID:       "01JNQ4Z7RZ8K3M2V6X9B0C1D2E",
		Action:   ActionConnect,
		Outcome:  OutcomeAllowed,
		Reason:   "allowed-grant",
		Duration: 1234567,
		Observer: "gw-1",
		User:     "jdoe",
		Roles:    []string{"comms"},
		Agency:   "DCF",
		SourceIP: netip.MustParseAddr("10.20.30.40"),
		Domain:   "www.facebook.com",
		DestIP:   netip.MustParseAddr("157.240.22.35"),
		DestPort: 443,
		Country:  "US",
		ASN:      32934,
		SrcBytes: 2345, DestBytes: 123456,
		Platform: "facebook", Account: "fb-dcf", Role: "comms", Mode: "explicit",
	}
}

// BenchmarkEncode measures AppendRecord into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	r := benchRecordFull()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], &r)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeChained adds the chain value, as the writer does per
// record.
func BenchmarkEncodeChained(b *testing.B) {
	r := benchRecordFull()
	c := newChain(nil, genesis)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], &r)
		buf = appendChain(buf, c.next(buf))
	}
}

func BenchmarkDecode(b *testing.B) {
	r := benchRecordFull()
	line := appendChain(AppendRecord(nil, &r), Sum{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRecord(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriter measures sustained records/s through Log with many
// parallel callers and group commit on a real file with fsync, and the
// 99th percentile of the time a caller waits in Log.
func BenchmarkWriter(b *testing.B) {
	root := b.TempDir()
	w, err := Open(Options{Dir: root + "/logs", StateDir: root + "/var", Observer: "gw-1"})
	if err != nil {
		b.Fatal(err)
	}
	tmpl := benchRecordFull()
	var mu sync.Mutex
	var waits []time.Duration
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1<<16)
		for pb.Next() {
			r := tmpl
			t0 := time.Now()
			if err := w.Log(&r); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		waits = append(waits, local...)
		mu.Unlock()
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	if len(waits) > 0 {
		slices.Sort(waits)
		b.ReportMetric(float64(waits[len(waits)*99/100]), "p99-ns")
	}
}

// BenchmarkCommit measures one batch of one record, written and fsynced
// with its checkpoint (Log then Flush): the cost a lightly loaded gateway
// pays per request.
func BenchmarkCommit(b *testing.B) {
	root := b.TempDir()
	w, err := Open(Options{Dir: root + "/logs", StateDir: root + "/var", Observer: "gw-1"})
	if err != nil {
		b.Fatal(err)
	}
	tmpl := benchRecordFull()
	b.ReportAllocs()
	for b.Loop() {
		r := tmpl
		if err := w.Log(&r); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
